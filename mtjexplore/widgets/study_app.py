"""StudyApp: the 36-die study in one composite (the ensemble app).

* The precomputed study (``mtjexplore.study.app_data.app_results``: error of each method on every
  die, errors on freshly sampled dies) is read-only; the dashed baseline is its software
  weights on ideal devices and never moves.
* Yield curve and sensitivity histogram, one line per method in the method's colour, with the
  legend *beside* the chart (never over the curves).
* The selected die's map, **read-only**: the study's dies are measured (here: synthetic
  reference) dies, so nothing is painted here -- painting is the explorer's job. A die is
  selected from the start (die 0), so the caption and the map always agree, and a defect-aware
  run trains on exactly the die shown and is named after it.
* Every run gets its own name and joins the comparison; runs can be removed; Reset returns to
  the app as loaded; the state (die, method, seed, panels, hidden controls) is a link.

CSS classes, besides those of the parts: ``mtj-study``, ``yield-curve``, ``sensitivity-figure``,
``curve-legend``, ``remove-run``, ``runs-select``, ``reset-button``.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import xarray as xr
from bqplot import Axis, Figure, LinearScale, Lines

from ..errors import ParameterError
from ..yields import die_yield
from ..evaluation import evaluate
from ._util import add_classes, error_html, guarded
from .app_parts import LinkBox, StatefulApp, guide_html
from .ensemble_view import EnsembleView
from .painter import CrossbarPainter
from .runs import RunBook, legend_html, method_color
from .state import AppState
from .training_panel import METHODS, TrainingPanel

GUIDE = [
    "Each dot is one die: compare the <b>software</b> (grey), <b>defect-aware</b> (purple) and "
    "<b>statistics-aware</b> (green) weights across the 36 dies.",
    "Move the <b>Spec</b> slider: how many dies pass with each method?",
    "Click the worst grey dot: its map appears below (read-only; paint in the explorer app).",
    "Choose <b>defect-aware</b> and press <b>Train</b>: the run is trained for the die shown, "
    "named after it, and joins every chart. Does it help the other dies?",
]
SPEC_MAX = 40.0  # percent, right end of the yield curve
#: What each of the study's rows is (shown under the charts).
STUDY_NOTE = (
    "<b>The study's rows</b> (read-only): <b>software</b> -- one set of weights trained on ideal "
    "devices, written unchanged onto every die; <b>defect_aware</b> -- for <i>each</i> die its own "
    "weights, fine-tuned through that die's measured maps (36 trainings: the best case, but the "
    "weights fit their die only); <b>statistics_aware</b> -- one set of weights fine-tuned on "
    "dies sampled from the statistics of the 36. Your runs are named after their method and, for "
    "defect-aware, the die they were trained for. Errors: all 10,000 MNIST test images.")


def _curve_figure(title, x_label, y_label, css_class, y_max=None):
    x, y = LinearScale(), LinearScale(min=0.0, max=y_max, allow_padding=False)
    lines = Lines(x=[0.0], y=[0.0], scales={"x": x, "y": y}, stroke_width=2)
    figure = add_classes(Figure(
        marks=[lines], title=title, animation_duration=0,
        axes=[Axis(scale=x, label=x_label, num_ticks=5, tick_format=".0f"),
              Axis(scale=y, side="left", label=y_label, num_ticks=5, tick_format=".0f",
                   tick_values=None if y_max is None else [0, 25, 50, 75, 100])],
        fig_margin={"top": 40, "bottom": 44, "left": 56, "right": 12},
        layout=widgets.Layout(width="100%", min_width="300px", max_width="520px", height="300px",
                              flex="1 1 300px")), css_class)
    return figure, lines


class StudyApp(StatefulApp, widgets.VBox):
    """The study across an ensemble: results per die, yield, sensitivity, a die map, retraining.

    Parameters
    ----------
    ensemble : xarray.Dataset
        The study's dies.
    statistics : DefectStatistics
        Fitted to them (statistics-aware training samples from it).
    train, test : ImageData
    study : xarray.Dataset
        ``error(method, die)``, ``ideal_error`` and optionally ``sens_error(sens_method, sample)``
        (:func:`mtjexplore.study.app_data.app_results`); read-only here.
    weights : xarray.Dataset, optional
        Weights runs may start from (the shipped software weights).
    """

    PANELS = {"guide": "guide", "study": "ensemble_view", "curves": "curves", "die": "die_section",
              "training": "training_section"}
    CONTROLS = {"train": "train_box", "runs": "runs_box", "reset": "reset_button", "link": "link_box"}

    def __init__(self, ensemble, statistics, train, test, study, *, weights=None):
        super().__init__()
        if "error" not in study or "ideal_error" not in study:
            raise ParameterError("study must hold error(method, die) and ideal_error "
                                 "(mtjexplore.study.app_data.app_results())")
        self.ensemble, self.test, self.study = ensemble, test, study
        self.runs = RunBook()
        self._shipped = study[["error", "loss"]] if "loss" in study else study[["error"]]
        self._panels, self._hidden = None, ()
        self.ensemble_view = EnsembleView(self._shipped, baseline=float(study.ideal_error))
        self.die_map = CrossbarPainter(ensemble.isel(die=0), editable=False)
        self.training = TrainingPanel(self._config(), train, test, sampler=statistics, weights=weights,
                                      die_getter=self._selected_die,
                                      context_getter=lambda: {"die": f"die {self.selected_die}"})
        self._build()
        self._wire()
        self.ensemble_view.select(self.ensemble_view.die_ids[0])
        self._draw_curves()
        self.update_link()

    @property
    def selected_die(self):
        """The die shown in the map and trained on by defect-aware runs."""
        return self.ensemble_view.selected_die

    def _config(self):
        from ..die import config_of

        return config_of(self.ensemble)

    def _selected_die(self):
        return self.ensemble.sel(die=self.selected_die)

    # ------------------------------------------------------------------ building
    def _build(self):
        self.guide = widgets.HTML(guide_html(GUIDE))
        self.link_box = LinkBox()
        self.reset_button = add_classes(widgets.Button(
            description="Reset", icon="refresh", button_style="warning", layout={"width": "90px"},
            tooltip="back to the app as loaded: die 0, the study only, default settings"), "reset-button")
        self.runs_select = add_classes(widgets.Dropdown(
            options=[("no runs yet", None)], index=0, description="Runs", layout={"width": "360px"},
            style={"description_width": "40px"}, tooltip="your runs (the study's rows are read-only)"),
            "runs-select")
        self.remove_button = add_classes(widgets.Button(
            description="Remove run", icon="trash", disabled=True, layout={"width": "120px"},
            tooltip="remove the selected run from every chart"), "remove-run")
        self.runs_box = widgets.HBox([self.runs_select, self.remove_button])
        self.message = widgets.HTML()
        self.yield_figure, self.yield_line = _curve_figure(
            f"Yield curve ({self.ensemble.sizes['die']} dies)", "error spec (%)", "dies within spec (%)",
            "yield-curve", y_max=100.0)
        n_samples = self.study.sizes.get("sample", 0)
        self.sens_figure, self.sens_line = _curve_figure(
            f"Sensitivity: {n_samples} freshly sampled dies", "error on the die (%)", "dies (%)",
            "sensitivity-figure")
        self.yield_legend = add_classes(widgets.HTML(layout={"width": "220px"}), "curve-legend")
        self.sens_legend = add_classes(widgets.HTML(layout={"width": "180px"}), "curve-legend")
        self.curves = widgets.HBox([self.yield_figure, self.yield_legend, self.sens_figure, self.sens_legend],
                                   layout={"flex_flow": "row wrap"})
        self.die_section = widgets.VBox([
            widgets.HTML("<h4>The selected die (read-only: it is a measured die of the study)</h4>"),
            self.die_map])
        self.train_box = self.training.train_button
        self.training_section = widgets.VBox([
            widgets.HTML("<h4>Run a method again (it joins the comparison above)</h4>"), self.training])
        header = widgets.HBox([self.runs_box, self.reset_button, self.link_box],
                              layout={"flex_flow": "row wrap", "align_items": "center"})
        self.study_note = add_classes(widgets.HTML(f"<div style='font-size:13px'>{STUDY_NOTE}</div>"),
                                      "study-note")
        self.children = [header, self.guide, self.message, self.ensemble_view, self.study_note,
                         self.curves, self.die_section, self.training_section]
        add_classes(self, "mtj-study")

    def _wire(self):
        self.ensemble_view.on_select(self._on_select)
        self.training.on_trained(self._on_trained)
        self.training.method.observe(self.update_link, "value")
        self.training.seed.observe(self.update_link, "value")
        self.remove_button.on_click(self._on_remove_click)
        self.runs_select.observe(self._on_runs_select, "value")
        self.reset_button.on_click(self._on_reset_click)

    # ------------------------------------------------------------------ curves
    def _draw_curves(self):
        results = self.ensemble_view.results
        spec = np.linspace(0.0, SPEC_MAX, 321)
        errors = 100 * results.error.transpose("method", "die").values
        names = [str(m) for m in results.method.values]
        with self.yield_line.hold_sync():
            self.yield_line.x, self.yield_line.y = spec, 100 * die_yield(errors, spec)
            self.yield_line.colors = [method_color(m) for m in names]
        self.yield_legend.value = legend_html(names, numbered=False)
        if "sens_error" not in self.study:
            self.sens_figure.layout.display = self.sens_legend.layout.display = "none"
            return
        sens = 100 * self.study.sens_error
        methods = [str(m) for m in sens.sens_method.values]
        edges = np.arange(np.floor(float(sens.min())), np.ceil(float(sens.max())) + 1.0, 1.0)
        counts = [np.histogram(sens.sel(sens_method=m).values, edges)[0] for m in methods]
        with self.sens_line.hold_sync():
            self.sens_line.x, self.sens_line.y = edges[:-1], 100 * np.array(counts) / sens.sizes["sample"]
            self.sens_line.interpolation = "step-after"
            self.sens_line.colors = [method_color(m) for m in methods]
        self.sens_legend.value = legend_html(methods, numbered=False)

    # ------------------------------------------------------------------ runs and state
    def remove_run(self, name):
        """Remove a run from every chart (the study's rows cannot be removed)."""
        self.runs.remove(name)
        results = self.ensemble_view.results
        self.ensemble_view.results = results.drop_sel(method=name)
        self._after_runs_change()

    def reset(self):
        """Back to the app as loaded: the study only, die 0, default training, all visible."""
        self.training.stop()
        self.training.wait(30)
        self.runs.reset()
        self.ensemble_view.results = self._shipped
        self.training.method.value, self.training.seed.value = "software", 0
        self._apply_visibility(AppState())
        self.link_box.show_notes([])
        self.message.value = ""
        self._after_runs_change()
        self.ensemble_view.select(self.ensemble_view.die_ids[0])

    def current_state(self):
        method = self.training.method.value
        seed = int(self.training.seed.value)
        return AppState(die=self.selected_die, seed=seed or None,
                        method=None if method == "software" else method,
                        panels=self._panels, hidden=self._hidden)

    def _limits(self):
        return self._limits_base(die_ids=tuple(self.ensemble_view.die_ids),
                                 shape=(0, 0), methods=tuple(m for _, m in METHODS))

    def _apply(self, state):
        if state.die is not None:
            self.ensemble_view.select(state.die)
        if state.method is not None:
            self.training.method.value = state.method
        if state.seed is not None:
            self.training.seed.value = state.seed

    def _after_runs_change(self, select=None):
        options = [(n, n) for n in self.runs.runs] or [("no runs yet", None)]
        self.runs_select.options = options
        self.runs_select.index = [v for _, v in options].index(select) if select in self.runs else len(options) - 1
        self.remove_button.disabled = not self.runs.runs
        self._draw_curves()
        self.update_link()

    # ------------------------------------------------------------------ handlers
    def _show_error(self, exc, where):
        self.message.value = error_html(exc, where)

    @guarded("showing the die")
    def _on_select(self, die_id):
        self.die_map.die = self.ensemble.sel(die=die_id)
        self.update_link()

    @guarded("adding the run")
    def _on_trained(self, weights):
        aware = weights.attrs.get("method") == "defect_aware"
        name = self.runs.add(weights, die=self.training.last_context.get("die") if aware else None)
        row = evaluate(weights, self.ensemble, self.test)[list(self._shipped.data_vars)]
        row = row.expand_dims(method=[name])
        self.ensemble_view.results = xr.concat([self.ensemble_view.results, row], dim="method",
                                               coords="minimal", compat="override")
        self._after_runs_change(select=name)

    @guarded("removing the run")
    def _on_remove_click(self, _button):
        if self.runs_select.value is not None:
            self.remove_run(self.runs_select.value)

    @guarded("selecting the run")
    def _on_runs_select(self, change):
        self.remove_button.disabled = change["new"] is None
        if change["new"] is not None:
            self.message.value = f"Selected run: <b>{html.escape(change['new'])}</b>"

    @guarded("Reset")
    def _on_reset_click(self, _button):
        self.reset()
