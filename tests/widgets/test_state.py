"""The link format (mtjexplore.widgets.state): round trips, and every malformed link gives the
default state with a note that names the bad setting."""

import pytest

pytest.importorskip("ipywidgets")

from mtjexplore.widgets.state import MAX_CELLS, AppState, StateLimits, decode, encode  # noqa: E402

LIMITS = StateLimits(die_ids=range(36), shape=(101, 200), presets=("clean", "clustered"),
                     methods=("software", "defect_aware"), panels=("painter", "training"),
                     controls=("randomize", "train"))


def test_a_full_state_round_trips():
    state = AppState(die=7, preset="clustered", seed=3,
                     cells=(("short", 50, 100), ("short", 50, 101), ("open", 0, 0), ("ok", 3, 4)),
                     method="defect_aware", r_series_ohm=750.0, panels=("painter",),
                     hidden=("randomize", "train"))
    query = encode(state)
    assert "train_hide=true" in query and "rs_ohm=750" in query
    assert decode(query, LIMITS) == (state, [])
    assert decode("?" + query, LIMITS) == (state, [])


def test_the_default_state_is_an_empty_query():
    assert encode(AppState()) == ""
    assert decode("", LIMITS) == (AppState(), [])
    assert decode(None, LIMITS) == (AppState(), [])


@pytest.mark.parametrize("query, named", [
    ("die=99", "die=99"), ("die=abc", "die=abc"), ("die=1.5", "die=1.5"),
    ("seed=x", "seed=x"), ("short=50", "short=50"), ("short=50.1000", "cell 50.1000"),
    ("short=-1.3", "short=-1.3"), ("open=1.2,,3.4", "open="), ("method=magic", "method=magic"),
    ("rs_ohm=nan", "rs_ohm=nan"), ("rs_ohm=-5", "rs_ohm=-5"), ("rs_ohm=1e9", "rs_ohm=1e9"),
    ("panels=painter,nope", "nope"), ("wings_hide=true", "wings"), ("train_hide=maybe", "train_hide"),
    ("die=1&die=2", "die is given twice"), ("preset=%00", "preset="),
])
def test_a_malformed_link_gives_the_default_state_and_names_the_setting(query, named):
    state, notes = decode(query, LIMITS)
    assert state == AppState()
    assert len(notes) == 1 and named in notes[0] and "default state is shown" in notes[0]


def test_a_good_setting_next_to_a_bad_one_is_not_applied_either():
    state, notes = decode("die=3&short=1.2&seed=nope", LIMITS)
    assert state == AppState() and "seed=nope" in notes[0]


def test_unknown_settings_are_ignored_with_a_note_and_server_keys_silently():
    state, notes = decode("die=3&colour=blue&voila-template=lab", LIMITS)
    assert state == AppState(die=3)
    assert notes == ["the link's setting 'colour' is not known here and was ignored"]


def test_too_many_cells_are_refused():
    cells = ",".join(f"{r}.{c}" for r in range(101) for c in range(MAX_CELLS // 100 + 1))
    state, notes = decode(f"short={cells}", LIMITS)
    assert state == AppState() and f"at most {MAX_CELLS}" in notes[0]
