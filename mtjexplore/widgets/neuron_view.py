"""One hidden neuron's input weights as an image, with its defective devices marked.

CSS classes: ``neuron-view`` (the figure), ``neuron-select`` (the slider), ``neuron-info``
(the caption listing the defective devices).
"""

from __future__ import annotations

import html
import math

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, ColorScale, Figure, HeatMap, LinearScale, Scatter

from ..die import DEFECT_KINDS
from ._util import KIND_COLORS, KIND_LABELS, add_classes

_SEVERITY = ("short", "open", "stuck_ap", "stuck_p")  # which kind a marker shows first


class NeuronView(widgets.VBox):
    """A hidden neuron's ``sqrt(n_inputs)``-square weight image; crosses on defective inputs.

    Parameters
    ----------
    config : CrossbarConfig
        Network sizes and floorplan.

    Attributes
    ----------
    select : ipywidgets.IntSlider
        The neuron shown.
    info : ipywidgets.HTML
        The caption: the neuron, its colour key and its defective devices.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        n_inputs = config.n_inputs
        side = math.isqrt(n_inputs)
        self._image_shape = (side, side) if side * side == n_inputs else (1, n_inputs)
        x, y = LinearScale(), LinearScale(reverse=True)
        self._map = HeatMap(x=np.arange(self._image_shape[1]), y=np.arange(self._image_shape[0]),
                            color=np.zeros(self._image_shape),
                            scales={"x": x, "y": y, "color": ColorScale(
                                min=-1, max=1, colors=["#3b6fb6", "#f7f7f7", "#c0392b"])})
        self.marks = Scatter(x=[], y=[], scales={"x": x, "y": y}, marker="cross",
                             default_size=90, colors=["black"], stroke="white")
        self.figure = add_classes(Figure(
            marks=[self._map, self.marks],
            axes=[Axis(scale=x, num_ticks=0, visible=False),
                  Axis(scale=y, side="left", num_ticks=0, visible=False)],
            fig_margin={"top": 6, "bottom": 6, "left": 6, "right": 6}, padding_x=0.0, padding_y=0.0,
            animation_duration=0, display_toolbar=False,
            layout=widgets.Layout(width="200px", height="200px")), "neuron-view")
        self.select = add_classes(widgets.IntSlider(
            value=0, min=0, max=config.n_hidden - 1, description="Neuron",
            tooltip="which hidden neuron's 10 x 10 input weights to show"), "neuron-select")
        self.info = add_classes(widgets.HTML(), "neuron-info")
        self.children = [widgets.HTML("<b>One hidden neuron</b> (its 10 x 10 input weights)"),
                         self.select, widgets.HBox([self.figure, self.info])]
        self.info.layout.width = "260px"

    def update(self, weights, die):
        """Draw neuron ``select.value`` of ``weights`` (None: zeros) with ``die``'s defects marked."""
        j = int(self.select.value)
        n_inputs, (rows, cols) = self.config.n_inputs, self._image_shape
        values = np.zeros(n_inputs) if weights is None else weights.w1.values[:n_inputs, j].astype(float)
        marked = self._defective_inputs(die, j)
        pixels = [i for i in marked if i < n_inputs]
        with self._map.hold_sync():
            self._map.color = values.reshape(rows, cols)
        with self.marks.hold_sync():
            self.marks.x = np.array([i % cols for i in pixels], dtype=float)
            self.marks.y = np.array([i // cols for i in pixels], dtype=float)
            self.marks.colors = [KIND_COLORS[marked[i]] for i in pixels] or ["black"]
        bias = marked.get(n_inputs)
        listed = ", ".join(f"input {i} ({KIND_LABELS[k]})" for i, k in sorted(marked.items()) if i < n_inputs)
        self.info.value = (f"neuron {j}: red +1, blue -1; crosses mark defective devices"
                           f"{': ' + html.escape(listed) if listed else ' (none)'}"
                           f"{'; bias device ' + KIND_LABELS[bias] if bias else ''}")

    def _defective_inputs(self, die, neuron):
        """``{input row: kind}`` of the neuron's defective devices (worst kind first)."""
        codes = self.config.floorplan.gather(np.asarray(die.defect.values), 0)[:, neuron, :]
        marked = {}
        for kind in _SEVERITY:
            hit = (codes == DEFECT_KINDS.index(kind)).any(axis=1)
            for i in np.flatnonzero(hit):
                marked.setdefault(int(i), kind)
        return marked
