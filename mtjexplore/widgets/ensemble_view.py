"""Ensemble view: error per die for each training method, and die yield under an error spec.

The strip (one dot per die) and box plot show how each method's weights fare across the dies of
an ensemble; the dashed line is the software baseline (software weights on ideal devices).
Hovering a dot shows the die id and its defect counts; clicking it selects the die
(:meth:`EnsembleView.select`, the explorer loads it into the painter). The yield plot shows the
fraction of dies whose error is at most the spec set with the slider.

CSS classes (stable; browser tests find the parts by them):

* ``ensemble-view`` -- the whole composite
* ``ensemble-caption`` -- what the plot shows, with the software baseline's value
* ``ensemble-figure`` -- the strip + box Figure (dots are ``path.dot`` of Scatter marks)
* ``hover-info`` -- the die under the mouse (id, error per method, defect counts)
* ``selected-die`` -- the selected die
* ``yield-figure`` -- the yield bar chart; ``yield-spec`` -- the spec slider (percent);
  ``yield-summary`` -- the yields as text
* ``method-legend`` -- the numbered legend beside the charts (one ``legend-row`` per method,
  its colour in ``data-color``): the charts' axes show the numbers, so up to 8 long run names
  never overlap

Each method's colour comes from :func:`mtjexplore.widgets.runs.method_color` (by method name,
not by position), the same in every view of both apps.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import traitlets
import xarray as xr
from bqplot import Axis, Bars, Boxplot, Figure, LinearScale, Lines, OrdinalScale, Scatter

from ..defects import DEFECTIVE_KINDS
from ..errors import ParameterError
from ..yields import die_yield
from ._util import add_classes, error_html, guarded
from .runs import legend_html, method_color

_JITTER = 0.18


def _as_results(results):
    """``error(method, die)`` Dataset (a single-method result gets a method dim)."""
    if results is None:
        return None
    if not isinstance(results, xr.Dataset) or "error" not in results:
        raise ParameterError("results must be an xarray.Dataset with error(method, die), e.g. "
                             "xarray.concat([mx.evaluate(w, ens, test) for w in ws], dim='method')"
                             f"; got {type(results).__name__}")
    if "method" not in results.error.dims:
        results = results.expand_dims(method=[results.attrs.get("method") or "weights"])
    if set(results.error.dims) != {"method", "die"}:
        raise ParameterError(f"results.error must have dims (method, die); got {results.error.dims}")
    if "method" not in results.coords:
        results = results.assign_coords(method=[f"method {k}" for k in range(results.sizes["method"])])
    return results.transpose("method", "die", ...)


class EnsembleView(widgets.VBox):
    """Error per die for each method (strip + box), the software baseline, and die yield.

    Parameters
    ----------
    results : xarray.Dataset or None
        ``error(method, die)`` (fraction) with method names as the ``method`` coordinate and
        optional per-die coords such as ``n_defects``, ``n_short`` (what
        :func:`mtjexplore.evaluate` adds). None shows an empty view; set :attr:`results` later.
    baseline : float, optional
        Software baseline error (fraction) drawn as a dashed line; default
        ``results.attrs["baseline_error"]`` when present.

    Attributes
    ----------
    selected_die : int or None
        The selected die id (a traitlet: ``view.observe(f, "selected_die")`` works too).
    spec : ipywidgets.FloatSlider
        The error spec of the yield plot, percent: the baseline + 2 points when a baseline is
        given (the paper's criterion), else 15.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> res = xr.Dataset({"error": (("method", "die"), np.array([[0.1, 0.3], [0.12, 0.13]]))},
    ...                  coords={"method": ["software", "statistics_aware"], "die": [0, 1],
    ...                          "n_short": ("die", [3, 20])})
    >>> view = EnsembleView(res, baseline=0.1)
    >>> view.spec.value = 14.0
    >>> view.yields()
    {'software': 0.5, 'statistics_aware': 1.0}
    >>> view.select(1); view.selected_die
    1
    """

    selected_die = traitlets.Int(None, allow_none=True)

    def __init__(self, results=None, *, baseline=None):
        super().__init__()
        self._select_callbacks = []
        self._baseline = baseline
        self._build()
        if self._baseline is not None:  # the paper's criterion: within 2 points of the baseline
            self.spec.value = round(100 * float(self._baseline) + 2.0, 1)
        self.results = results

    # ------------------------------------------------------------------ building
    def _build(self):
        self._x = LinearScale(min=-0.5, max=0.5, allow_padding=False)
        self._y = LinearScale(min=0.0)
        scales = {"x": self._x, "y": self._y}
        self._boxes = Boxplot(x=[0], y=[[0.0]], scales=scales, box_fill_color="#f4f4f4",
                              stroke="#555555", opacities=[0.9], box_width=60,
                              auto_detect_outliers=False)
        self._baseline_line = Lines(x=[-0.5, 0.5], y=[0, 0], scales=scales, colors=["#444444"],
                                    line_style="dashed", visible=False,
                                    labels_visibility="label")
        self._highlight = Scatter(x=[], y=[], scales=scales, default_size=160, colors=["black"],
                                  fill=False, stroke="black", stroke_width=2)
        self._x_axis = Axis(scale=self._x, tick_values=[0], tick_labels={0: ""}, label="method (numbers: legend)")
        self.hover_info = add_classes(widgets.HTML("Hover a die for its defects; click it to select it."),
                                      "hover-info")
        self._tooltip = widgets.HTML()
        self._strips = []
        self.figure = add_classes(Figure(
            marks=[], axes=[self._x_axis, Axis(scale=self._y, side="left", label="test error (%)")],
            fig_margin={"top": 16, "bottom": 40, "left": 60, "right": 16}, animation_duration=0,
            layout=widgets.Layout(width="100%", min_width="320px", max_width="640px", height="340px",
                                  flex="2 1 360px")), "ensemble-figure")
        self.selected_label = add_classes(widgets.HTML("No die selected."), "selected-die")
        self.spec = add_classes(widgets.FloatSlider(value=15.0, min=0.0, max=50.0, step=0.5,
                                                    description="Spec (%)", readout_format=".1f",
                                                    continuous_update=True,
                                                    tooltip="error spec: a die passes when its test error is at most this"),
                                "yield-spec")
        self.spec.observe(self._on_spec_change, "value")
        self._bar_x, self._bar_y = OrdinalScale(), LinearScale(min=0.0, max=100.0)
        self._bars = Bars(x=["-"], y=[0.0], scales={"x": self._bar_x, "y": self._bar_y},
                          colors=["#7f7f7f"], padding=0.3)
        self.yield_figure = add_classes(Figure(
            marks=[self._bars], axes=[Axis(scale=self._bar_x, label="method (numbers: legend)"),
                                      Axis(scale=self._bar_y, side="left",
                                           label="dies within spec (%)")],
            fig_margin={"top": 16, "bottom": 40, "left": 60, "right": 16}, animation_duration=0,
            layout=widgets.Layout(width="100%", min_width="260px", max_width="420px", height="280px")),
            "yield-figure")
        self.legend = add_classes(widgets.HTML(layout={"width": "240px", "flex": "0 0 auto"}),
                                  "method-legend-box")
        self.yield_summary = add_classes(widgets.HTML(), "yield-summary")
        self.message = widgets.HTML()
        self.caption = add_classes(widgets.HTML(), "ensemble-caption")
        self.children = [
            self.caption,
            widgets.HBox([self.figure, widgets.VBox([self.yield_figure, self.spec, self.yield_summary],
                                                    layout={"flex": "1 1 280px", "min_width": "260px"}),
                          self.legend], layout={"flex_flow": "row wrap"}),
            self.hover_info, self.selected_label, self.message]
        add_classes(self, "ensemble-view")

    # ------------------------------------------------------------------ data
    @property
    def results(self):
        """The results shown (``error(method, die)``); set it to show new ones."""
        return self._results

    @results.setter
    def results(self, value):
        self._results = _as_results(value)
        if self._results is None:
            self.figure.marks = []
            self.caption.value = ""
            self.legend.value = ""
            self.message.value = "<i>No results yet: train or load weights.</i>"
            self._update_yield()
            return
        self.message.value = ""
        if self.selected_die is not None and self.selected_die not in self.die_ids:
            self.selected_die = None
        self._draw()

    @property
    def baseline(self):
        """Software baseline error (fraction) or None."""
        if self._baseline is not None:
            return float(self._baseline)
        value = None if self._results is None else self._results.attrs.get("baseline_error")
        return None if value is None else float(value)

    @baseline.setter
    def baseline(self, value):
        self._baseline = value
        if self._results is not None:
            self._draw()

    @property
    def methods(self):
        return [] if self._results is None else [str(m) for m in self._results.method.values]

    @property
    def die_ids(self):
        return [] if self._results is None else [int(d) for d in self._results.die.values]

    def yields(self, spec=None):
        """``{method: fraction of dies with error <= spec}``; ``spec`` in percent (default: slider)."""
        if self._results is None:
            return {}
        spec = self.spec.value if spec is None else spec
        errors = self._results.error.values * 100.0
        return {m: die_yield(errors[k], spec) for k, m in enumerate(self.methods)}

    # ------------------------------------------------------------------ selection
    def on_select(self, callback, remove=False):
        """Call ``callback(die_id)`` whenever a die is selected (click or :meth:`select`)."""
        if remove:
            self._select_callbacks.remove(callback)
        else:
            self._select_callbacks.append(callback)

    def select(self, die_id):
        """Select a die by id: highlight it and call the ``on_select`` callbacks (what a click does)."""
        die_id = int(die_id)
        if die_id not in self.die_ids:
            raise ParameterError(f"die {die_id} is not in the results (dies: {self.die_ids[:5]}"
                                 f"{'...' if len(self.die_ids) > 5 else ''})")
        self.selected_die = die_id
        self._draw_highlight()
        self.selected_label.value = f"Selected: <b>{self._describe(die_id)}</b>"
        for callback in list(self._select_callbacks):
            callback(die_id)

    # ------------------------------------------------------------------ drawing
    def _draw(self):
        res, methods = self._results, self.methods
        n_methods, n_dies = len(methods), res.sizes["die"]
        errors = res.error.values * 100.0
        jitter = np.random.default_rng(0).uniform(-_JITTER, _JITTER, n_dies)
        scales = {"x": self._x, "y": self._y}
        strips = []
        for k, method in enumerate(methods):
            dots = Scatter(x=k + jitter, y=errors[k], scales=scales, default_size=36,
                           colors=[method_color(method)], stroke="white",
                           tooltip=self._tooltip, interactions={"hover": "tooltip", "click": "select"},
                           unselected_style={"opacity": 1.0})
            dots.on_element_click(self._on_dot_click)
            dots.observe(self._on_hover, "hovered_point")
            strips.append(dots)
        self._strips = strips
        top = max(5.0, float(np.nanmax(errors)) * 1.1)
        baseline = self.baseline
        with self.figure.hold_sync():
            self._x.min, self._x.max = -0.5, n_methods - 0.5
            self._y.min, self._y.max = 0.0, top
            self._boxes.x, self._boxes.y = np.arange(n_methods), errors
            self._x_axis.tick_values = np.arange(n_methods)
            self._x_axis.tick_labels = {k: str(k + 1) for k in range(n_methods)}
            self._baseline_line.visible = baseline is not None
            if baseline is not None:
                self._baseline_line.x = [-0.5, n_methods - 0.5]
                self._baseline_line.y = [100 * baseline] * 2
                self._baseline_line.labels = [f"software baseline {100 * baseline:.1f} %"]
            self.figure.marks = [self._boxes, self._baseline_line, *strips, self._highlight]
        self._draw_highlight()
        if self.selected_die is not None:  # new rows: the caption lists every method's error
            self.selected_label.value = f"Selected: <b>{self._describe(self.selected_die)}</b>"
        self._update_yield()
        self.legend.value = "<b>Methods</b>" + legend_html(methods)
        line = ("" if baseline is None else
                f"; dashed line: software weights on ideal devices ({100 * baseline:.2f} %)")
        self.caption.value = (f"Test error of each method's weights on each of the {n_dies} dies "
                              f"(dots; boxes: quartiles){line}.")

    def _draw_highlight(self):
        if self.selected_die is None or self._results is None:
            self._highlight.x, self._highlight.y = np.zeros(0), np.zeros(0)
            return
        index = self.die_ids.index(self.selected_die)
        jitter = np.random.default_rng(0).uniform(-_JITTER, _JITTER, self._results.sizes["die"])
        with self._highlight.hold_sync():
            self._highlight.x = np.arange(len(self.methods)) + jitter[index]
            self._highlight.y = self._results.error.values[:, index] * 100.0

    def _update_yield(self):
        yields = self.yields()
        with self._bars.hold_sync():
            self._bars.x = [str(k + 1) for k in range(len(yields))] or ["-"]
            self._bars.y = [100 * v for v in yields.values()] or [0.0]
            self._bars.colors = [method_color(m) for m in yields] or ["#7f7f7f"]
        parts = [f"{html.escape(m)}: <b>{100 * v:.0f} %</b>" for m, v in yields.items()]
        self.yield_summary.value = (f"Dies with error &le; {self.spec.value:.1f} %: " + ", ".join(parts)
                                    if parts else "")

    def _describe(self, die_id):
        res = self._results
        one = res.sel(die=die_id)
        errors = ", ".join(f"{m} {100 * float(e):.2f} %" for m, e in zip(self.methods, one.error.values))
        counts = [f"{name[2:]} {int(one[name])}" for name in
                  ("n_defects",) + tuple(f"n_{k}" for k in DEFECTIVE_KINDS) if name in res.coords]
        return f"die {die_id}: " + errors + (" | defects: " + ", ".join(counts) if counts else "")

    # ------------------------------------------------------------------ handlers
    def _show_error(self, exc, where):
        self.message.value = error_html(exc, where)

    @guarded("selecting a die")
    def _on_dot_click(self, _mark, content):
        data = content.get("data") or {}
        index = data.get("index", content.get("index")) if isinstance(data, dict) else content.get("index")
        if index is not None:
            self.select(self.die_ids[int(index)])

    @guarded("hover")
    def _on_hover(self, change):
        if change["new"] is None or self._results is None:
            return
        text = html.escape(self._describe(self.die_ids[int(change["new"])]))
        self._tooltip.value = text
        self.hover_info.value = text

    @guarded("yield")
    def _on_spec_change(self, _change):
        self._update_yield()
