import numpy as np
import pytest

pytest.importorskip("ipywidgets")

import mtjexplore as mx  # noqa: E402
from mtjexplore.errors import ParameterError  # noqa: E402
from mtjexplore.widgets import CrossbarPainter  # noqa: E402

SHORT = mx.DEFECT_CODES["short"]


def test_mouse_click_paints_the_cell_under_the_pointer(die, mouse):
    painter = CrossbarPainter(die)
    before = painter.counts
    assert int(die.defect.values[40, 77]) == 0
    painter._on_mouse(mouse("mousedown", (40, 77)))
    painter._on_mouse(mouse("mouseup", (40, 77)))
    assert int(painter.die.defect.values[40, 77]) == SHORT
    assert painter.die.g_p.values[40, 77] == pytest.approx(mx.paper_config().device.g_short_s)
    assert painter.counts["short"] == before["short"] + 1
    assert painter.heatmap.color[40, 77] == SHORT
    assert "<b class='count'>%d</b>" % painter.counts["short"] in painter.legend.value


def test_drag_paints_a_connected_stroke_that_undoes_in_one_step(die, mouse):
    painter = CrossbarPainter(mx.ideal_die(mx.paper_config()))
    painter.palette.value = "open"
    painter._on_mouse(mouse("mousedown", (10, 2)))
    painter._on_mouse(mouse("mousemove", (10, 30)))  # a fast move skips cells: the segment is filled
    painter._on_mouse(mouse("mousemove", (20, 30)))
    painter._on_mouse(mouse("mouseup", (20, 30)))
    codes = painter.die.defect.values
    assert (codes[10, 2:31] == mx.DEFECT_CODES["open"]).all()
    assert (codes[10:21, 30] == mx.DEFECT_CODES["open"]).all()
    assert painter.counts["open"] == 29 + 10
    assert "painted open on 39 device(s), last at row 20, col 30" in painter.status.value
    assert painter.n_undo == 1
    painter.undo()
    assert painter.counts["open"] == 0


def test_a_mouseup_before_the_last_move_still_paints_to_where_the_button_went_up(mouse):
    # A fast drag: the throttled moves lag behind, and the mouseup (a separate, unthrottled
    # Event) reaches the kernel before the last move. The stroke must end at the mouseup cell.
    painter = CrossbarPainter(mx.ideal_die(mx.paper_config()))
    painter._on_mouse(mouse("mousedown", (50, 10)))
    painter._on_mouse(mouse("mousemove", (50, 20)))
    painter._on_mouse(mouse("mouseup", (50, 40), buttons=0))
    assert "painted short on 31 device(s), last at row 50, col 40" in painter.status.value
    painter._on_mouse(mouse("mousemove", (50, 35)))  # the late move, sent with the button held
    codes = painter.die.defect.values
    assert (codes[50, 10:41] == SHORT).all()
    assert painter.counts["short"] == 31, "the late move must not paint after the stroke closed"
    assert "last at row 50, col 40" in painter.status.value, "the late move is stale: no hover text"
    assert painter.n_undo == 1, "the part painted at mouseup belongs to the same stroke"
    painter.undo()
    assert painter.counts["short"] == 0


def test_a_mouseup_without_a_stroke_or_outside_the_figure_paints_nothing(mouse):
    painter = CrossbarPainter(mx.ideal_die(mx.paper_config()))
    painter._on_mouse(mouse("mouseup", (30, 30), buttons=0))  # the press was elsewhere
    assert painter.counts["short"] == 0
    painter._on_mouse(mouse("mousedown", (30, 30)))
    outside = {**mouse("mouseup", (30, 30), buttons=0), "relativeX": 899.0}  # in the right margin
    painter._on_mouse(outside)
    assert painter.counts["short"] == 1
    painter._on_mouse(mouse("mousemove", (30, 60)))  # the stroke is closed: no paint
    assert painter.counts["short"] == 1
    painter._on_mouse(mouse("mousemove", (30, 60), buttons=0))  # a hover describes the cell
    assert "row 30, col 60: layer 1" in painter.status.value


def test_moving_without_the_button_only_describes_the_cell(die, mouse):
    painter = CrossbarPainter(die)
    painter._on_mouse(mouse("mousemove", (5, 185), buttons=0))
    assert painter.counts == CrossbarPainter(die).counts
    assert "row 5, col 185: layer 2, input row 5 → neuron 2 (-)" in painter.status.value
    painter._on_mouse(mouse("mousemove", (95, 190), buttons=0))
    assert "no device" in painter.status.value


def test_paint_api_skips_empty_cells_and_rejects_cells_outside_the_array(die):
    painter = CrossbarPainter(die)
    assert painter.paint([95, 3], [190, 3], "stuck_p") == 1  # (95, 190) holds no device
    assert int(painter.die.defect.values[3, 3]) == mx.DEFECT_CODES["stuck_p"]
    with pytest.raises(ParameterError, match=r"cell \(row=101, col=0\) is outside the die's 101 x 200"):
        painter.paint(101, 0)
    with pytest.raises(ParameterError, match="kind must be one of"):
        painter.paint(0, 0, "melted")


def test_erase_restores_a_healthy_device_and_no_op_paints_add_no_undo_step(die):
    painter = CrossbarPainter(die)
    painter.paint(7, 7, "short")
    assert painter.paint(7, 7, "short") == 0
    assert painter.n_undo == 1
    painter.paint(7, 7, "ok")
    assert int(painter.die.defect.values[7, 7]) == 0
    assert painter.die.g_p.values[7, 7] == pytest.approx(mx.paper_config().device.g_p_s)


def test_undo_restores_earlier_dies_in_order_and_history_is_bounded(die):
    painter = CrossbarPainter(die, history=2)
    original = die.defect.values.copy()
    for k in range(3):
        painter.paint(k, 0, "short")
    assert painter.n_undo == 2
    assert painter.undo() and painter.undo()
    assert not painter.undo()
    assert "Nothing to undo" in painter.status.value
    expected = original.copy()
    expected[0, 0] = SHORT  # the first step fell out of the bounded history
    np.testing.assert_array_equal(painter.die.defect.values, expected)


def test_randomize_with_a_seed_is_reproducible_and_follows_the_rates(die):
    rates = {"short": 2e-3, "open": 5e-4}
    a, b, c = CrossbarPainter(die), CrossbarPainter(die), CrossbarPainter(die)
    a.paint(0, 0, "stuck_ap")  # replaced: randomize starts from a die without defects
    a.randomize(rates, 7)
    b.randomize(rates, 7)
    c.randomize(rates, 8)
    np.testing.assert_array_equal(a.die.defect.values, b.die.defect.values)
    same = np.ones(die.defect.shape, bool)
    same[0, 0] = False  # a erased its painted device there: nominal instead of its own spread value
    np.testing.assert_array_equal(a.die.g_p.values[same], b.die.g_p.values[same])
    assert not np.array_equal(a.die.defect.values, c.die.defect.values)
    counts = a.counts
    assert 40 - 4 * 40 ** 0.5 < counts["short"] < 40 + 4 * 40 ** 0.5  # Binomial(20000, 2e-3)
    assert 10 - 4 * 10 ** 0.5 < counts["open"] < 10 + 4 * 10 ** 0.5
    assert counts["stuck_p"] == counts["stuck_ap"] == 0


def test_randomize_can_add_to_existing_defects(die):
    painter = CrossbarPainter(die)
    before = painter.counts["short"]
    painter.randomize({"short": 1e-3}, 1, keep_existing=True)
    assert painter.counts["short"] > before
    assert (painter.die.defect.values[die.defect.values == SHORT] == SHORT).all()


def test_randomize_button_uses_the_widgets_and_errors_show_in_the_status(die, monkeypatch):
    painter = CrossbarPainter(die)
    for kind, widget in painter.rates.items():
        widget.value = 1e-3 if kind == "stuck_p" else 0.0
    painter.seed.value = 3
    painter.randomize_button.click()
    reference = CrossbarPainter(die)
    reference.randomize({"stuck_p": 1e-3}, 3)
    np.testing.assert_array_equal(painter.die.defect.values, reference.die.defect.values)

    def broken(*args, **kwargs):
        raise ParameterError("rates['short'] must be a fraction of devices in [0, 0.5); got 3")

    monkeypatch.setattr("mtjexplore.widgets.painter.randomize_defects", broken)
    painter.randomize_button.click()
    assert "Randomize failed" in painter.status.value and "got 3" in painter.status.value


def test_clear_and_on_change_callbacks(die):
    painter = CrossbarPainter(die)
    seen = []
    painter.on_change(seen.append)
    painter.clear()
    assert sum(v for k, v in painter.counts.items() if k != "ok") == 0
    assert len(seen) == 1 and seen[0] is painter.die
    painter.clear_button.click()
    painter.undo_button.click()
    assert len(seen) == 3


def test_setting_die_loads_it_and_forgets_the_history(small_ensemble):
    painter = CrossbarPainter(small_ensemble.isel(die=0))
    painter.paint(1, 1, "short")
    painter.die = small_ensemble.isel(die=2)
    assert painter.n_undo == 0
    np.testing.assert_array_equal(painter.die.defect.values, small_ensemble.defect.values[2])
    assert "die 2" in painter.legend.value
    with pytest.raises(ParameterError, match="select one"):
        painter.die = small_ensemble


def test_colour_by_conductance_shows_g_p_in_microsiemens(die):
    painter = CrossbarPainter(die, color_by="conductance")
    np.testing.assert_allclose(painter.heatmap.color[0, 0], die.g_p.values[0, 0] * 1e6)
    painter.color_by.value = "defect"
    assert painter.heatmap.color.max() == len(mx.DEFECT_KINDS)  # empty cells get their own colour
    with pytest.raises(ParameterError, match="color_by must be one of"):
        CrossbarPainter(die, color_by="rainbow")


def test_block_outlines_match_the_floorplan(die):
    painter = CrossbarPainter(die)
    fp = mx.paper_config().floorplan
    r0, r1, c0, c1 = fp.block_extent(1)
    assert painter._outlines.x[1].min() == c0 - 0.5 and painter._outlines.x[1].max() == c1 + 0.5
    assert painter._outlines.y[1].max() == r1 + 0.5
    assert painter._labels.text[0].startswith("layer 1: 101 input rows x 90 neurons")
    assert painter._last_label.text[0] == "layer 2: 91 x 10" and painter._last_label.x[0] == c1 + 0.5


def test_listeners_hear_of_a_change_before_the_redraw_and_a_raising_one_leaves_it_drawn(die):
    painter = CrossbarPainter(die)
    seen = []

    def listener(new_die):
        seen.append((int(new_die.defect.values[40, 77]), int(painter.heatmap.color[40, 77])))
        raise RuntimeError("a listener's bug")

    painter.on_change(listener)
    with pytest.raises(RuntimeError, match="a listener's bug"):
        painter.paint(40, 77, "short")
    assert seen == [(SHORT, 0)]  # told first (the explorer's error goes out before the heatmap)
    assert painter.heatmap.color[40, 77] == SHORT and "painted" in painter.status.value
