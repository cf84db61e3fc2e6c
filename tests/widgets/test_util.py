import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from mtjexplore.widgets._util import cell_at, png_bytes, segment_cells  # noqa: E402

MARGIN = {"top": 10, "bottom": 20, "left": 30, "right": 40}


def _event(x, y, w=370, h=130):
    return {"relativeX": x, "relativeY": y, "boundingRectWidth": w, "boundingRectHeight": h}


def test_cell_at_maps_plot_corners_and_rejects_margins():
    # plot area: x 30..330 (300 px, 10 cols), y 10..110 (100 px, 5 rows)
    assert cell_at(_event(30, 10), MARGIN, (5, 10)) == (0, 0)
    assert cell_at(_event(329.9, 109.9), MARGIN, (5, 10)) == (4, 9)
    assert cell_at(_event(95, 55), MARGIN, (5, 10)) == (2, 2)
    assert cell_at(_event(29, 50), MARGIN, (5, 10)) is None
    assert cell_at(_event(100, 111), MARGIN, (5, 10)) is None
    assert cell_at({"relativeX": 1}, MARGIN, (5, 10)) is None


def test_cell_at_follows_the_rendered_size():
    # the same relative position in a figure drawn twice as wide lands on the same cell
    assert cell_at(_event(30 + 150, 60), MARGIN, (5, 10)) == cell_at(
        _event(30 + 300, 60, w=670), MARGIN, (5, 10))


@pytest.mark.parametrize("start,end", [((0, 0), (0, 7)), ((5, 5), (0, 0)), ((2, 9), (8, 1)), ((3, 3), (3, 3))])
def test_segment_cells_is_connected_and_ends_at_both_points(start, end):
    rows, cols = segment_cells(start, end)
    assert (rows[0], cols[0]) == start and (rows[-1], cols[-1]) == end
    steps = np.maximum(np.abs(np.diff(rows)), np.abs(np.diff(cols)))
    assert (steps <= 1).all()


def test_png_bytes_has_the_right_size_header():
    data = png_bytes(np.zeros((7, 5, 3), np.uint8))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 5 and int.from_bytes(data[20:24], "big") == 7
