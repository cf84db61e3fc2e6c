"""The apps' state model headless: runs never touch the shipped weights or the baseline, each
run has its own name and its method's colour, Reset, presets, cause and effect of a paint, links."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

import mtjexplore as mx  # noqa: E402
from mtjexplore.widgets import METHOD_COLORS, Explorer, StudyApp  # noqa: E402
from mtjexplore.widgets.state import decode  # noqa: E402

TIMEOUT_S = 120
OUTPUT_BIAS_SHORTS = [(1, 90, k, "+") for k in range(3)]


@pytest.fixture()
def explorer(small_ensemble, data_2000, weights_2000):
    train, test = data_2000
    app = Explorer(small_ensemble, train, test, weights={"software": weights_2000},
                   ensemble_factory=lambda config: mx.sample_dies(config, 4, seed=0))
    yield app
    app.close()


def _train(panel, method, epochs=1):
    panel.method.value = method
    panel.epochs.value = epochs
    assert panel.start() and panel.wait(TIMEOUT_S)


def test_runs_never_change_the_shipped_weights_or_the_baseline(explorer, weights_2000):
    w1 = weights_2000.w1.values.copy()
    baseline = explorer.baseline
    assert explorer.ensemble_view.baseline == baseline
    for method in ("software", "software"):
        _train(explorer.training, method)
    assert explorer.runs.names == ["software", "software, run 1", "software, run 2"]
    np.testing.assert_array_equal(explorer.runs["software"].w1.values, w1)
    assert explorer.baseline == baseline == explorer.ensemble_view.baseline
    explorer.weights_select.value = "software"
    assert explorer.remove_button.disabled, "shipped weights cannot be removed"


def test_a_defect_aware_run_is_named_after_its_die_and_paint(explorer):
    explorer.load_die(2)
    explorer.painter.paint([10, 11, 12], [5, 5, 5], "short")
    _train(explorer.training, "defect_aware")
    name = "defect-aware, die 2, painted (3 shorts), run 1"
    assert explorer.weights_select.value == name and name in explorer.ensemble_view.methods
    # the new weights are compared on the die as loaded, and the paint still counts
    assert explorer.impact.delta == pytest.approx(explorer.current_error - explorer.impact.errors[0])
    assert "Δ" in explorer.impact.delta_label.value and explorer.ensemble_view.selected_die == 2
    assert not explorer.remove_button.disabled
    explorer.remove_run(name)
    assert explorer.ensemble_view.methods == ["software"] and explorer.weights_select.value == "software"


def test_colours_stay_with_their_method_after_reruns(explorer):
    _train(explorer.training, "statistics_aware")
    _train(explorer.training, "software")
    _train(explorer.training, "statistics_aware")
    colors = {m: s.colors[0] for m, s in zip(explorer.ensemble_view.methods, explorer.ensemble_view._strips)}
    assert colors == {"software": METHOD_COLORS["software"],
                      "statistics-aware, run 1": METHOD_COLORS["statistics_aware"],
                      "software, run 2": METHOD_COLORS["software"],
                      "statistics-aware, run 3": METHOD_COLORS["statistics_aware"]}


def test_a_paint_shows_signed_delta_flipped_digits_and_rings(explorer, weights_2000, data_2000):
    _, test = data_2000
    before = explorer.current_error
    cells = [mx.paper_config().floorplan.position(*spec) for spec in OUTPUT_BIAS_SHORTS]
    explorer.painter.paint(*zip(*cells), "short")
    delta = explorer.current_error - before
    assert explorer.impact.delta == pytest.approx(delta, abs=1e-12) and delta != 0
    assert f"Δ {100 * delta:+.2f} points" in explorer.impact.delta_label.value
    assert explorer.impact.errors == pytest.approx([before, explorer.current_error])
    from mtjexplore.fast_eval import DieEvaluator

    evaluator = DieEvaluator(weights_2000, test)
    flipped = np.flatnonzero(evaluator.predict(explorer.painter.loaded_die, range(len(test)))
                             != evaluator.predict(explorer.painter.die, range(len(test))))
    np.testing.assert_array_equal(explorer.impact.flipped, flipped)
    assert f"{flipped.size} of {len(test):,} test digits flipped" in explorer.impact.summary.value
    assert sorted(zip(*explorer.painter.changed_cells)) == sorted(cells)
    np.testing.assert_array_equal(sorted(explorer.painter._flash.x), sorted(c for _, c in cells))
    explorer.painter.undo()
    assert explorer.impact.delta == pytest.approx(0.0, abs=1e-12)


def test_presets_load_a_scenario_and_reset_returns_to_the_loaded_state(explorer):
    shorts = explorer.painter.counts["short"]
    explorer.preset_buttons["output_short"].click()
    assert explorer.painter.counts["short"] == shorts + 1
    assert "output layer" in explorer.scenario_note.value
    assert explorer.impact.delta == pytest.approx(explorer.current_error - explorer.impact.errors[0])
    assert explorer.link_box.query == "die=0&preset=output_short"
    _train(explorer.training, "software")
    explorer.load_die(3)
    explorer.painter.paint(0, 0, "open")
    explorer.reset()
    assert explorer.die_select.value == 0 and explorer.runs.names == ["software"]
    assert explorer.painter.painted_cells() == [] and explorer.ensemble_view.methods == ["software"]
    assert (explorer.painter.die.defect.values == explorer.ensemble.defect.values[0]).all()
    assert explorer.link_box.query == "die=0"


def test_the_worst_die_preset_loads_the_die_with_the_highest_error(explorer):
    explorer.apply_preset("worst")
    errors = explorer.ensemble_view.results.error.sel({"method": "software"}).values
    assert explorer.die_select.value == int(np.argmax(errors))


def test_the_read_path_rebuilds_the_dies_and_a_short_pulls_harder(explorer):
    shorts = explorer.painter.counts["short"]
    explorer.apply_preset("output_short")
    weak = explorer.impact.delta
    explorer.read_path.value = 300.0
    assert explorer.config.device.r_series_ohm == 300.0
    assert explorer.painter.counts["short"] == shorts + 1, "the scenario survives the change"
    assert explorer.link_box.query == "die=0&preset=output_short&rs_ohm=300"
    assert explorer.impact.delta > weak, "the same short costs more with a weaker read path"
    assert "300 Ω" in explorer.read_path_note.value


def test_the_link_holds_die_paint_method_and_restores_exactly(explorer, small_ensemble, data_2000,
                                                                 weights_2000):
    explorer.load_die(2)
    explorer.painter.paint([4, 5], [6, 7], "short")
    explorer.training.method.value = "statistics_aware"
    query = explorer.link_box.query
    assert query == "die=2&short=4.6%2C5.7&method=statistics_aware"
    assert f"href='?{query}'" in explorer.link_box.link.value.replace("&amp;", "&")
    train, test = data_2000
    fresh = Explorer(small_ensemble, train, test, weights={"software": weights_2000})
    assert fresh.restore(query + "&randomize_hide=true&panels=painter") == []
    assert (fresh.painter.die.defect.values == explorer.painter.die.defect.values).all()
    assert fresh.current_error == explorer.current_error
    assert fresh.training.method.value == "statistics_aware"
    assert fresh.randomize_box.layout.display == "none" and fresh.training_section.layout.display == "none"
    fresh.close()


def test_a_malformed_link_opens_the_default_state_with_a_note(explorer):
    notes = explorer.restore("die=2&short=4.x")
    assert explorer.die_select.value == 0 and explorer.painter.painted_cells() == []
    assert "short=4.x" in notes[0] and "short=4.x" in explorer.link_box.note.value
    assert "Traceback" not in explorer.link_box.note.value


def test_the_study_app_state_model(small_ensemble, data_2000, weights_2000):
    train, test = data_2000
    results = mx.evaluate(weights_2000, small_ensemble, test).expand_dims(method=["software"])
    study = results.assign(ideal_error=0.1)
    app = StudyApp(small_ensemble, mx.DefectStatistics.fit(small_ensemble), train, test, study,
                   weights=weights_2000)
    assert app.selected_die == 0 and "Selected: <b>die 0" in app.ensemble_view.selected_label.value
    assert not app.die_map.editable and app.die_map.painted_cells() == []
    app.ensemble_view.select(2)
    assert int(app.die_map.die.die) == 2
    _train(app.training, "defect_aware")
    assert app.ensemble_view.methods == ["software", "defect-aware, die 2, run 1"]
    assert list(app.yield_line.colors) == [METHOD_COLORS["software"], METHOD_COLORS["defect_aware"]]
    assert app.ensemble_view.baseline == 0.1
    state, _ = decode(app.link_box.query, app._limits())
    assert state.die == 2 and state.method == "defect_aware"
    app.reset()
    assert app.ensemble_view.methods == ["software"] and app.selected_die == 0
    app.close()
