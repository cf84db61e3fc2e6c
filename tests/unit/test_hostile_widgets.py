"""Hostile widget calls (issue 13): ``paint()`` and ``load_die()`` validate like the core, and a
failed training shows one line on the page with the traceback in the server log."""

import logging
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("ipywidgets")

import mtjexplore as mx  # noqa: E402
from mtjexplore.errors import ParameterError  # noqa: E402
from mtjexplore.widgets.explorer import _die_id  # noqa: E402
from mtjexplore.widgets.painter import CrossbarPainter  # noqa: E402
from mtjexplore.widgets.training_panel import TrainingPanel  # noqa: E402
from tests._hostile import Tally, hypothesis_settings, report_fixture  # noqa: E402

TALLY = Tally("widgets")
CONFIG = mx.paper_config()
N_ROWS, N_COLS = CONFIG.floorplan.shape
HYPO = hypothesis_settings(150)


_report = report_fixture(TALLY)


@pytest.fixture(scope="module")
def painter():
    return CrossbarPainter(mx.ideal_die(CONFIG))


SCALAR = st.one_of(st.integers(-3, 250), st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.sampled_from([1.7, 2.0, -0.0, 100.5, np.int32(4), np.float32(3.0), True, "3", None]))
INDEX = st.one_of(SCALAR, st.lists(SCALAR, min_size=0, max_size=4))


def expected_cells(rows, cols):
    """The cells a valid call paints, or None when the call must be refused."""
    def whole(v):
        return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                and math.isfinite(v) and float(v) == int(v))

    r, c = (v if isinstance(v, list) else [v] for v in (rows, cols))
    if not (all(map(whole, r)) and all(map(whole, c))):
        return None
    if len(r) != len(c) and 1 not in (len(r), len(c)):
        return None
    if not r or not c:
        return set()
    r, c = np.broadcast_arrays(np.array(r, dtype=float), np.array(c, dtype=float))
    if ((r < 0) | (r >= N_ROWS) | (c < 0) | (c >= N_COLS)).any():
        return None
    return {(int(a), int(b)) for a, b in zip(r, c)}


@HYPO
@given(rows=INDEX, cols=INDEX)
def test_paint_paints_exactly_the_cells_or_names_the_bad_value(painter, rows, cols):
    painter.clear()
    expected = expected_cells(rows, cols)
    if expected is None:
        text = TALLY.rejects(lambda: painter.paint(rows, cols, "short"), "paint: ", error=ParameterError)
        assert any(w in text for w in ("whole number", "outside the die's", "same length"))
        return
    present = {cell for cell in expected if CONFIG.floorplan.present[cell]}

    def painted(_n):
        codes = painter.die.defect.values
        return {tuple(map(int, rc)) for rc in np.argwhere(codes == mx.DEFECT_CODES["short"])} == present

    TALLY.accepts(lambda: painter.paint(rows, cols, "short"), painted)


@pytest.mark.parametrize("rows, cols, phrase", [
    (1.7, 0, "row must be a whole number (not rounded for you); got 1.7"),
    (0, float("nan"), "col must be a whole number (not rounded for you); got nan"),
    ([0, 1], [0, 1, 2], "got 2 rows and 3 cols"),
    (0, 200, "cell (row=0, col=200) is outside the die's 101 x 200 array (rows 0..100, cols 0..199)"),
    ([[0]], [0], "1-D sequence"),
])
def test_paint_messages_name_the_value_and_the_range(painter, rows, cols, phrase):
    TALLY.rejects(lambda: painter.paint(rows, cols, "open"), phrase, error=ParameterError)


IDS = list(range(36))


@HYPO
@given(value=st.one_of(st.integers(-5, 1000), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
                       st.sampled_from([np.int64(35), np.float64(2.0), 999, None])))
def test_die_ids_of_a_36_die_ensemble(value):
    ok = (not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.number))
          and math.isfinite(value) and float(value) == int(value) and int(value) in IDS)
    if ok:
        TALLY.accepts(lambda: _die_id(value, IDS), lambda d: d == int(value))
    else:
        TALLY.rejects(lambda: _die_id(value, IDS), "load_die: die must be one of this ensemble's 36 "
                      "die ids (0..35)", error=ParameterError)


def test_load_die_999_on_a_36_die_ensemble(data_small):
    ensemble = mx.sample_dies(CONFIG, 36, seed=0)
    train, test = data_small
    from mtjexplore.widgets import Explorer

    explorer = Explorer(ensemble, train, test)
    try:
        for bad in (999, -1, 1.5, float("nan"), "3", True):
            TALLY.rejects(lambda: explorer.load_die(bad), "die ids (0..35)", error=ParameterError)
        TALLY.accepts(lambda: explorer.load_die(35.0), lambda _: explorer.die_select.value == 35)
    finally:
        explorer.close()


@pytest.fixture(scope="module")
def data_small():
    return mx.load_mnist(n_train=500, n_test=200)


def test_a_failed_run_shows_one_line_and_logs_the_traceback(data_small, caplog):
    train, test = data_small
    panel = TrainingPanel(CONFIG, train, test, die_getter=lambda: mx.sample_dies(CONFIG, 2, seed=0))
    panel.method.value, panel.epochs.value = "defect_aware", 1
    with caplog.at_level(logging.ERROR, logger="mtjexplore.widgets"):
        assert panel.start()
        assert panel.wait(120)
    page = panel.status.value + "".join(o.get("text", "") for o in panel.log.outputs)
    TALLY.counts["tried"] += 1
    assert "Training failed: ParameterError:" in page and "Traceback" not in page
    assert "File \"" not in page and ".py" not in page
    assert page.count("\n") <= 1
    assert any(r.exc_info and "Traceback" in caplog.text for r in caplog.records)
    TALLY.counts["clean errors"] += 1
