"""Small helpers shared by the widget composites: geometry of mouse events, colours, PNG, guards.

Nothing here knows device physics; it turns pixels into cells and arrays into pictures.
"""

from __future__ import annotations

import functools
import html
import traceback
import zlib
import struct

import numpy as np

# Colour and label of each defect kind (painter, legends, neuron view): the registry's.
from ..defects import KIND_COLORS, KIND_LABELS  # noqa: F401 - re-exported



def cell_at(event, margin, shape):
    """Array cell ``(row, col)`` under a mouse event on a bqplot Figure, or None outside the plot.

    The plot area is the figure's bounding rectangle minus ``fig_margin``; row 0 is at the top.

    Parameters
    ----------
    event : dict
        An ipyevents mouse event with ``relativeX``, ``relativeY``, ``boundingRectWidth`` and
        ``boundingRectHeight`` (pixels).
    margin : dict
        The figure's ``fig_margin`` (``top``, ``bottom``, ``left``, ``right`` in pixels).
    shape : tuple of int
        ``(n_rows, n_cols)`` of the array drawn over the whole plot area.

    Examples
    --------
    >>> margin = {"top": 10, "bottom": 10, "left": 10, "right": 10}
    >>> ev = {"relativeX": 15, "relativeY": 105, "boundingRectWidth": 220, "boundingRectHeight": 120}
    >>> cell_at(ev, margin, (10, 20))
    (9, 0)
    """
    try:
        width = float(event["boundingRectWidth"]) - margin["left"] - margin["right"]
        height = float(event["boundingRectHeight"]) - margin["top"] - margin["bottom"]
        fx = (float(event["relativeX"]) - margin["left"]) / width
        fy = (float(event["relativeY"]) - margin["top"]) / height
    except (KeyError, TypeError, ZeroDivisionError):
        return None
    if not (0 <= fx < 1 and 0 <= fy < 1):
        return None
    return min(int(fy * shape[0]), shape[0] - 1), min(int(fx * shape[1]), shape[1] - 1)


def segment_cells(start, end):
    """Cells on the straight segment from ``start`` to ``end`` (both included, no gaps).

    A fast drag moves several cells between two mouse events; painting the whole segment keeps
    the stroke connected.

    Examples
    --------
    >>> rows, cols = segment_cells((0, 0), (2, 5))
    >>> list(zip(rows.tolist(), cols.tolist()))
    [(0, 0), (0, 1), (1, 2), (1, 3), (2, 4), (2, 5)]
    """
    (r0, c0), (r1, c1) = start, end
    n = max(abs(r1 - r0), abs(c1 - c0)) + 1
    t = np.linspace(0.0, 1.0, n)
    rows = np.floor(r0 + t * (r1 - r0) + 0.5).astype(np.int64)
    cols = np.floor(c0 + t * (c1 - c0) + 0.5).astype(np.int64)
    return rows, cols


def png_bytes(rgb):
    """Encode an ``(h, w, 3)`` uint8 array as PNG bytes (no imaging library needed).

    Examples
    --------
    >>> png_bytes(np.zeros((2, 3, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


def digit_png(image, scale=6, border=None):
    """PNG of one binary image (1 = black ink on white), upscaled ``scale`` x, optional border colour."""
    ink = np.asarray(image, dtype=float)
    grey = (255 * (1 - ink)).astype(np.uint8)
    rgb = np.repeat(np.repeat(np.stack([grey] * 3, axis=-1), scale, axis=0), scale, axis=1)
    if border is not None:
        color = np.array([int(border[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
        rgb = np.pad(rgb, ((2, 2), (2, 2), (0, 0)))
        rgb[:2], rgb[-2:], rgb[:, :2], rgb[:, -2:] = color, color, color, color
    return png_bytes(rgb)


def swatch(color, label, count=None):
    """HTML of a small coloured square with a label (and a count)."""
    number = "" if count is None else f" <b class='count'>{count}</b>"
    return (f"<span class='swatch' style='display:inline-block;margin-right:12px'>"
            f"<span style='display:inline-block;width:12px;height:12px;background:{color};"
            f"border:1px solid #888;vertical-align:middle;margin-right:4px'></span>"
            f"{html.escape(label)}{number}</span>")


def error_html(exc, where):
    """A short visible error message (the traceback's last line) for a status line."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return (f"<span class='widget-error' style='color:#b00020'>{html.escape(where)} failed: "
            f"{html.escape(text)}</span>")


def guarded(where):
    """Decorate a UI handler method so that an exception shows in ``self._show_error`` instead of
    vanishing into the kernel log (ipywidgets callbacks have no caller to raise to)."""
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a UI handler must not lose errors
                self._show_error(exc, where)
                return None
        return wrapper
    return decorate


def add_classes(widget, *names):
    """``widget.add_class`` for several names; returns the widget."""
    for name in names:
        widget.add_class(name)
    return widget


def integer_ticks(low, high, n=5):
    """At most ``n`` distinct whole-number ticks from ``low`` to ``high`` (no repeated labels).

    Examples
    --------
    >>> integer_ticks(0, 1)
    [0, 1]
    >>> integer_ticks(1, 20)
    [1, 6, 10, 15, 20]
    """
    low, high = int(np.floor(low)), int(np.ceil(high))
    high = max(high, low + 1)
    return sorted({int(v) for v in np.linspace(low, high, min(n, high - low + 1)).round()})
