"""Training panel: train weights on the fly without freezing the interface.

Training runs in a ``threading.Thread`` (``torch.set_num_threads(1)`` inside it, so the kernel
stays responsive on small machines) and reports after every step through the
:class:`~mtjexplore.Trainer` callback, which also checks a ``threading.Event`` for Stop: Stop
takes effect after the current step. Train is disabled while a run is going and a lock guards
the start, so pressing Train twice starts one run. An exception in the worker is written to the
visible log.

On a shared server the run first waits its turn in the machine-wide training queue
(:class:`~mtjexplore.serve.cpu_queue.CpuQueue`: at most one run per core across every student's
kernel, first come first served); meanwhile the status line says "Waiting for CPU: k ahead" and
carries the CSS class ``training-waiting``. The worker thread runs at a lower CPU priority (nice
+10), so painting and evaluation in every kernel stay ahead of training, and it yields the GIL
after every step. After a run the freed training buffers are handed back to the system
(``malloc_trim``).

CSS classes (stable; browser tests find the parts by them):

* ``training-panel`` -- the whole composite
* ``train-method``, ``train-epochs``, ``train-lr``, ``train-seed``, ``train-fine-tune`` -- settings
* ``train-button``, ``stop-button`` -- Train and Stop
* ``train-progress`` -- the progress bar (``IntProgress``, value = steps done)
* ``training-status`` -- one line: epoch, step, loss, validation error; with the extra class
  ``training-waiting`` while the run waits for a CPU slot
* ``loss-curve``, ``error-curve`` -- the bqplot Figures of the training loss per step and of
  the validation error per epoch (their marks are ``path.line``)
* ``training-log`` -- the log (an ``Output`` widget): finished runs and errors
* ``validation-note`` -- on what the validation error is measured, for the chosen method
"""

from __future__ import annotations

import ctypes
import ctypes.util
import html
import logging
import os
import sys
import threading
import time

import ipywidgets as widgets
import numpy as np
import traitlets
from bqplot import Axis, Figure, LinearScale, Lines

from .. import recipes
from ..config import CrossbarConfig
from ..datasets import ImageData
from ..errors import ParameterError
from ..training import Trainer
from ._util import add_classes, integer_ticks

_LOGGER = logging.getLogger("mtjexplore.widgets")
_MESSAGE_CHARS = 300  # of an error message shown on the page

#: Methods offered: (label, Trainer method).
METHODS = [("software (ideal devices)", "software"),
           ("defect-aware (this die, as painted)", "defect_aware"),
           ("statistics-aware (sampled dies)", "statistics_aware")]
#: What each method trains on and where its validation error is measured (shown under the charts).
METHOD_NOTES = {
    "software": "Software: trains on ideal devices. Validation error: 2,000 test images on ideal "
                "devices.",
    "defect_aware": "Defect-aware: trains through the measured maps of the die shown (with what you "
                    "painted), so the weights fit that die only. Validation error: 2,000 test "
                    "images on that die.",
    "statistics_aware": "Statistics-aware: every step trains through freshly sampled dies drawn "
                        "from the defect statistics of the ensemble, so one set of weights fits "
                        "most dies. Validation error: 2,000 test images, mean over 8 sampled dies.",
}
_RECIPES = {"software": recipes.software_recipe, "defect_aware": recipes.defect_aware_recipe,
            "statistics_aware": recipes.statistics_aware_recipe}
_DRAW_INTERVAL_S = 0.1  # at most ~10 curve updates per second (every step at the end of an epoch)
MAX_CURVE_POINTS = 600  # points of the loss curve sent to the page (a long run is thinned evenly)
TRAINING_NICE = 10  # the worker thread's CPU priority offset (Linux: per thread)
WAITING_CLASS = "training-waiting"
N_VALIDATION = 2000


class TrainingLog(widgets.Output):
    """The panel's visible log (an ``Output`` widget) that also accepts ``logging`` calls.

    ipywidgets reserves a widget's ``log`` attribute for a ``logging.Logger`` and calls
    ``widget.log.error(...)`` in a few places; the panel's ``.log`` is this Output instead, so
    those calls are forwarded to the ``mtjexplore.widgets`` logger.
    """

    def __getattr__(self, name):
        if name in ("debug", "info", "warning", "warn", "error", "exception", "critical"):
            return getattr(logging.getLogger("mtjexplore.widgets"), "warning" if name == "warn" else name)
        raise AttributeError(name)


def _curve(label, y_label, css_class, y_format, marker=None, y_min=None):
    # Explicit tick formats: bqplot 0.13.1 cannot guess one for an empty line (its axis then
    # throws "invalid format: .undefinedg" and the line is never drawn).
    x, y = LinearScale(min=0, max=1, allow_padding=False), LinearScale(min=y_min, allow_padding=y_min is None)
    line = Lines(x=[], y=[], scales={"x": x, "y": y}, colors=["#1f77b4"], marker=marker,
                 stroke_width=1.5)
    # whole-number ticks chosen here (bqplot's own give "0 0 1 1 1" on a short range)
    x_axis = Axis(scale=x, label=label, tick_values=[0, 1], tick_format="d")
    fig = Figure(marks=[line], axes=[x_axis,
                                     Axis(scale=y, side="left", label=y_label, num_ticks=5,
                                          tick_format=y_format)],
                 fig_margin={"top": 16, "bottom": 40, "left": 56, "right": 12}, animation_duration=0,
                 layout=widgets.Layout(width="100%", min_width="300px", max_width="560px", height="230px",
                                       flex="1 1 300px"))
    return add_classes(fig, css_class), line, x_axis


class TrainingPanel(widgets.VBox):
    """Train weights with one of the three methods; live progress, loss and error curves.

    Parameters
    ----------
    config : CrossbarConfig
        Network and device.
    train, test : ImageData
        Training images; test images (``N_VALIDATION`` of them, a seeded draw, are the
        validation set evaluated after every epoch).
    die_getter : callable, optional
        ``die_getter()`` returns the die for defect-aware training (e.g. the painter's die).
    sampler : DefectStatistics or callable, optional
        Dies for statistics-aware training; default :func:`mtjexplore.reference_statistics`.
    weights : xarray.Dataset, optional
        Current weights; defect- and statistics-aware runs fine-tune them when
        ``fine_tune`` is ticked.
    cpu_queue : CpuQueue or False, optional
        The machine-wide training queue runs wait in; default
        :meth:`CpuQueue.from_env() <mtjexplore.serve.cpu_queue.CpuQueue.from_env>` (set up by
        ``mtjexplore app``; None outside it). False: never wait.

    Attributes
    ----------
    weights : xarray.Dataset or None
        The latest trained weights (kept after Stop: the weights reached so far).
    history : xarray.Dataset or None
        ``Trainer.history_`` of the latest run.
    running : bool
        Whether a run is going.

    Examples
    --------
    >>> import mtjexplore as mx
    >>> train, test = mx.load_mnist(n_train=500, n_test=300)
    >>> panel = TrainingPanel(mx.paper_config(), train, test)
    >>> panel.epochs.value = 1
    >>> panel.start()
    True
    >>> panel.wait(60)
    True
    >>> panel.weights.w1.shape, panel.progress.value == panel.progress.max
    ((101, 90), True)
    """

    log = traitlets.Instance(TrainingLog, allow_none=True)  # the visible log, not a Logger

    def __init__(self, config, train, test, *, die_getter=None, sampler=None, weights=None,
                 context_getter=None, cpu_queue=None):
        super().__init__()
        if not isinstance(config, CrossbarConfig):
            raise ParameterError(f"config must be a CrossbarConfig (e.g. paper_config()); got {config!r}")
        for name, data in (("train", train), ("test", test)):
            if not isinstance(data, ImageData):
                raise ParameterError(f"{name} must be an ImageData (from load_mnist); got {type(data).__name__}")
        self.config, self.train, self.test = config, train, test
        self.validation = test.subset(min(N_VALIDATION, len(test)), seed=0)
        self.die_getter, self.sampler, self.context_getter = die_getter, sampler, context_getter
        self.last_context = {}
        self.weights, self.history = weights, None
        self._callbacks, self._lock, self._stop = [], threading.Lock(), threading.Event()
        self._thread, self._run_id = None, 0
        self._active = False  # True from start() until the worker has re-enabled Train
        if cpu_queue is None:
            from ..serve.cpu_queue import CpuQueue

            cpu_queue = CpuQueue.from_env()
        self.cpu_queue = cpu_queue or None
        self._build()
        self._on_method_change({"new": self.method.value})

    # ------------------------------------------------------------------ building
    def _build(self):
        self.method = add_classes(widgets.Dropdown(
            options=METHODS, value="software", description="Method", layout={"width": "330px"},
            tooltip="what the network is trained on (the note under the charts explains it)"),
            "train-method")
        self.epochs = add_classes(widgets.BoundedIntText(
            value=1, min=1, max=500, description="Epochs", layout={"width": "150px"},
            tooltip="passes over the 60,000 training images (about 470 steps each)"), "train-epochs")
        self.lr = add_classes(widgets.BoundedFloatText(
            value=1e-2, min=1e-6, max=1.0, step=1e-3, description="Learning rate",
            style={"description_width": "90px"}, layout={"width": "190px"},
            tooltip="Adam learning rate (cosine decay over the run)"), "train-lr")
        self.seed = add_classes(widgets.IntText(
            value=0, description="Seed", layout={"width": "130px"}, style={"description_width": "40px"},
            tooltip="random seed of the run: the same seed and settings give the same weights"),
            "train-seed")
        self.fine_tune = add_classes(widgets.Checkbox(
            value=False, indent=False, description="start from the current weights",
            layout={"width": "230px"},
            tooltip="fine-tune the weights selected now instead of starting from random ones"),
            "train-fine-tune")
        self.train_button = add_classes(widgets.Button(
            description="Train", icon="play", button_style="primary", layout={"width": "90px"},
            tooltip="start a run in the background; it joins the comparison when it ends"), "train-button")
        self.stop_button = add_classes(widgets.Button(
            description="Stop", icon="stop", disabled=True, layout={"width": "90px"},
            tooltip="stop after the current step and keep the weights reached so far"), "stop-button")
        self.progress = add_classes(widgets.IntProgress(value=0, min=0, max=1, description="Progress",
                                                        tooltip="training steps done"),
                                    "train-progress")
        self.method_note = add_classes(widgets.HTML(), "validation-note")
        self.status = add_classes(widgets.HTML("Ready."), "training-status")
        self.log = add_classes(TrainingLog(layout={"max_height": "160px", "overflow": "auto",
                                                      "border": "1px solid #ddd"}), "training-log")
        self.loss_figure, self.loss_line, _ = _curve("step", "training loss", "loss-curve", ".2f")
        self.error_figure, self.error_line, self._epoch_axis = _curve(
            "epoch", "validation error (%)", "error-curve", ".1f", marker="circle", y_min=0.0)
        self.method.observe(self._on_method_change, "value")
        self.train_button.on_click(self._on_train_click)
        self.stop_button.on_click(self._on_stop_click)
        wrap = {"flex_flow": "row wrap"}
        self.children = [
            widgets.HBox([self.method, self.epochs, self.lr, self.seed], layout=wrap),
            widgets.HBox([self.fine_tune, self.train_button, self.stop_button, self.progress], layout=wrap),
            self.status, widgets.HBox([self.loss_figure, self.error_figure], layout=wrap),
            self.method_note, self.log]
        add_classes(self, "training-panel")

    # ------------------------------------------------------------------ public
    @property
    def running(self):
        """True while a training run is going."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def on_trained(self, callback, remove=False):
        """Call ``callback(weights)`` (in the worker thread) after every finished or stopped run."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def start(self):
        """Start a run with the current settings; returns False (and starts nothing) while one runs
        or when the settings are invalid (the reason goes to the log)."""
        with self._lock:
            # _active, not running: Train is enabled again in the worker's last statements, and
            # a click then must start a run, not find the finishing thread still alive
            if self._active:
                self._set_status("A run is already going; press Stop first.")
                return False
            try:
                job = self._make_job()
            except Exception as exc:  # noqa: BLE001 - shown to the user
                self._report(exc, "Preparing the run")
                return False
            self._stop.clear()
            self._run_id += 1
            self._reset_curves(job)
            self.train_button.disabled, self.stop_button.disabled = True, False
            self._active = True
            self._thread = threading.Thread(target=self._work, args=(job,), daemon=True,
                                            name=f"mtjexplore-training-{self._run_id}")
            self._thread.start()
            return True

    def stop(self):
        """Ask the running run to stop after its current step (no effect when none runs)."""
        self._stop.set()
        if self.running:
            self._set_status("Stopping after this step...")

    def close(self):
        """Ask a running run to stop, then close the widget."""
        self._stop.set()
        super().close()

    def wait(self, timeout=None):
        """Join the worker (for tests and scripts); True when no run is going afterwards."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    # ------------------------------------------------------------------ the run
    def _make_job(self):
        method = self.method.value
        kwargs = {**_RECIPES[method](), "epochs": int(self.epochs.value), "lr": float(self.lr.value),
                  "seed": int(self.seed.value), "method": method}
        if method == "defect_aware":
            if self.die_getter is None:
                raise ParameterError("defect-aware training needs a die: create the panel with "
                                     "die_getter=... (the Explorer passes its painter's die)")
            kwargs["die"] = self.die_getter()
        elif method == "statistics_aware":
            kwargs["sampler"] = self._sampler()
        else:
            kwargs.pop("dies_per_step", None)
        init = self.weights if (self.fine_tune.value and self.weights is not None) else None
        context = dict(self.context_getter()) if self.context_getter is not None else {}
        return {"kwargs": kwargs, "init": init, "run": self._run_id + 1, "context": context}

    def _sampler(self):
        if self.sampler is None:
            from ..reference import reference_statistics

            self.sampler = reference_statistics(self.config)
        return self.sampler

    def _work(self, job):
        import torch

        torch.set_num_threads(1)  # per OS thread (OpenMP): the kernel's own thread keeps its setting
        _lower_thread_priority()
        slot = None
        try:
            slot = self._wait_for_cpu(job)
            if slot is not False:
                self._train(job)
        except Exception as exc:  # noqa: BLE001 - a worker thread has nobody to raise to
            self._report(exc, "Training")
        finally:
            if slot:
                slot.release()
            self.status.remove_class(WAITING_CLASS)
            self._active = False
            self.train_button.disabled, self.stop_button.disabled = False, True
            _return_freed_memory()

    def _train(self, job):
        start = time.perf_counter()
        trainer = Trainer(self.config, **job["kwargs"])
        trainer.fit(self.train, init=job["init"], validation=self.validation, callback=self._on_step)
        self.weights, self.history = trainer.weights_, trainer.history_
        self.last_context = job["context"]
        self._finish(job, time.perf_counter() - start)
        for callback in list(self._callbacks):
            callback(self.weights)

    def _wait_for_cpu(self, job):
        """The queue's slot (None without a queue), or False when Stop was pressed while waiting."""
        if self.cpu_queue is None:
            return None
        slot = self.cpu_queue.acquire(stop=self._stop, on_wait=self._on_queue_wait)
        self.status.remove_class(WAITING_CLASS)
        if slot is None:
            text = f"Run {job['run']} stopped while it waited for the CPU; nothing was trained."
            self._set_status(text)
            self.log.append_stdout(text + "\n")
            return False
        self._set_status(f"Starting run {job['run']} ({job['kwargs']['method']})...")
        return slot

    def _on_queue_wait(self, n_ahead, n_running):
        self.status.add_class(WAITING_CLASS)
        ahead = f"{n_ahead} ahead of you" if n_ahead else "next in line"
        self._set_status(f"Waiting for CPU: {ahead} ({n_running} training runs going on this "
                         "server); it starts by itself. Stop cancels it.")

    def _on_step(self, info):
        self._steps.append(info.step)
        self._losses.append(info.loss)
        if info.val_error is not None:
            self._val.append((info.epoch + 1, 100.0 * info.val_error))
        now = time.monotonic()
        if info.step == info.n_steps or info.val_error is not None or now - self._drawn > _DRAW_INTERVAL_S:
            self._drawn = now
            self._draw(info)
        time.sleep(0)  # hand the GIL to the kernel's event loop between steps
        return self._stop.is_set()

    def _draw(self, info):
        self.progress.max = info.n_steps
        self.progress.value = info.step
        with self.loss_line.hold_sync():
            self.loss_line.x, self.loss_line.y = _thin(self._steps), _thin(self._losses)
        self.loss_line.scales["x"].max = max(float(info.step), 1.0)
        self.loss_figure.axes[0].tick_values = integer_ticks(0, max(info.step, 1))
        if self._val:
            epochs, errors = zip(*self._val)
            with self.error_line.hold_sync():
                self.error_line.x, self.error_line.y = np.array(epochs), np.array(errors)
        last = f", validation error {self._val[-1][1]:.2f} %" if self._val else ""
        self._set_status(f"Training: epoch {info.epoch + 1}, step {info.step}/{info.n_steps}, "
                         f"loss {info.loss:.3f}{last}")

    def _reset_curves(self, job):
        self._steps, self._losses, self._val, self._drawn = [], [], [], 0.0
        self.progress.value, self.progress.max = 0, 1
        epochs = job["kwargs"]["epochs"]
        x_scale = self.error_line.scales["x"]
        x_scale.min, x_scale.max = (0.5, 1.5) if epochs == 1 else (1, epochs)
        self._epoch_axis.tick_values = integer_ticks(1, epochs, 6) if epochs > 1 else [1]
        with self.loss_line.hold_sync():
            self.loss_line.x, self.loss_line.y = np.zeros(0), np.zeros(0)
        with self.error_line.hold_sync():
            self.error_line.x, self.error_line.y = np.zeros(0), np.zeros(0)
        where = job["context"].get("die")
        where = f" on {where}" if where and job["kwargs"]["method"] == "defect_aware" else ""
        self._set_status(f"Starting run {job['run']} ({job['kwargs']['method']}{where})...")

    def _finish(self, job, seconds):
        history = self.history
        stopped = bool(history.attrs.get("stopped_early", 0))
        val = history.val_error.values
        last = f"{100 * val[-1]:.2f} %" if val.size and np.isfinite(val[-1]) else "n/a"
        text = (f"Run {job['run']} ({job['kwargs']['method']}): {'stopped' if stopped else 'finished'} "
                f"after {history.sizes['step']} steps in {seconds:.1f} s; validation error {last}.")
        self._set_status(text)
        self.log.append_stdout(text + "\n")

    # ------------------------------------------------------------------ handlers and messages
    def _on_train_click(self, _button):
        self.start()

    def _on_stop_click(self, _button):
        self.stop()

    def _on_method_change(self, change):
        recipe = _RECIPES[change["new"]]()
        self.epochs.value, self.lr.value = int(recipe["epochs"]), float(recipe["lr"])
        self.fine_tune.value = change["new"] != "software" and self.weights is not None
        self.method_note.value = f"<i>{html.escape(METHOD_NOTES[change['new']])}</i>"

    def _set_status(self, text):
        self.status.value = html.escape(text)

    def _report(self, exc, where):
        """Show a one-line message; the traceback goes to the server log, not the page."""
        line = f"{where} failed: {_one_line(exc)}"
        _LOGGER.error("%s", line, exc_info=(type(exc), exc, exc.__traceback__))
        self.status.value = f"<span class='widget-error' style='color:#b00020'>{html.escape(line)}</span>"
        self.log.append_stderr(line + "\n")


def _thin(values):
    """``values`` as an array of at most ~``MAX_CURVE_POINTS`` evenly spaced points, the last kept.

    Every redraw sends the whole curve to the page; a 20-epoch run has ~9,400 steps, and sending
    them all ten times a second loaded the server and the browser of every student training.
    """
    arr = np.asarray(values)
    stride = -(-len(arr) // MAX_CURVE_POINTS)  # ceil
    if stride <= 1:
        return arr
    return np.append(arr[::stride], arr[-1]) if (len(arr) - 1) % stride else arr[::stride]


def _lower_thread_priority():
    """Lower the calling thread's CPU priority (Linux applies ``setpriority`` per thread)."""
    if not sys.platform.startswith("linux"):  # elsewhere a thread id is not a process id
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + TRAINING_NICE, 19))
    except (AttributeError, OSError):  # not Linux, or not allowed: train at the normal priority
        pass


def _return_freed_memory():
    """Hand freed heap pages (the run's batches and buffers) back to the system (glibc only)."""
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def _one_line(exc):
    """``"<Type>: <first line of the message>"``, shortened; no traceback, no source paths."""
    first = (str(exc).strip().splitlines() or [""])[0]
    if len(first) > _MESSAGE_CHARS:
        first = first[:_MESSAGE_CHARS - 3] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
