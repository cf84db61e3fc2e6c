"""Explorer: the crossbar painter, the training panel and the ensemble view working together.

* Choosing a die (dropdown, or clicking it in the ensemble view) loads it into the painter; a
  preset (one click) loads a scenario instead: a clean die, one short in the output or the
  hidden layer, the worst reference die, 1 % shorts, clustered defects. The read-path control
  rebuilds the ensemble for another series resistance (how hard a short pulls).
* Every change of the painted die re-evaluates the current weights on it at once (the full test
  set, through :class:`mtjexplore.fast_eval.DieEvaluator`) and shows the error, its change
  against the die as loaded from the ensemble (with sign; a preset counts as a change), the error history, which test digits flipped, and one
  hidden neuron's weights with its defective devices.
* Weights: the shipped ones are read-only and pinned (:class:`~mtjexplore.widgets.runs.RunBook`);
  every finished run gets its own name ("defect-aware, die 7, painted (3 shorts), run 1"), is
  evaluated on the whole ensemble and can be removed. The dashed baseline (shipped software
  weights on ideal devices) never moves. **Reset** returns to the state as loaded.
* The state (die, preset and its seed, painted cells, method, read path, panels, hidden
  controls) is a link (:mod:`mtjexplore.widgets.state`); :meth:`Explorer.restore` opens one.

CSS classes (stable; browser tests find the parts by them), besides those of the parts:

* ``mtj-explorer`` -- the whole composite
* ``die-select`` -- the die dropdown; ``weights-select`` -- which weights are current;
  ``remove-run`` -- removes the selected run; ``reset-button`` -- Reset
* ``preset-<name>`` -- one button per preset (e.g. ``preset-output_short``);
  ``read-path`` -- the read-path resistance dropdown; ``read-path-note`` -- its effect
* ``current-error`` -- the current weights' test error on the current (painted) die
  (the number in ``error-value``)
* ``scenario-note`` -- what the last preset did
* ``neuron-view``, ``neuron-select``, ``neuron-info`` -- see :mod:`.neuron_view`
* ``explorer-side`` -- the panel of impact and neuron beside the painter (below it on narrow
  pages: neither the panel nor the 900 px crossbar ever shrinks)
* the impact panel's classes (:mod:`.impact`) and the link's (:mod:`.app_parts`)
"""

from __future__ import annotations

import concurrent.futures
import html
import numbers
import threading

import ipywidgets as widgets
import numpy as np
import xarray as xr

from ..datasets import ImageData
from ..die import as_ensemble, config_of, defect_counts
from ..errors import ParameterError
from ..evaluation import evaluate
from ..fast_eval import DieEvaluator
from ..statistics import DefectStatistics
from ._util import add_classes, error_html, guarded
from .app_parts import LinkBox, StatefulApp, guide_html
from .ensemble_view import EnsembleView
from .impact import PaintImpact
from .neuron_view import NeuronView
from .painter import CrossbarPainter
from .presets import PRESETS, READ_PATH_CHOICES_OHM, config_with_read_path, preset_die, read_path_note
from .runs import RunBook
from .state import AppState
from .training_panel import METHODS, TrainingPanel

EVAL_THREADS = 1  # torch threads of the evaluation thread (see Explorer._evaluate_current)
GUIDE = [
    "Click <b>1 short, output layer</b>: one device of 20,000. Watch &Delta; error above the "
    "crossbar and the flipped digits next to (or below) it.",
    "Click <b>1 short, hidden layer</b>: the same defect one layer earlier does far less.",
    "Set <b>Read path</b> to 300 &Omega;, then 4.5 k&Omega;: the lower the read path, the harder a "
    "short pulls.",
    "Load the <b>worst reference die</b>, choose <b>defect-aware</b> below and press <b>Train</b>: "
    "the run is named after the die and joins the ensemble chart.",
    "Train <b>statistics-aware</b> and compare both runs across all 36 dies at the bottom. "
    "<b>Reset</b> starts again; <b>copy link</b> shares what you see.",
]


def _set_torch_threads(n):
    import torch

    torch.set_num_threads(n)


def _die_id(value, ids):
    """``value`` as one of the ensemble's die ``ids`` (a ParameterError naming them otherwise)."""
    ids = [int(i) for i in ids]
    if len(ids) > 6 and ids == list(range(ids[0], ids[0] + len(ids))):
        allowed = f"{ids[0]}..{ids[-1]}"
    else:
        allowed = ", ".join(map(str, ids[:6])) + (", ..." if len(ids) > 6 else "")
    number = value if isinstance(value, (numbers.Real, np.number)) else None
    if (number is None or isinstance(value, (bool, np.bool_)) or not np.isfinite(number)
            or number != int(number) or int(number) not in ids):
        raise ParameterError(f"load_die: die must be one of this ensemble's {len(ids)} die ids "
                             f"({allowed}); got {value!r:.80}")
    return int(number)


def _as_weight_dict(weights):
    if weights is None:
        return {}
    if isinstance(weights, xr.Dataset):
        return {str(weights.attrs.get("method") or "weights"): weights}
    if isinstance(weights, dict) and all(isinstance(w, xr.Dataset) for w in weights.values()):
        return {str(k): w for k, w in weights.items()}
    raise ParameterError("weights must be a weights Dataset (Trainer.weights_), a dict "
                         f"{{name: Dataset}} or None; got {type(weights).__name__}")


class Explorer(StatefulApp, widgets.VBox):
    """Paint defects, train on the fly and compare methods across a die ensemble.

    Parameters
    ----------
    ensemble : xarray.Dataset
        Dies with a ``die`` dimension (e.g. :func:`mtjexplore.reference_ensemble`).
    train, test : ImageData
        Training and test images (the error shown is on all of ``test``).
    weights : xarray.Dataset or dict of str to xarray.Dataset, optional
        Shipped weights (read-only, pinned); a dict names several (``{"software": w_sw, ...}``),
        the first is current. Each is evaluated on the ensemble for the ensemble view; the
        ``"software"`` ones on ideal devices give the pinned baseline.
    sampler : DefectStatistics or callable, optional
        Dies for statistics-aware training; default ``DefectStatistics.fit(ensemble)``.
    ensemble_factory : callable, optional
        ``ensemble_factory(config)`` returns the ensemble for another read-path resistance
        (e.g. ``lambda c: mx.reference_ensemble(config=c)``); without it the read-path control
        is hidden.

    Attributes
    ----------
    painter : CrossbarPainter
    training : TrainingPanel
    ensemble_view : EnsembleView
    impact : PaintImpact
    neuron : NeuronView
    runs : RunBook
        Shipped weights and runs, by name.
    error_label : ipywidgets.HTML
        The current weights' error on the current die (CSS class ``current-error``).
    current_error : float or None
        That error as a fraction.
    baseline : float or None
        Shipped software weights on ideal devices (fraction); pinned.
    """

    PANELS = {"guide": "guide", "painter": "main", "training": "training_section",
              "ensemble": "ensemble_section"}
    CONTROLS = {"die": "die_select", "weights": "weights_box", "presets": "presets_box",
                "read_path": "read_path_box", "palette": "palette_box", "randomize": "randomize_box",
                "train": "train_box", "reset": "reset_button", "link": "link_box"}

    def __init__(self, ensemble, train, test, *, weights=None, sampler=None, ensemble_factory=None):
        super().__init__()
        self.ensemble = as_ensemble(ensemble)
        if not isinstance(test, ImageData) or not isinstance(train, ImageData):
            raise ParameterError("train and test must be ImageData (from load_mnist)")
        self.config, self.train, self.test = config_of(self.ensemble), train, test
        self.runs = RunBook(_as_weight_dict(weights))
        self.sampler = DefectStatistics.fit(self.ensemble) if sampler is None else sampler
        self._factory, self._initial = ensemble_factory, (self.ensemble, self.config, self.sampler)
        self.current_error, self._evaluator, self._results = None, None, None
        self._preset, self._preset_seed, self._panels, self._hidden = None, None, None, ()
        self._loaded_ref, self._reference_die = None, self.ensemble.isel(die=0)
        self._eval_lock = threading.Lock()
        self._eval_pool = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="mtjexplore-eval", initializer=_set_torch_threads, initargs=(EVAL_THREADS,))
        self.baseline = self._pinned_baseline()
        self._build()
        self._wire()
        self._evaluate_all_on_ensemble()
        if self._results is not None:
            self.ensemble_view.select(int(self.die_select.value))  # the caption names the die shown
        self._use_weights(next(iter(self.runs.names), None))
        self.update_link()

    # ------------------------------------------------------------------ building
    def _build(self):
        ids = [int(d) for d in self.ensemble.die.values]
        self.die_select = add_classes(widgets.Dropdown(
            options=self._die_options(), value=ids[0], description="Die", layout={"width": "230px"},
            style={"description_width": "30px"},
            tooltip="a die of the reference ensemble (its defect count in brackets)"), "die-select")
        self.weights_select = add_classes(widgets.Dropdown(
            options=self._weights_options(), description="Weights", layout={"width": "340px"},
            style={"description_width": "55px"},
            tooltip="the weights evaluated on the die: shipped (read-only) or one of your runs"),
            "weights-select")
        self.remove_button = add_classes(widgets.Button(
            description="Remove run", icon="trash", layout={"width": "110px"}, disabled=True,
            tooltip="remove the selected run (shipped weights stay)"), "remove-run")
        self.reset_button = add_classes(widgets.Button(
            description="Reset", icon="refresh", layout={"width": "90px"}, button_style="warning",
            tooltip="back to the app as loaded: die 0, no paint, shipped weights only"), "reset-button")
        self.link_box = LinkBox()
        self.weights_box = widgets.HBox([self.weights_select, self.remove_button])
        self.error_label = add_classes(widgets.HTML("No weights yet: train some below."), "current-error")
        self.painter = CrossbarPainter(self._reference_die)
        self.training = TrainingPanel(self.config, self.train, self.test,
                                      die_getter=lambda: self.painter.die, sampler=self.sampler,
                                      weights=self.runs.get(next(iter(self.runs.names), None)),
                                      context_getter=self._run_context)
        self.ensemble_view = EnsembleView(None, baseline=self.baseline)
        self.impact = PaintImpact(self.test)
        self.neuron = NeuronView(self.config)
        self.message = widgets.HTML()
        self._build_scenarios()
        self._layout()

    def _build_scenarios(self):
        self.preset_buttons = {}
        for name, (label, note) in PRESETS.items():
            button = add_classes(widgets.Button(description=label, tooltip=note,
                                                layout={"width": "auto"}), f"preset-{name}")
            button.on_click(lambda _b, name=name: self._on_preset(name))
            self.preset_buttons[name] = button
        self.presets_box = widgets.HBox([widgets.HTML("<b>Presets</b>:&nbsp;"), *self.preset_buttons.values()],
                                        layout={"flex_flow": "row wrap", "align_items": "center"})
        r_now = float(self.config.device.r_series_ohm)
        choices = sorted(set(READ_PATH_CHOICES_OHM) | {r_now})
        self.read_path = add_classes(widgets.Dropdown(
            options=[(f"{r:,.0f} Ω", r) for r in choices], value=r_now, description="Read path",
            layout={"width": "190px"}, style={"description_width": "70px"},
            tooltip="series resistance of each device's read path (access transistor + lines), ohm: "
                    "the smaller it is, the harder a short pulls"), "read-path")
        self.read_path_note = add_classes(widgets.HTML(read_path_note(self.config)), "read-path-note")
        self.read_path_box = widgets.HBox([self.read_path, self.read_path_note],
                                          layout={"align_items": "center"})
        self.read_path_box.layout.display = None if self._factory is not None else "none"
        self.scenario_note = add_classes(widgets.HTML(), "scenario-note")

    def _layout(self):
        self.guide = widgets.HTML(guide_html(GUIDE), layout={"flex": "1 1 420px", "max_width": "640px"})
        header = widgets.HBox([self.die_select, self.weights_box, self.reset_button, self.link_box],
                              layout={"align_items": "center", "flex_flow": "row wrap"})
        controls = widgets.VBox([header, self.presets_box, self.read_path_box, self.scenario_note],
                                layout={"flex": "1 1 640px", "max_width": "900px"})
        top = widgets.HBox([controls, self.guide], layout={"flex_flow": "row wrap"})
        status = widgets.VBox([self.error_label, self.impact.delta_label])
        self.palette_box, self.randomize_box = self.painter._toolbar, self.painter._rates_box
        self.train_box = self.training.train_button
        side = add_classes(widgets.VBox([self.impact, self.neuron],
                                        layout={"width": "480px", "flex": "0 0 auto"}), "explorer-side")
        self.painter.layout.flex = "0 0 auto"
        self.main = widgets.HBox([self.painter, side], layout={"flex_flow": "row wrap"})
        self.training_section = widgets.VBox([widgets.HTML("<h4>Train</h4>"), self.training])
        self.ensemble_section = widgets.VBox([widgets.HTML("<h4>Across the ensemble</h4>"),
                                              self.ensemble_view])
        self.children = [top, status, self.main, self.message, self.training_section,
                         self.ensemble_section]
        add_classes(self, "mtj-explorer")

    def _die_options(self):
        counts = defect_counts(self.ensemble).sum("kind").values
        return [(f"die {int(d)} ({int(n)} defects)", int(d)) for d, n in zip(self.ensemble.die.values, counts)]

    def _weights_options(self):
        names = self.runs.names
        if not names:
            return [("none", None)]
        return [(f"{n} (shipped, read-only)" if self.runs.is_shipped(n) else n, n) for n in names]

    def _wire(self):
        self.die_select.observe(self._on_die_select, "value")
        self.weights_select.observe(self._on_weights_select, "value")
        self.neuron.select.observe(self._on_neuron_select, "value")
        self.read_path.observe(self._on_read_path, "value")
        self.training.method.observe(self.update_link, "value")
        self.remove_button.on_click(self._on_remove_click)
        self.reset_button.on_click(self._on_reset_click)
        self.painter.on_change(self._on_die_change)
        self.training.on_trained(self._on_trained)
        self.ensemble_view.on_select(self._on_ensemble_select)

    # ------------------------------------------------------------------ public
    @property
    def weights(self):
        """All weights known, by name (shipped first, then runs): a new dict each time."""
        return {name: self.runs[name] for name in self.runs.names}

    @property
    def current_weights(self):
        """The weights evaluated on the painted die (None before any are trained or given)."""
        return self.runs.get(self.weights_select.value)

    @property
    def neuron_select(self):
        return self.neuron.select

    @property
    def neuron_info(self):
        return self.neuron.info

    def close(self):
        """Stop a running training, end the evaluation thread, and close the widgets."""
        self.training.stop()
        self._eval_pool.shutdown(wait=False)
        for child in (self.painter, self.training, self.ensemble_view):
            child.close()
        super().close()

    def load_die(self, die_id):
        """Load die ``die_id`` of the ensemble into the painter (what the dropdown does).

        Raises
        ------
        ParameterError
            ``die_id`` is not one of the ensemble's die ids (an integer; ``2.0`` is fine).
        """
        die_id = _die_id(die_id, self.ensemble.die.values)
        if self.die_select.value == die_id:
            self._load_from_ensemble(die_id)
        else:
            self.die_select.value = die_id

    def apply_preset(self, name, seed=None):
        """Load preset ``name`` (:data:`~mtjexplore.widgets.presets.PRESETS`) on the current die.

        ``seed`` (default: the painter's seed box) draws the random presets.
        """
        seed = int(self.painter.seed.value if seed is None else seed)
        errors = self._first_errors()
        die, note = preset_die(name, self.ensemble.sel(die=self.die_select.value), self.ensemble,
                               seed=seed, errors=errors)
        if name == "worst":
            self.load_die(int(die.die))
        else:
            self.painter.load(die, f"Preset: {PRESETS[name][0]}.")
            self._preset, self._preset_seed = name, seed if name in ("shorts_1pct", "clustered") else None
            self.update_link()
        self.scenario_note.value = f"<i>{html.escape(note)}</i>"

    def set_read_path(self, r_series_ohm):
        """Rebuild the ensemble for another read-path resistance (ohm), keeping die and paint."""
        if self._factory is None:
            raise ParameterError("this explorer has no ensemble_factory: the read path cannot change")
        config = config_with_read_path(self.config, r_series_ohm)
        self._set_ensemble(as_ensemble(self._factory(config)), config, None)

    def remove_run(self, name):
        """Remove a run (shipped weights cannot be removed) from every view."""
        self.runs.remove(name)
        if self._results is not None and name in self._results.method.values:
            self._results = self._results.drop_sel(method=name)
        self._refresh_results()
        self._sync_weight_options(next(iter(self.runs.names), None))

    def reset(self):
        """Return to the state as loaded: first die, no preset or paint, shipped weights only,
        the read path as loaded, every panel and control visible, default training settings."""
        self.training.stop()
        self.training.wait(30)
        self.runs.reset()
        ensemble, config, sampler = self._initial
        if ensemble is not self.ensemble:
            self._set_ensemble(ensemble, config, sampler, reload=False)
        else:
            self._keep_run_results()
        self._preset, self._preset_seed = None, None
        self.painter.seed.value = 0
        self.training.method.value, self.training.seed.value = "software", 0
        self.scenario_note.value, self.message.value = "", ""
        self._apply_visibility(AppState())
        self.link_box.show_notes([])
        self._sync_weight_options(next(iter(self.runs.names), None))
        self.load_die(int(self.ensemble.die.values[0]))

    def refresh(self):
        """Re-evaluate the current weights on the painted die: error, Δ, digits, neuron, link."""
        evaluator, die = self._evaluator, self.painter.die
        rebased = self._loaded_ref is not self._reference_die
        if rebased:
            self._rebase()
        if evaluator is None:
            self.current_error = None
            self.error_label.value = "No weights yet: train some below."
        else:
            error, predictions = self._evaluate_current(evaluator, die)
            self.current_error = error
            self.error_label.value = (f"Test error of <b>{html.escape(str(self.weights_select.value))}</b> "
                                      f"weights on this die (10,000 test images): "
                                      f"<b class='error-value'>{100 * error:.2f} %</b>")
            if not rebased or die is not self._reference_die:
                self.impact.show(error, predictions)  # after new weights too, if the die is painted
        self.neuron.update(self.current_weights, die)
        self.update_link()

    def current_state(self):
        """The app's state as an :class:`~mtjexplore.widgets.state.AppState` (what the link holds)."""
        r_now, r_first = float(self.read_path.value), float(self._initial[1].device.r_series_ohm)
        method = self.training.method.value
        return AppState(die=int(self.die_select.value), preset=self._preset, seed=self._preset_seed,
                        cells=tuple(self.painter.painted_cells()),
                        method=None if method == "software" else method,
                        r_series_ohm=None if r_now == r_first else r_now,
                        panels=self._panels, hidden=self._hidden)

    # ------------------------------------------------------------------ state
    def _limits(self):
        return self._limits_base(die_ids=tuple(int(d) for d in self.ensemble.die.values),
                                 shape=self.config.floorplan.shape, presets=tuple(PRESETS),
                                 methods=tuple(m for _, m in METHODS))

    def _apply(self, state):
        if state.r_series_ohm is not None and float(state.r_series_ohm) != float(self.read_path.value):
            self.set_read_path(state.r_series_ohm)
        if state.die is not None:
            self.load_die(state.die)
        if state.preset is not None:
            self.apply_preset(state.preset, seed=state.seed or 0)
        for kind in {k for k, _, _ in state.cells}:
            rows, cols = zip(*[(r, c) for k, r, c in state.cells if k == kind])
            self.painter.paint(list(rows), list(cols), kind)
        if state.method is not None:
            self.training.method.value = state.method

    def _run_context(self):
        return {"die": self.painter._die_name(), "painted": self.painter.painted_counts()}

    # ------------------------------------------------------------------ evaluation
    def _pinned_baseline(self):
        name = "software" if "software" in self.runs.shipped else next(iter(self.runs.shipped), None)
        return None if name is None else DieEvaluator(self.runs[name], self.test).evaluate(None)[0]

    def _evaluate_current(self, evaluator, die):
        """Error and all test predictions on ``die``, computed in the explorer's evaluation thread.

        One die x 10,000 images is small work: on a busy 2-core machine two torch threads took a
        median of ~80 ms (waiting for the other core) where one thread took ~5 ms. torch's thread
        count is per OS thread, so a dedicated one-thread worker gets the fast path without
        changing the kernel's own setting; the caller waits for the result.
        """
        def work():
            with self._eval_lock:
                error, _, predictions = evaluator.evaluate_and_predict(die)
                return error, predictions

        return self._eval_pool.submit(work).result()

    def _rebase(self):
        """The die loaded from the ensemble (or the weights) changed: the reference for Δ."""
        self._loaded_ref = loaded = self._reference_die
        label = f"die {int(self.die_select.value)} as loaded"
        if self._evaluator is None:
            self.impact.rebase(None, None, label)
            return
        error, predictions = self._evaluate_current(self._evaluator, loaded)
        self.impact.rebase(error, predictions, label)

    def _use_weights(self, name):
        weights = self.runs.get(name)
        self._evaluator = None if weights is None else DieEvaluator(weights, self.test)
        if weights is not None:
            self.training.weights = weights
        self.remove_button.disabled = name is None or self.runs.is_shipped(name)
        self._loaded_ref = None  # rebase: Δ is against the die as loaded, with these weights
        self.refresh()

    def _first_errors(self):
        if self._results is None or not self.runs.shipped:
            return None
        return self._results.error.sel({"method": self.runs.shipped[0]}).values

    def _evaluate_on_ensemble(self, name):
        result = evaluate(self.runs[name], self.ensemble, self.test).expand_dims(method=[name])
        if self._results is not None and name in self._results.method.values:
            self._results = self._results.drop_sel(method=name)
        self._results = result if self._results is None else xr.concat([self._results, result], dim="method")

    def _evaluate_all_on_ensemble(self):
        self._results = None
        for name in self.runs.names:
            self._evaluate_on_ensemble(name)
        self._refresh_results()

    def _keep_run_results(self):
        if self._results is not None:
            keep = [m for m in self._results.method.values if m in self.runs]
            self._results = self._results.sel({"method": keep}) if keep else None
        self._refresh_results()

    def _refresh_results(self):
        self.ensemble_view.baseline = self.baseline  # pinned: shipped software on ideal devices
        self.ensemble_view.results = self._results

    def _set_ensemble(self, ensemble, config, sampler, reload=True):
        """Swap in the ensemble of another read path; re-evaluate every weights on it."""
        cells = self.painter.painted_cells()
        self.ensemble, self.config = ensemble, config
        self.sampler = DefectStatistics.fit(ensemble) if sampler is None else sampler
        self.training.config, self.training.sampler = config, self.sampler
        with self.read_path.hold_trait_notifications():
            self.read_path.unobserve(self._on_read_path, "value")
            self.read_path.value = float(config.device.r_series_ohm)
            self.read_path.observe(self._on_read_path, "value")
        self.read_path_note.value = html.escape(read_path_note(config))
        self._evaluate_all_on_ensemble()
        if reload:
            preset, seed = self._preset, self._preset_seed
            self._load_from_ensemble(int(self.die_select.value))
            if preset is not None:
                self.apply_preset(preset, seed=seed or 0)
            for kind, row, col in cells:
                self.painter.paint(row, col, kind)

    def _load_from_ensemble(self, die_id):
        self._preset, self._preset_seed = None, None
        self._reference_die = self.ensemble.sel(die=die_id)
        self.painter.die = self._reference_die
        if die_id in self.ensemble_view.die_ids and self.ensemble_view.selected_die != die_id:
            self.ensemble_view.select(die_id)

    def _sync_weight_options(self, value):
        options = self._weights_options()
        if list(self.weights_select.options) != options:
            self.weights_select.options = options
        if self.weights_select.value == value:
            self._use_weights(value)
        else:
            self.weights_select.value = value

    # ------------------------------------------------------------------ handlers
    def _show_error(self, exc, where):
        self.message.value = error_html(exc, where)

    @guarded("updating the error")
    def _on_die_change(self, _die):
        last = self.painter.last_painted
        if last is not None:
            where = self.config.floorplan.locate(*last)
            self.painter.last_painted = None
            if where is not None and where[0] == 0 and where[2] != self.neuron.select.value:
                self.neuron.select.value = where[2]  # redraws the neuron through its observer
        self.refresh()

    @guarded("loading the die")
    def _on_die_select(self, change):
        self.scenario_note.value = ""
        self._load_from_ensemble(change["new"])

    @guarded("selecting the die")
    def _on_ensemble_select(self, die_id):
        if self.die_select.value != die_id:
            self.die_select.value = die_id

    @guarded("switching weights")
    def _on_weights_select(self, change):
        self._use_weights(change["new"])

    @guarded("drawing the neuron")
    def _on_neuron_select(self, _change):
        self.neuron.update(self.current_weights, self.painter.die)

    @guarded("applying the preset")
    def _on_preset(self, name):
        self.apply_preset(name)

    @guarded("changing the read path")
    def _on_read_path(self, change):
        self.message.value = "<i>Rebuilding the 36 dies for the new read path and re-evaluating...</i>"
        self.set_read_path(change["new"])
        self.message.value = ""

    @guarded("removing the run")
    def _on_remove_click(self, _button):
        self.remove_run(self.weights_select.value)

    @guarded("Reset")
    def _on_reset_click(self, _button):
        self.reset()

    @guarded("evaluating the trained weights")
    def _on_trained(self, weights):
        context = self.training.last_context
        aware = weights.attrs.get("method") == "defect_aware"
        name = self.runs.add(weights, die=context.get("die") if aware else None,
                             painted=context.get("painted") if aware else None)
        self._evaluate_on_ensemble(name)
        self._refresh_results()
        self._sync_weight_options(name)
