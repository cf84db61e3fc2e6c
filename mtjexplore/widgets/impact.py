"""What a paint did: the change in error against the die as loaded, its history, flipped digits.

:class:`PaintImpact` is told the error and the predictions on the whole test set after every
change of the die (:meth:`PaintImpact.show`) and after every load (:meth:`PaintImpact.rebase`:
the new "die as loaded"). It shows

* the error and its change against the die as loaded, with its sign (``delta-error``);
* a small chart of the error after each change since the load (``error-history``);
* which test images changed their prediction (``flipped-digits``: up to eight, each
  ``digit-broken`` -- was right, now wrong -- or ``digit-fixed``), with the counts.

CSS classes: ``paint-impact`` (the composite), ``delta-error``, ``error-history``,
``flipped-summary``, ``flipped-digits``, ``test-digits`` (the digits shown, each caption
``digit-correct`` or ``digit-wrong``).
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Figure, LinearScale, Lines

from ._util import add_classes, digit_png, integer_ticks

N_DIGITS = 8
HISTORY = 40  # changes kept in the error history


class PaintImpact(widgets.VBox):
    """Cause and effect of painting: Δerror with sign, error history, flipped test digits.

    Parameters
    ----------
    test : ImageData
        The test images the predictions are made on (their labels decide right and wrong).

    Attributes
    ----------
    delta_label : ipywidgets.HTML
        The Δerror line (CSS ``delta-error``), not among the children: the owner places it.
    delta : float or None
        Error now minus error on the die as loaded (fraction).
    flipped : numpy.ndarray
        Indices of test images whose prediction differs from the die as loaded.
    errors : list of float
        Error (fraction) at the load and after each change since (the history chart).
    """

    def __init__(self, test):
        super().__init__()
        self.test = test
        self.delta, self.flipped, self.errors = None, np.zeros(0, np.int64), []
        self._base_predictions, self._base_label = None, "the die as loaded"
        self.delta_label = add_classes(widgets.HTML("Paint a device to see what it changes."), "delta-error")
        self._x, self._y = LinearScale(min=0, max=1, allow_padding=False), LinearScale()
        self._line = Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": self._x, "y": self._y},
                           colors=["#b00020"], marker="circle", marker_size=16, stroke_width=1.5)
        self._x_axis = Axis(scale=self._x, label="change since load", tick_values=[0, 1], tick_format="d")
        self.history_figure = add_classes(Figure(
            marks=[self._line], axes=[self._x_axis, Axis(scale=self._y, side="left", label="error (%)",
                                                         num_ticks=3, tick_format=".2f")],
            fig_margin={"top": 8, "bottom": 34, "left": 50, "right": 8}, animation_duration=0,
            layout=widgets.Layout(width="100%", max_width="480px", height="150px")), "error-history")
        self.summary = add_classes(widgets.HTML(), "flipped-summary")
        self._build_digits()
        # the owner places delta_label where the eye is while painting (the explorer: above the
        # crossbar); the rest stacks here
        self.children = [self.history_figure, self.summary, self.digits]
        add_classes(self, "paint-impact")

    def _build_digits(self):
        self._images, self._captions, boxes = [], [], []
        for _ in range(N_DIGITS):
            image = widgets.Image(format="png", layout={"width": "42px", "height": "42px"})
            caption = widgets.HTML()
            self._images.append(image)
            self._captions.append(caption)
            boxes.append(widgets.VBox([image, caption], layout={"align_items": "center",
                                                                "width": "52px", "margin": "0 2px"}))
        self._boxes = boxes
        self.digits = add_classes(widgets.HBox(boxes, layout={"flex_flow": "row wrap"}),
                                  "test-digits", "flipped-digits")

    # ------------------------------------------------------------------ public
    def rebase(self, error, predictions, label="the die as loaded"):
        """A new die as loaded (or new weights): its error and predictions are the reference."""
        self._base_predictions, self._base_label = predictions, label
        self.errors = [] if error is None else [float(error)]
        self.delta, self.flipped = None, np.zeros(0, np.int64)
        self._draw_history()
        self.delta_label.value = ("No weights yet: train some." if error is None else
                                  f"Error on {html.escape(label)}: <b>{100 * error:.2f} %</b>. "
                                  "Paint a device to see what it changes.")
        self._show_digits(predictions, np.arange(min(N_DIGITS, len(self.test))), flipped=False)

    def show(self, error, predictions):
        """After a change of the die: Δerror, history point, flipped digits."""
        if error is None or self._base_predictions is None or not self.errors:
            return
        self.delta = float(error) - self.errors[0]
        self.errors = (self.errors + [float(error)])[-HISTORY:]
        self.flipped = np.flatnonzero(np.asarray(predictions) != np.asarray(self._base_predictions))
        self._draw_history()
        self.delta_label.value = self._delta_html(error)
        shown = self.flipped[:N_DIGITS] if self.flipped.size else np.arange(min(N_DIGITS, len(self.test)))
        self._show_digits(predictions, shown, flipped=bool(self.flipped.size))

    # ------------------------------------------------------------------ drawing
    def _delta_html(self, error):
        delta = 100 * self.delta
        color = "#b00020" if delta > 0.005 else "#1a7f37" if delta < -0.005 else "#555"
        word = "worse" if delta > 0.005 else "better" if delta < -0.005 else "no change"
        return (f"Error now <b>{100 * error:.2f} %</b>: <b class='delta-value' style='color:{color}'>"
                f"Δ {delta:+.2f} points</b> ({word}) against {html.escape(self._base_label)} "
                f"({100 * self.errors[0]:.2f} %)")

    def _draw_history(self):
        n = len(self.errors)
        top = max(n - 1, 1)
        with self._line.hold_sync():
            self._line.x = np.arange(n, dtype=float)
            self._line.y = 100 * np.asarray(self.errors, dtype=float)
        self._x.max = top
        self._x_axis.tick_values = integer_ticks(0, top)
        if n:  # at least ±0.05 points around the values, so the 0.01 % ticks never repeat
            low, high = 100 * min(self.errors), 100 * max(self.errors)
            pad = max(0.05, 0.1 * (high - low))
            with self._y.hold_sync():
                self._y.min, self._y.max = low - pad, high + pad

    def _show_digits(self, predictions, indices, flipped):
        base = self._base_predictions
        for k, (image, caption, box) in enumerate(zip(self._images, self._captions, self._boxes)):
            box.layout.display = None if k < len(indices) else "none"
            if k >= len(indices):
                continue
            index = int(indices[k])
            truth = int(self.test.y[index])
            image.value = digit_png(self.test.images[index], scale=4)
            caption.value = _caption(truth, None if predictions is None else int(predictions[index]),
                                     None if base is None or not flipped else int(base[index]))
        n = int(self.flipped.size)
        if not flipped:
            self.summary.value = ("<b>Test digits</b>: prediction on this die "
                                  "(&#10007;n: wrong, true label n)")
            return
        broken = int(np.sum(np.asarray(predictions)[self.flipped] != self.test.y[self.flipped]))
        self.summary.value = (f"<b>{n} of {len(self.test):,} test digits flipped</b> against "
                              f"{html.escape(self._base_label)}: {broken} now wrong, {n - broken} now "
                              f"right{'; the first 8:' if n > N_DIGITS else ':'} (was → now)")


def _caption(truth, predicted, before):
    if predicted is None:
        return f"<span>true {truth}</span>"
    ok = predicted == truth
    css = "digit-correct" if ok else "digit-wrong"
    css += "" if before is None else (" digit-fixed" if ok else " digit-broken")
    color = "#1a7f37" if ok else "#b00020"
    mark = "&#10003;" if ok else f"&#10007;{truth}"
    was = "" if before is None else f"{before}→"
    return (f"<span class='{css}' style='color:{color};white-space:nowrap' title='true label {truth}'>"
            f"{was}<b>{predicted}</b> {mark}</span>")
