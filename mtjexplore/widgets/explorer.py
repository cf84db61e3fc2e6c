"""Explorer: the crossbar painter, the training panel and the ensemble view working together.

* Choosing a die (dropdown, or clicking it in the ensemble view) loads it into the painter.
* Every change of the painted die re-evaluates the current weights on it at once (the full test
  set, through :class:`mtjexplore.fast_eval.DieEvaluator`) and shows the error, a few test
  digits with their predictions, and one hidden neuron's weights with its defective devices.
* A finished training run becomes the current weights and is evaluated on the whole ensemble
  (one row of the ensemble view per method).

CSS classes (stable; browser tests find the parts by them), besides those of the three parts:

* ``mtj-explorer`` -- the whole composite
* ``die-select`` -- the die dropdown; ``weights-select`` -- which weights are current
* ``current-error`` -- the current weights' test error on the current (painted) die
* ``test-digits`` -- the test digits with predictions (each ``digit-correct`` or ``digit-wrong``)
* ``neuron-view`` -- the hidden neuron's weight image; ``neuron-select`` -- its slider;
  ``neuron-info`` -- its caption
* ``explorer-side`` -- the panel of digits and neuron beside the painter (below it on pages
  narrower than about 1,420 px: neither the panel nor the 900 px crossbar ever shrinks)
"""

from __future__ import annotations

import concurrent.futures
import html
import math
import numbers
import threading

import ipywidgets as widgets
import numpy as np
import xarray as xr
from bqplot import Axis, ColorScale, Figure, HeatMap, LinearScale, Scatter

from ..datasets import ImageData
from ..die import DEFECT_KINDS, as_ensemble, config_of, defect_counts
from ..errors import ParameterError
from ..evaluation import evaluate
from ..fast_eval import DieEvaluator
from ..statistics import DefectStatistics
from ._util import KIND_COLORS, KIND_LABELS, add_classes, digit_png, error_html, guarded
from .ensemble_view import EnsembleView
from .painter import CrossbarPainter
from .training_panel import TrainingPanel

N_DIGITS = 8
EVAL_THREADS = 1  # torch threads of the evaluation thread (see Explorer._evaluate_current)
_SEVERITY = ("short", "open", "stuck_ap", "stuck_p")  # which kind a neuron marker shows first


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


class Explorer(widgets.VBox):
    """Paint defects, train on the fly and compare methods across a die ensemble.

    Parameters
    ----------
    ensemble : xarray.Dataset
        Dies with a ``die`` dimension (e.g. :func:`mtjexplore.reference_ensemble`).
    train, test : ImageData
        Training and test images (the error shown is on all of ``test``).
    weights : xarray.Dataset or dict of str to xarray.Dataset, optional
        Trained weights to start with; a dict names several (``{"software": w_sw, ...}``), the
        first is current. Each is evaluated on the ensemble for the ensemble view.
    sampler : DefectStatistics or callable, optional
        Dies for statistics-aware training; default ``DefectStatistics.fit(ensemble)``.

    Attributes
    ----------
    painter : CrossbarPainter
    training : TrainingPanel
    ensemble_view : EnsembleView
    error_label : ipywidgets.HTML
        The current weights' error on the current die (CSS class ``current-error``).
    current_error : float or None
        That error as a fraction.
    weights : dict of str to xarray.Dataset
        All weights known, by name; ``current_weights`` is the selected one.
    """

    def __init__(self, ensemble, train, test, *, weights=None, sampler=None):
        super().__init__()
        self.ensemble = as_ensemble(ensemble)
        if not isinstance(test, ImageData) or not isinstance(train, ImageData):
            raise ParameterError("train and test must be ImageData (from load_mnist)")
        self.config, self.train, self.test = config_of(self.ensemble), train, test
        self.weights = _as_weight_dict(weights)
        self.sampler = DefectStatistics.fit(self.ensemble) if sampler is None else sampler
        self.current_error, self._evaluator, self._results = None, None, None
        self._eval_lock = threading.Lock()
        self._eval_pool = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="mtjexplore-eval", initializer=_set_torch_threads, initargs=(EVAL_THREADS,))
        self._digit_index = np.arange(min(N_DIGITS, len(test)))
        first = next(iter(self.weights.values()), None)
        self._build(first)
        self._wire()
        for name in self.weights:
            self._evaluate_on_ensemble(name)
        self._refresh_results()
        self._use_weights(next(iter(self.weights), None))

    # ------------------------------------------------------------------ building
    def _build(self, first_weights):
        ids = [int(d) for d in self.ensemble.die.values]
        counts = defect_counts(self.ensemble).sum("kind").values
        self.die_select = add_classes(widgets.Dropdown(
            options=[(f"die {d} ({int(n)} defects)", d) for d, n in zip(ids, counts)], value=ids[0],
            description="Die"), "die-select")
        self.weights_select = add_classes(widgets.Dropdown(options=list(self.weights) or [("none", None)],
                                                           description="Weights"), "weights-select")
        self.error_label = add_classes(widgets.HTML("No weights yet: train some below."), "current-error")
        self.painter = CrossbarPainter(self.ensemble.isel(die=0))
        self.training = TrainingPanel(self.config, self.train, self.test,
                                      die_getter=lambda: self.painter.die, sampler=self.sampler,
                                      weights=first_weights)
        self.ensemble_view = EnsembleView(None)
        self._build_digits()
        self._build_neuron_view()
        self.message = widgets.HTML()
        header = widgets.HBox([self.die_select, self.weights_select, self.error_label],
                              layout={"align_items": "center"})
        side = add_classes(widgets.VBox([
            widgets.HTML("<b>Test digits</b>: prediction on this die (&#10007;n: wrong, true label n)"),
            self.digits, widgets.HTML("<b>One hidden neuron</b> (its 10x10 input weights)"),
            self.neuron_select, self.neuron_figure, self.neuron_info],
            layout={"width": "500px", "flex": "0 0 auto"}), "explorer-side")
        # Neither part may shrink (the 900 px crossbar would be clipped or covered): the side
        # panel sits beside the painter when the page is wide enough and wraps below it otherwise.
        self.painter.layout.flex = "0 0 auto"
        main = widgets.HBox([self.painter, side], layout={"flex_flow": "row wrap"})
        self.children = [header, main, self.message,
                         widgets.HTML("<h4>Train</h4>"), self.training,
                         widgets.HTML("<h4>Across the ensemble</h4>"), self.ensemble_view]
        add_classes(self, "mtj-explorer")

    def _build_digits(self):
        self._digit_images, self._digit_captions, boxes = [], [], []
        for k in self._digit_index:
            image = widgets.Image(value=digit_png(self.test.images[k]), format="png",
                                  layout={"width": "48px", "height": "48px"})
            caption = widgets.HTML()
            self._digit_images.append(image)
            self._digit_captions.append(caption)
            boxes.append(widgets.VBox([image, caption], layout={"align_items": "center",
                                                                "width": "58px", "margin": "0 2px"}))
        self.digits = add_classes(widgets.HBox(boxes, layout={"flex_flow": "row wrap"}), "test-digits")

    def _build_neuron_view(self):
        n_inputs = self.config.n_inputs
        side = math.isqrt(n_inputs)
        self._image_shape = (side, side) if side * side == n_inputs else (1, n_inputs)
        x, y = LinearScale(), LinearScale(reverse=True)
        self._neuron_map = HeatMap(x=np.arange(self._image_shape[1]), y=np.arange(self._image_shape[0]),
                                   color=np.zeros(self._image_shape),
                                   scales={"x": x, "y": y, "color": ColorScale(
                                       min=-1, max=1, colors=["#3b6fb6", "#f7f7f7", "#c0392b"])})
        self._neuron_marks = Scatter(x=[], y=[], scales={"x": x, "y": y}, marker="cross",
                                     default_size=90, colors=["black"], stroke="white")
        self.neuron_figure = add_classes(Figure(
            marks=[self._neuron_map, self._neuron_marks],
            axes=[Axis(scale=x, num_ticks=0, visible=False),
                  Axis(scale=y, side="left", num_ticks=0, visible=False)],
            fig_margin={"top": 6, "bottom": 6, "left": 6, "right": 6}, padding_x=0.0, padding_y=0.0,
            animation_duration=0, display_toolbar=False, layout=widgets.Layout(width="230px", height="230px")), "neuron-view")
        self.neuron_select = add_classes(widgets.IntSlider(value=0, min=0, max=self.config.n_hidden - 1,
                                                           description="Neuron"), "neuron-select")
        self.neuron_info = add_classes(widgets.HTML(), "neuron-info")

    def _wire(self):
        self.die_select.observe(self._on_die_select, "value")
        self.weights_select.observe(self._on_weights_select, "value")
        self.neuron_select.observe(self._on_neuron_select, "value")
        self.painter.on_change(self._on_die_change)
        self.training.on_trained(self._on_trained)
        self.ensemble_view.on_select(self._on_ensemble_select)

    # ------------------------------------------------------------------ public
    @property
    def current_weights(self):
        """The weights evaluated on the painted die (None before any are trained or given)."""
        return self.weights.get(self.weights_select.value)

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
        self.die_select.value = _die_id(die_id, self.ensemble.die.values)

    def refresh(self):
        """Re-evaluate the current weights on the painted die and update error, digits and neuron."""
        evaluator, die = self._evaluator, self.painter.die
        if evaluator is None:
            self.current_error = None
            self.error_label.value = "No weights yet: train some below."
            self._update_digits(None)
        else:
            error, predictions = self._evaluate_current(evaluator, die)
            self.current_error = error
            self.error_label.value = (f"Test error of <b>{html.escape(str(self.weights_select.value))}</b> "
                                      f"weights on this die: <b class='error-value'>{100 * error:.2f} %</b>")
            self._update_digits(predictions)
        self._update_neuron()

    def _evaluate_current(self, evaluator, die):
        """Error and digit predictions on ``die``, computed in the explorer's evaluation thread.

        One die x 10,000 images is small work: on a busy 2-core machine two torch threads took a
        median of ~80 ms (waiting for the other core) where one thread took ~5 ms. torch's thread
        count is per OS thread, so a dedicated one-thread worker gets the fast path without
        changing the kernel's own setting; the caller waits for the result.
        """
        def work():
            with self._eval_lock:
                return evaluator.evaluate(die)[0], evaluator.predict(die, self._digit_index)

        return self._eval_pool.submit(work).result()

    # ------------------------------------------------------------------ updates
    def _use_weights(self, name):
        weights = self.weights.get(name)
        self._evaluator = None if weights is None else DieEvaluator(weights, self.test)
        if weights is not None:
            self.training.weights = weights
        self.refresh()

    def _update_digits(self, predictions):
        for k, (index, caption) in enumerate(zip(self._digit_index, self._digit_captions)):
            truth = int(self.test.y[index])
            if predictions is None:
                caption.value = f"<span>true {truth}</span>"
                continue
            ok = int(predictions[k]) == truth
            css = "digit-correct" if ok else "digit-wrong"
            color = "#1a7f37" if ok else "#b00020"
            mark = "&#10003;" if ok else f"&#10007;{truth}"
            caption.value = (f"<span class='{css}' style='color:{color};white-space:nowrap' "
                             f"title='true label {truth}'><b>{int(predictions[k])}</b> {mark}</span>")

    def _update_neuron(self):
        j = int(self.neuron_select.value)
        weights, fp = self.current_weights, self.config.floorplan
        n_inputs, rows, cols = self.config.n_inputs, *self._image_shape
        values = np.zeros(n_inputs) if weights is None else weights.w1.values[:n_inputs, j].astype(float)
        codes = fp.gather(np.asarray(self.painter.die.defect.values), 0)[:, j, :]  # [n_in + 1, 2]
        marked = {}
        for kind in _SEVERITY:
            hit = (codes == DEFECT_KINDS.index(kind)).any(axis=1)
            for i in np.flatnonzero(hit):
                marked.setdefault(int(i), kind)
        pixels = [i for i in marked if i < n_inputs]
        with self._neuron_map.hold_sync():
            self._neuron_map.color = values.reshape(rows, cols)
        with self._neuron_marks.hold_sync():
            self._neuron_marks.x = np.array([i % cols for i in pixels], dtype=float)
            self._neuron_marks.y = np.array([i // cols for i in pixels], dtype=float)
            self._neuron_marks.colors = [KIND_COLORS[marked[i]] for i in pixels] or ["black"]
        bias = marked.get(n_inputs)
        listed = ", ".join(f"input {i} ({KIND_LABELS[k]})" for i, k in sorted(marked.items()) if i < n_inputs)
        self.neuron_info.value = (f"neuron {j}: red +1, blue -1; crosses mark defective devices"
                                  f"{': ' + html.escape(listed) if listed else ' (none)'}"
                                  f"{'; bias device ' + KIND_LABELS[bias] if bias else ''}")

    def _evaluate_on_ensemble(self, name):
        result = evaluate(self.weights[name], self.ensemble, self.test)
        result = result.expand_dims(method=[name])
        if self._results is not None and name in self._results.method.values:
            self._results = self._results.drop_sel(method=name)
        self._results = result if self._results is None else xr.concat([self._results, result], dim="method")

    def _refresh_results(self):
        baseline = None
        if "software" in self.weights:
            baseline = DieEvaluator(self.weights["software"], self.test).evaluate(None)[0]
        self.ensemble_view.baseline = baseline
        self.ensemble_view.results = self._results

    # ------------------------------------------------------------------ handlers
    def _show_error(self, exc, where):
        self.message.value = error_html(exc, where)

    @guarded("updating the error")
    def _on_die_change(self, _die):
        last = self.painter.last_painted
        if last is not None:
            where = self.config.floorplan.locate(*last)
            self.painter.last_painted = None
            if where is not None and where[0] == 0 and where[2] != self.neuron_select.value:
                self.neuron_select.value = where[2]  # refreshes through _on_neuron_select
        self.refresh()

    @guarded("loading the die")
    def _on_die_select(self, change):
        self.painter.die = self.ensemble.sel(die=change["new"])
        if change["new"] in self.ensemble_view.die_ids and self.ensemble_view.selected_die != change["new"]:
            self.ensemble_view.select(change["new"])

    @guarded("selecting the die")
    def _on_ensemble_select(self, die_id):
        if self.die_select.value != die_id:
            self.die_select.value = die_id

    @guarded("switching weights")
    def _on_weights_select(self, change):
        self._use_weights(change["new"])

    @guarded("drawing the neuron")
    def _on_neuron_select(self, _change):
        self._update_neuron()

    @guarded("evaluating the trained weights")
    def _on_trained(self, weights):
        name = str(weights.attrs.get("method") or "weights")
        self.weights[name] = weights
        self._evaluate_on_ensemble(name)
        self._refresh_results()
        options = list(self.weights)
        if list(self.weights_select.options) != options:
            self.weights_select.options = options
        if self.weights_select.value == name:
            self._use_weights(name)
        else:
            self.weights_select.value = name
