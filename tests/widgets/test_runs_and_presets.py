"""The state model's pieces: method colours by name, the run book, presets through the core."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

import mtjexplore as mx  # noqa: E402
from mtjexplore.errors import ParameterError  # noqa: E402
from mtjexplore.widgets.presets import (PRESETS, config_with_read_path, preset_die,  # noqa: E402
                                        read_path_note, worst_die)
from mtjexplore.widgets.runs import METHOD_COLORS, OTHER_COLOR, RunBook, method_color, run_name  # noqa: E402


def test_a_run_has_its_methods_colour_whatever_its_name():
    assert method_color("software") == METHOD_COLORS["software"]
    assert method_color("defect-aware, die 7, painted (3 shorts), run 2") == METHOD_COLORS["defect_aware"]
    assert method_color("statistics_aware (new)") == METHOD_COLORS["statistics_aware"]
    assert method_color("something else") == OTHER_COLOR
    assert len(set(METHOD_COLORS.values()) | {OTHER_COLOR}) == len(METHOD_COLORS) + 1


def test_run_names_say_method_die_and_paint():
    assert run_name("defect_aware", die="die 7", painted={"short": 3, "open": 1}, index=2) == \
        "defect-aware, die 7, painted (3 shorts, 1 opens), run 2"
    assert run_name("statistics_aware", index=1) == "statistics-aware, run 1"


def test_shipped_weights_are_read_only_and_pinned(weights_2000):
    book = RunBook({"software": weights_2000})
    with pytest.raises(ValueError, match="read-only"):
        book["software"].w1.values[0, 0] = 5.0
    with pytest.raises(ParameterError, match="shipped weights"):
        book.remove("software")
    name = book.add(weights_2000.copy(deep=True))
    assert name != "software" and book.names == ["software", name]
    book.reset()
    assert book.names == ["software"] and book.add(weights_2000) == name


def test_single_short_presets_put_one_short_in_the_named_layer(die, small_ensemble):
    fp = mx.paper_config().floorplan
    for name, layer in (("output_short", 1), ("hidden_short", 0)):
        new, note = preset_die(name, die, small_ensemble)
        rows, cols = np.nonzero(new.defect.values != die.defect.values)
        assert len(rows) == 1 and new.defect.values[rows[0], cols[0]] == 1
        assert int(mx.defect_counts(new).sum()) == int(mx.defect_counts(die).sum()) + 1
        assert fp.locate(rows[0], cols[0])[0] == layer
        assert note == PRESETS[name][1]


def test_clean_one_percent_clustered_and_worst_presets(die, small_ensemble):
    clean, _ = preset_die("clean", die, small_ensemble)
    assert int(mx.defect_counts(clean).sum()) == 0
    many, _ = preset_die("shorts_1pct", die, small_ensemble, seed=1)
    again, _ = preset_die("shorts_1pct", die, small_ensemble, seed=1)
    n_short = int(mx.defect_counts(many).sel(kind="short") - mx.defect_counts(die).sel(kind="short"))
    assert 150 < n_short < 250 and (many.defect.values == again.defect.values).all()
    clustered, _ = preset_die("clustered", die, small_ensemble, seed=2)
    assert clustered.attrs["label"] == "clustered die (seed 2)"
    worst, note = preset_die("worst", die, small_ensemble, errors=[0.1, 0.4, 0.2, 0.3])
    assert int(worst.die) == 1 and "die 1" in note
    shorts = mx.defect_counts(small_ensemble).sel(kind="short").values
    assert worst_die(small_ensemble) == int(small_ensemble.die.values[np.argmax(shorts)])
    with pytest.raises(ParameterError, match="preset must be one of"):
        preset_die("nope", die, small_ensemble)


def test_the_read_path_decides_how_hard_a_short_pulls():
    weak, strong = (config_with_read_path(mx.paper_config(), r) for r in (4500.0, 300.0))
    assert strong.device.short_to_weight_ratio > 3 * weak.device.short_to_weight_ratio
    assert "300 Ω" in read_path_note(strong) and "unit weights" in read_path_note(strong)
