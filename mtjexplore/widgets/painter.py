"""Crossbar painter: a die's physical array as a heat map you paint defects on.

CSS classes (stable; browser tests find the parts by them):

* ``crossbar-painter`` -- the whole composite (a ``VBox``)
* ``crossbar-figure`` -- the bqplot Figure holding the heat map (mouse events come from it)
* ``paint-palette`` -- the kind to paint (short, open, stuck-P, stuck-AP, erase)
* ``color-by`` -- colour cells by defect kind or by conductance ``g_p``
* ``randomize-button``, ``clear-button``, ``undo-button`` -- the editing buttons
* ``randomize-rates`` -- the rate per kind and the seed of Randomize
* ``defect-counts`` -- the legend with live counts per kind
* ``paint-status`` -- one line: the cell under the mouse, what the last action did, or an error
* rings (``path.dot`` of a Scatter in ``crossbar-figure``) mark the cells the last change
  touched, for ``HIGHLIGHT_S`` (1.5 s); ``changed_cells`` holds them
* ``painter-readonly`` -- added to the composite when ``editable=False`` (no palette, no edits)

Mouse: ``mousedown`` paints the cell under the pointer, ``mousemove`` with the left button held
paints every cell on the segment from the previous cell (a stroke; one Undo step), ``mouseup``
paints the segment to the cell where the button went up and ends the stroke, leaving the figure
ends it. Clicks and moves come from two ``ipyevents.Event`` objects on the Figure: presses are
never throttled away, moves are throttled to one per ~15 ms, so a fast drag's ``mouseup`` can
arrive before its last move (which is then ignored: moves with the button held never hover).
"""

from __future__ import annotations

import collections
import html
import threading

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, ColorScale, Figure, HeatMap, Label, LinearScale, Lines, Scatter
from ipyevents import Event

from ..defects import REGISTRY
from ..die import DEFECT_CODES, DEFECT_KINDS, NO_DEVICE, config_of, set_defects
from ..errors import ParameterError
from ..painting import RANDOM_KINDS, clear_defects, randomize_defects
from ..reference import REFERENCE_RATES
from ._util import KIND_COLORS, KIND_LABELS, add_classes, cell_at, error_html, guarded, segment_cells, swatch

#: Palette entries: (label, kind painted).
PALETTE = [(k.label, k.name) for k in REGISTRY[1:]] + [("erase", "ok")]
#: What each palette entry does, for its tooltip.
PALETTE_TIPS = ([f"{k.label}: {k.description}" for k in REGISTRY[1:]]
                + ["erase: a healthy device with nominal conductances"])
HIGHLIGHT_S = 1.5  # how long the rings on changed cells stay
COLOR_BY = ("defect", "conductance")
_DISPLAY_NO_DEVICE = len(DEFECT_KINDS)  # colour index of empty cells in the defect view
_MARGIN = {"top": 28, "bottom": 36, "left": 48, "right": 12}
_DEFECT_COLORS = [KIND_COLORS[k] for k in DEFECT_KINDS] + [KIND_COLORS["no_device"]]
_VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]


def _index_array(values, name, where):
    """``values`` as a 1-D numeric array of whole numbers (else a ParameterError naming them)."""
    array = np.asarray(values)
    if array.dtype == bool or array.dtype.kind not in "iuf" or array.ndim > 1:
        raise ParameterError(f"{where}: {name} must be a whole number or a 1-D sequence of whole "
                             f"numbers; got {values!r:.80}")
    array = np.atleast_1d(array)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            at = f" (position {k})" if array.size > 1 else ""
            raise ParameterError(f"{where}: {name} must be a whole number (not rounded for you); "
                                 f"got {array[k].item()!r}{at}")
    return array


def cell_indices(rows, cols, shape, where):
    """Validated ``(rows, cols)`` int64 arrays of equal length inside an array of ``shape``."""
    rows, cols = _index_array(rows, "row", where), _index_array(cols, "col", where)
    if rows.size != cols.size and 1 not in (rows.size, cols.size):
        raise ParameterError(f"{where}: rows and cols must have the same length (or one be a "
                             f"single number); got {rows.size} rows and {cols.size} cols")
    rows, cols = np.broadcast_arrays(rows, cols)
    bad = (rows < 0) | (rows >= shape[0]) | (cols < 0) | (cols >= shape[1])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"{where}: cell (row={rows[k].item()!r}, col={cols[k].item()!r}) is "
                             f"outside the die's {shape[0]} x {shape[1]} array (rows "
                             f"0..{shape[0] - 1}, cols 0..{shape[1] - 1})")
    return rows.astype(np.int64), cols.astype(np.int64)


def _check_one_die(die):
    if not hasattr(die, "data_vars") or not {"g_p", "g_ap", "defect"} <= set(die.data_vars):
        raise ParameterError("die must be one mtjexplore die (an xarray.Dataset with g_p, g_ap and "
                             f"defect, e.g. ens.isel(die=3)); got {type(die).__name__}")
    if "die" in die.dims:
        if die.sizes["die"] != 1:
            raise ParameterError(f"the painter shows one die; got an ensemble of {die.sizes['die']} "
                                 "dies -- select one, e.g. ens.isel(die=3)")
        die = die.isel(die=0)
    config_of(die)
    return die


class CrossbarPainter(widgets.VBox):
    """Paint or randomize defects on one die's physical (row, col) array.

    Parameters
    ----------
    die : xarray.Dataset
        One die (``ens.isel(die=k)``, :func:`mtjexplore.ideal_die`, ...). Set :attr:`die` later to
        load another die (this clears the Undo history).
    color_by : {"defect", "conductance"}, default "defect"
        Colour cells by defect kind, or by ``g_p`` (conductance read after writing P, in uS).
    history : int, default 50
        Undo steps kept.

    Attributes
    ----------
    palette : ipywidgets.ToggleButtons
        The kind the mouse paints (``"ok"`` erases).
    heatmap : bqplot.HeatMap
        The mark; ``heatmap.color`` is the displayed ``(n_rows, n_cols)`` array.
    counts : dict of str to int
        Devices of each kind on the current die.

    Examples
    --------
    >>> from mtjexplore import ideal_die, paper_config
    >>> painter = CrossbarPainter(ideal_die(paper_config()))
    >>> _ = painter.paint([0, 0], [3, 4], "short")
    >>> painter.counts["short"]
    2
    >>> _ = painter.undo()
    >>> painter.counts["short"]
    0
    """

    def __init__(self, die, *, color_by="defect", history=50, editable=True):
        super().__init__()
        if color_by not in COLOR_BY:
            raise ParameterError(f"color_by must be one of {COLOR_BY}; got {color_by!r}")
        if not isinstance(history, int) or history < 1:
            raise ParameterError(f"history must be an int >= 1 (undo steps); got {history!r}")
        self._die = _check_one_die(die)
        self.loaded_die = self._die
        self.editable = bool(editable)
        self.changed_cells = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._flash_timer = None
        self._history = collections.deque(maxlen=history)
        self._callbacks = []
        self._stroke_open = False
        self._stroke_count = 0
        self._last_cell = None
        self._hover_cell = None
        self.last_painted = None
        self._build_controls(color_by)
        self._build_figure()
        self._build_mouse()
        self.status = add_classes(widgets.HTML("Click or drag on the array to paint." if editable else
                                               "Hover a device to see what it holds (read-only)."),
                                  "paint-status")
        self.legend = add_classes(widgets.HTML(layout={"width": "190px", "flex": "0 0 auto"}),
                                  "defect-counts")
        map_and_legend = widgets.HBox([self.figure, self.legend], layout={"flex_flow": "row wrap"})
        self.children = ([widgets.HTML(_palette_css()), self._toolbar, self._rates_box] if editable
                         else [self.color_by]) + [
            map_and_legend, self.status]
        add_classes(self, "crossbar-painter", *(() if editable else ("painter-readonly",)))
        self._setup_geometry()
        self._apply_color_scale()
        self._redraw()

    # ------------------------------------------------------------------ building
    def _build_controls(self, color_by):
        self.palette = add_classes(widgets.ToggleButtons(
            options=PALETTE, value="short", tooltips=PALETTE_TIPS,
            style={"button_width": "74px"}), "paint-palette")
        self.color_by = add_classes(widgets.ToggleButtons(
            options=[("defects", "defect"), ("conductance", "conductance")], value=color_by,
            style={"button_width": "96px"},
            tooltips=["colour each device by its defect kind",
                      "colour each device by g_p, its conductance after writing P (uS)"]), "color-by")
        self.color_by.observe(self._on_color_by_change, "value")
        small = {"width": "90px"}
        self.undo_button = add_classes(widgets.Button(description="Undo", icon="undo", layout=small,
                                                      tooltip="undo the last paint, stroke or change"),
                                       "undo-button")
        self.clear_button = add_classes(widgets.Button(description="Clear", icon="eraser", layout=small,
                                                       tooltip="erase every defect of this die"),
                                        "clear-button")
        self.randomize_button = add_classes(widgets.Button(
            description="Randomize", icon="random", layout={"width": "110px"},
            tooltip="place random defects at the rates on the left (same seed, same defects)"),
            "randomize-button")
        self.undo_button.on_click(self._on_undo_click)
        self.clear_button.on_click(self._on_clear_click)
        self.randomize_button.on_click(self._on_randomize_click)
        self.rates = {kind: widgets.BoundedFloatText(
            value=REFERENCE_RATES.get(kind, 0.0), min=0.0, max=0.2, step=1e-4,
            description=KIND_LABELS[kind], style={"description_width": "62px"},
            tooltip=f"fraction of devices made {KIND_LABELS[kind]} (0.00075 = 15 of 20,000)",
            layout={"width": "150px"}) for kind in RANDOM_KINDS}
        self.seed = widgets.IntText(value=0, description="seed", layout={"width": "120px"},
                                    style={"description_width": "36px"},
                                    tooltip="random seed: the same seed gives the same defects")
        self.keep_existing = widgets.Checkbox(value=False, description="add to existing defects",
                                              indent=False, layout={"width": "180px"},
                                              tooltip="keep this die's defects and add the random ones")
        self._toolbar = widgets.HBox([widgets.HTML("<b>Paint</b>&nbsp;"), self.palette, self.undo_button,
                                      self.clear_button, widgets.HTML("&nbsp;<b>Colour</b>&nbsp;"),
                                      self.color_by],
                                     layout={"flex_flow": "row wrap", "align_items": "center"})
        rates = add_classes(widgets.VBox([
            widgets.HTML("Fraction of devices per kind (0-0.2; the reference dies: 0.00075 shorts):"),
            widgets.HBox(list(self.rates.values()), layout={"flex_flow": "row wrap"}),
            widgets.HBox([self.seed, self.keep_existing, self.randomize_button],
                         layout={"flex_flow": "row wrap"})]), "randomize-rates")
        # folded by default: the crossbar stays on the first screen at 1366 x 768
        self._rates_box = widgets.Accordion(children=[rates], selected_index=None,
                                            layout={"max_width": "900px"})
        self._rates_box.set_title(0, "Randomize defects (rates, seed)")

    def _build_figure(self):
        self._x_scale = LinearScale(allow_padding=False)
        self._y_scale = LinearScale(reverse=True, allow_padding=False)
        self._color_scale = ColorScale(min=0, max=_DISPLAY_NO_DEVICE, colors=_DEFECT_COLORS)
        self.heatmap = HeatMap(x=np.arange(2), y=np.arange(2), color=np.zeros((2, 2)),
                               scales={"x": self._x_scale, "y": self._y_scale,
                                       "color": self._color_scale})
        self._outlines = Lines(x=[[0, 1]], y=[[0, 1]], colors=["#333333"], stroke_width=1.5,
                               scales={"x": self._x_scale, "y": self._y_scale})
        label_style = {"scales": {"x": self._x_scale, "y": self._y_scale}, "colors": ["#333333"],
                       "default_size": 12, "y_offset": -7, "apply_clip": False}
        # block names above the blocks: left-aligned, the last block's right-aligned (stays inside)
        self._labels = Label(x=[0], y=[0], text=[""], align="start", **label_style)
        self._last_label = Label(x=[0], y=[0], text=[""], align="end", **label_style)
        self._flash = Scatter(
            x=np.zeros(0), y=np.zeros(0), scales={"x": self._x_scale, "y": self._y_scale},
            marker="circle", default_size=140, fill=False, colors=["#000000"], stroke="#000000",
            stroke_width=2.5)
        self._x_axis = Axis(scale=self._x_scale, label="column")
        self._y_axis = Axis(scale=self._y_scale, side="left", label="row")
        self.figure = add_classes(Figure(
            marks=[self.heatmap, self._outlines, self._labels, self._last_label, self._flash],
            axes=[self._x_axis, self._y_axis], fig_margin=dict(_MARGIN), padding_x=0.0, padding_y=0.0,
            animation_duration=0, display_toolbar=False,
            layout=widgets.Layout(width="900px", height="470px", flex="0 0 auto")), "crossbar-figure")

    def _build_mouse(self):
        self._press_events = Event(source=self.figure, prevent_default_action=True,
                                   watched_events=["mousedown", "mouseup", "mouseleave"])
        self._move_events = Event(source=self.figure, watched_events=["mousemove"], wait=15,
                                  throttle_or_debounce="throttle")
        self._press_events.on_dom_event(self._on_mouse)
        self._move_events.on_dom_event(self._on_mouse)

    def _setup_geometry(self):
        """Scales, axes, block outlines and labels for the die's floorplan."""
        fp = config_of(self._die).floorplan
        n_rows, n_cols = fp.shape
        self._shape = (n_rows, n_cols)
        self._present = fp.present
        self._floorplan = fp
        xs, ys, texts, lx, ly = [], [], [], [], []
        for layer in range(fp.n_layers):
            r0, r1, c0, c1 = fp.block_extent(layer)
            xs.append([c0 - 0.5, c1 + 0.5, c1 + 0.5, c0 - 0.5, c0 - 0.5])
            ys.append([r0 - 0.5, r0 - 0.5, r1 + 0.5, r1 + 0.5, r0 - 0.5])
            n_in, n_out = fp.layer_shape(layer)
            last = layer == fp.n_layers - 1
            texts.append(f"layer {layer + 1}: {n_in} x {n_out}" if last else
                         f"layer {layer + 1}: {n_in} input rows x {n_out} neurons (+/- column pairs)")
            lx.append(c1 + 0.5 if last else c0 - 0.5)
            ly.append(r0 - 0.5)
        self._x_scale.min, self._x_scale.max = -0.5, n_cols - 0.5
        self._y_scale.min, self._y_scale.max = -0.5, n_rows - 0.5
        self._x_axis.tick_values = np.arange(0, n_cols, max(1, round(n_cols / 10, -1) or 1))
        self._y_axis.tick_values = np.arange(0, n_rows, max(1, round(n_rows / 5, -1) or 1))
        self.heatmap.x, self.heatmap.y = np.arange(n_cols), np.arange(n_rows)
        self._outlines.x, self._outlines.y = np.array(xs), np.array(ys)
        with self._labels.hold_sync():
            self._labels.x, self._labels.y, self._labels.text = lx[:-1] or [0], ly[:-1] or [0], texts[:-1] or [""]
        with self._last_label.hold_sync():
            self._last_label.x, self._last_label.y, self._last_label.text = lx[-1:], ly[-1:], texts[-1:]

    # ------------------------------------------------------------------ the die
    @property
    def die(self):
        """The die shown and painted (``xarray.Dataset``); set it to load another die."""
        return self._die

    @die.setter
    def die(self, value):
        new = _check_one_die(value)
        old_shape = self._shape
        self._die = self.loaded_die = new
        self._history.clear()
        self._stroke_open = False
        if config_of(new).floorplan.shape != old_shape:
            self._setup_geometry()
        self._show_change(f"Loaded {self._die_name()}.")

    def on_change(self, callback, remove=False):
        """Call ``callback(die)`` after every change of the die (paint, randomize, clear, undo, load)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    @property
    def counts(self):
        """Devices of each kind (``ok``, ``short``, ...) on the current die, as a dict."""
        codes = np.asarray(self._die.defect.values)[self._present]
        numbers = np.bincount(np.minimum(codes, len(DEFECT_KINDS)), minlength=len(DEFECT_KINDS) + 1)
        return {kind: int(numbers[code]) for kind, code in DEFECT_CODES.items()}

    # ------------------------------------------------------------------ editing (public)
    def paint(self, rows, cols, kind=None):
        """Give the devices at ``(rows, cols)`` defect ``kind`` (default: the palette's).

        The same path the mouse takes. Cells without a device and cells that already have
        ``kind`` are skipped; a change is one Undo step (a mouse stroke is one step as a whole).

        Parameters
        ----------
        rows, cols : int or sequence of int
            Physical cells; equal lengths (or one a single number). Whole numbers only (``2.0``
            is fine, ``1.7`` is refused, not truncated).
        kind : str, optional
            One of ``DEFECT_KINDS`` (``"ok"`` erases).

        Returns
        -------
        int
            Devices changed.

        Raises
        ------
        ParameterError
            A row or col outside the array, not a whole number, NaN, or lengths that differ; the
            message names the value and the allowed range.
        """
        kind = self.palette.value if kind is None else kind
        if kind not in DEFECT_KINDS:
            raise ParameterError(f"kind must be one of {', '.join(DEFECT_KINDS)}; got {kind!r}")
        rows, cols = cell_indices(rows, cols, self._floorplan.shape, "paint")
        codes = np.asarray(self._die.defect.values)
        keep = self._present[rows, cols] & (codes[rows, cols] != DEFECT_CODES[kind])
        if not keep.any():
            return 0
        rows, cols = rows[keep], cols[keep]
        self.last_painted = (int(rows[-1]), int(cols[-1]))
        new = set_defects(self._die, rows, cols, kind)
        self._stroke_count = (self._stroke_count if self._stroke_open else 0) + int(rows.size)
        verb = "erased" if kind == "ok" else f"painted {KIND_LABELS[kind]} on"
        self._commit(new, f"{verb} {self._stroke_count} device(s), last at row {rows[-1]}, col {cols[-1]}",
                     record=not self._stroke_open)
        return int(rows.size)

    def randomize(self, rates, seed, *, keep_existing=False):
        """Replace the die's defects with random ones (or add them, ``keep_existing=True``).

        Parameters
        ----------
        rates : dict of str to float
            Fraction of devices per kind, e.g. ``{"short": 7.5e-4}``.
        seed : int
            Same seed, same die -> same defects.
        """
        new = randomize_defects(self._die, dict(rates), seed, keep_existing=keep_existing)
        self._commit(new, f"randomized with seed {seed}")

    def clear(self):
        """Erase every defect (the devices get nominal healthy conductances)."""
        self._commit(clear_defects(self._die), "cleared all defects")

    def undo(self):
        """Go back one step; returns False when there is nothing to undo."""
        if not self._history:
            self._set_status("Nothing to undo.")
            return False
        self._stroke_open = False
        self._die = self._history.pop()
        self._show_change(f"Undone ({len(self._history)} more step(s) can be undone).")
        return True

    @property
    def n_undo(self):
        """Undo steps available."""
        return len(self._history)

    # ------------------------------------------------------------------ internals
    def load(self, die, message):
        """Load ``die`` as the new "die as loaded" (a preset): clears Undo, says ``message``."""
        self.die = die
        self._set_status(message)

    def painted_cells(self):
        """Cells that differ from the die as loaded: ``[(kind, row, col), ...]`` (``ok``: erased)."""
        now, then = np.asarray(self._die.defect.values), np.asarray(self.loaded_die.defect.values)
        if now.shape != then.shape:
            return []
        rows, cols = np.nonzero(now != then)
        return [(DEFECT_KINDS[int(now[r, c])], int(r), int(c)) for r, c in zip(rows, cols)]

    def painted_counts(self):
        """``{kind: cells}`` of :meth:`painted_cells` (kinds in palette order, zeros left out)."""
        counts = collections.Counter(kind for kind, _, _ in self.painted_cells())
        return {kind: counts[kind] for _, kind in PALETTE if counts[kind]}

    def _commit(self, new, message, record=True):
        old = self._die
        if record:
            self._history.append(old)
        self._die = new
        self._show_change(message + ".", flash_from=old)

    def _show_change(self, message, flash_from=None):
        """The die changed: tell the listeners, then redraw (ringing what changed since
        ``flash_from``) and say ``message``.

        The listeners (the explorer's test error) go first because the page handles the kernel's
        messages in order and redrawing the 20,000-cell heatmap is the slowest of them (~60 ms
        of a busy browser's time): sent after it, the new error waited for that redraw.
        """
        try:
            self._notify()
        finally:  # a listener that raises does not leave the picture behind the die
            if flash_from is not None:
                self._flash_changes(flash_from, self._die)
            self._redraw()
            self._set_status(message)

    def _flash_changes(self, old, new):
        """Ring the cells whose defect changed, for ``HIGHLIGHT_S`` seconds."""
        rows, cols = np.nonzero(np.asarray(old.defect.values) != np.asarray(new.defect.values))
        self.changed_cells = (rows, cols)
        with self._flash.hold_sync():
            self._flash.x, self._flash.y = cols.astype(float), rows.astype(float)
        if self._flash_timer is not None:
            self._flash_timer.cancel()
        self._flash_timer = threading.Timer(HIGHLIGHT_S, self._end_flash)
        self._flash_timer.daemon = True
        self._flash_timer.start()

    def _end_flash(self):
        with self._flash.hold_sync():
            self._flash.x, self._flash.y = np.zeros(0), np.zeros(0)

    def _notify(self):
        for callback in list(self._callbacks):
            callback(self._die)

    def _display_array(self):
        if self.color_by.value == "conductance":
            return np.where(self._present, np.asarray(self._die.g_p.values) * 1e6, 0.0)
        codes = np.asarray(self._die.defect.values).astype(np.float64)
        return np.where(codes == NO_DEVICE, _DISPLAY_NO_DEVICE, codes)

    def _redraw(self):
        counts = self.counts
        with self.heatmap.hold_sync():
            self.heatmap.color = self._display_array()
        self.legend.value = self._legend_html(counts)

    def _legend_html(self, counts):
        parts = [f"<div>{swatch(KIND_COLORS[k], KIND_LABELS[k], counts[k])}</div>" for k in DEFECT_KINDS]
        if self.color_by.value == "conductance":
            g = np.asarray(self._die.g_p.values)[self._present] * 1e6
            parts.append(f"<div class='scale-note'>colour: g_p from 0 to {self._color_scale.max:.0f} uS "
                         f"(viridis; shorts saturate, {g.max():.0f} uS max)</div>")
        defective = sum(v for k, v in counts.items() if k != "ok")
        return (f"<div style='line-height:1.7'><b>{html.escape(self._die_name())}</b>: {defective} "
                f"defective of {sum(counts.values())} devices" + "".join(parts)
                + "<div style='color:#555'>rings: cells just changed</div></div>")

    def _die_name(self):
        if self._die.attrs.get("label"):
            return str(self._die.attrs["label"])
        die_id = self._die.coords["die"].values if "die" in self._die.coords else None
        return "die" if die_id is None else f"die {int(die_id)}"

    def _set_status(self, text):
        self.status.value = html.escape(text)

    def _show_error(self, exc, where):
        self.status.value = error_html(exc, where)

    def _describe_cell(self, cell):
        row, col = cell
        code = int(self._die.defect.values[row, col])
        where = self._floorplan.locate(row, col)
        if where is None:
            return f"row {row}, col {col}: no device"
        layer, i, j, sign = where
        kind = KIND_LABELS[DEFECT_KINDS[code]] if code < len(DEFECT_KINDS) else "?"
        return (f"row {row}, col {col}: layer {layer + 1}, input row {i} → neuron {j} ({sign}), "
                f"{kind}, g_p {self._die.g_p.values[row, col] * 1e6:.0f} uS, "
                f"g_ap {self._die.g_ap.values[row, col] * 1e6:.0f} uS")

    # ------------------------------------------------------------------ handlers
    @guarded("painting")
    def _on_mouse(self, event):
        kind, cell = event.get("type"), cell_at(event, self.figure.fig_margin, self._shape)
        if not self.editable and kind != "mouseleave":
            kind = "mousemove"  # read-only: every event only describes the cell under the pointer
            event = {**event, "buttons": 0}
        if kind == "mousedown" and event.get("button", 0) == 0:
            self._stroke_open = False
            if cell is not None:
                self.paint(*cell)
                self._stroke_open, self._last_cell = True, cell
        elif kind == "mousemove" and int(event.get("buttons", 0)) & 1:
            if self._stroke_open:  # else a stale move: its stroke was closed by the mouseup
                self._extend_stroke(cell)
        elif kind == "mousemove":
            self._stroke_open = False
            if cell is not None and cell != self._hover_cell:
                self._hover_cell = cell
                self._set_status(self._describe_cell(cell))
        elif kind == "mouseup":
            # Presses and moves come from two Event objects, and moves are throttled: the
            # mouseup can arrive before the last move. Close the stroke where the button went up.
            if self._stroke_open:
                self._extend_stroke(cell)
            self._stroke_open, self._last_cell = False, None
        elif kind == "mouseleave":
            self._stroke_open, self._last_cell = False, None

    def _extend_stroke(self, cell):
        """Paint the segment from the stroke's last cell to ``cell`` (None: outside, nothing)."""
        if cell is None:
            return
        start = self._last_cell if self._last_cell is not None else cell
        self.paint(*segment_cells(start, cell))
        self._last_cell = cell

    @guarded("Undo")
    def _on_undo_click(self, _button):
        self.undo()

    @guarded("Clear")
    def _on_clear_click(self, _button):
        self.clear()

    @guarded("Randomize")
    def _on_randomize_click(self, _button):
        rates = {kind: float(w.value) for kind, w in self.rates.items()}
        self.randomize(rates, int(self.seed.value), keep_existing=bool(self.keep_existing.value))

    @guarded("colouring")
    def _on_color_by_change(self, _change):
        self._apply_color_scale()
        self._redraw()

    def _apply_color_scale(self):
        with self._color_scale.hold_sync():
            if self.color_by.value == "conductance":
                self._color_scale.colors = _VIRIDIS
                self._color_scale.min = 0.0
                self._color_scale.max = 1.25e6 * config_of(self._die).device.g_p_s
            else:
                self._color_scale.colors = _DEFECT_COLORS
                self._color_scale.min, self._color_scale.max = 0, _DISPLAY_NO_DEVICE


def _palette_css():
    """A <style> that gives each palette button a bar in its defect colour (the swatches)."""
    rules = [f".paint-palette button:nth-of-type({k}) {{ border-bottom: 5px solid "
             f"{KIND_COLORS[kind] if kind != 'ok' else '#dfe7ef'} !important; }}"
             for k, (_, kind) in enumerate(PALETTE, start=1)]
    return "<style>" + " ".join(rules) + "</style>"
