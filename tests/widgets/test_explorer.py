import pytest

pytest.importorskip("ipywidgets")

import mtjexplore as mx  # noqa: E402
from mtjexplore.widgets import Explorer  # noqa: E402

TIMEOUT_S = 120


@pytest.fixture()
def explorer(small_ensemble, data_2000, weights_2000):
    train, test = data_2000
    return Explorer(small_ensemble, train, test, weights={"software": weights_2000})


def test_painting_updates_the_error_at_once(explorer, weights_2000, data_2000):
    _, test = data_2000
    before = explorer.current_error
    fp = mx.paper_config().floorplan
    rows, cols = zip(*[fp.position(1, 90, k, "+") for k in range(3)])  # output-layer bias shorts
    explorer.painter.paint(rows, cols, "short")
    expected = float(mx.evaluate(weights_2000, explorer.painter.die, test).error[0])
    assert explorer.current_error == pytest.approx(expected, abs=1e-12)
    assert explorer.current_error != before
    assert f"{100 * expected:.2f} %" in explorer.error_label.value
    assert "current-error" in explorer.error_label._dom_classes


def test_painting_a_hidden_weight_shows_its_neuron_with_the_defect_marked(explorer):
    row, col = mx.paper_config().floorplan.position(0, 23, 17, "-")  # input pixel 23 of neuron 17
    explorer.painter.paint(row, col, "open")
    assert explorer.neuron_select.value == 17
    assert "input 23 (open)" in explorer.neuron_info.value
    assert (3.0, 2.0) in set(zip(explorer.neuron.marks.x, explorer.neuron.marks.y))


def test_clicking_a_die_in_the_ensemble_view_loads_it(explorer, small_ensemble):
    view = explorer.ensemble_view
    view._on_dot_click(view._strips[0], {"data": {"index": 2}})
    assert explorer.die_select.value == 2
    assert int(explorer.painter.die.die) == 2
    assert (explorer.painter.die.defect.values == small_ensemble.defect.values[2]).all()
    explorer.load_die(3)
    assert view.selected_die == 3


def test_digits_show_the_predictions_on_the_painted_die(explorer, weights_2000, data_2000):
    from mtjexplore.fast_eval import DieEvaluator

    _, test = data_2000
    predictions = DieEvaluator(weights_2000, test).predict(explorer.painter.die, range(8))
    captions = [c.value for c in explorer.impact._captions]
    for caption, predicted, truth in zip(captions, predictions, test.y[:8]):
        assert f"<b>{predicted}</b>" in caption
        assert ("digit-correct" if predicted == truth else "digit-wrong") in caption


def test_a_finished_run_is_evaluated_on_the_ensemble(explorer):
    explorer.training.method.value = "defect_aware"
    explorer.training.epochs.value = 1
    assert explorer.training.start() and explorer.training.wait(TIMEOUT_S)
    assert explorer.message.value == ""
    name = "defect-aware, die 0, run 1"
    assert explorer.ensemble_view.methods == ["software", name]
    assert explorer.weights_select.value == name
    assert name in explorer.error_label.value


def test_without_weights_the_explorer_asks_for_training(small_ensemble, data_2000):
    train, test = data_2000
    explorer = Explorer(small_ensemble, train, test)
    assert explorer.current_error is None and "train" in explorer.error_label.value
    explorer.painter.paint(0, 0, "short")
    assert explorer.current_error is None


def test_close_stops_training_and_the_evaluation_thread(explorer):
    explorer.training.epochs.value = 50
    assert explorer.training.start()
    explorer.close()
    assert explorer.training.wait(TIMEOUT_S)
    assert explorer.training.history.attrs["stopped_early"] == 1
    assert explorer._eval_pool._shutdown


def test_the_crossbar_never_shrinks_and_the_side_panel_wraps(explorer):
    # the browser test checks the same in Chromium at 1,024-1,440 px
    main = explorer.main
    side = main.children[1]
    assert main.children[0] is explorer.painter and "explorer-side" in side._dom_classes
    assert main.layout.flex_flow == "row wrap"
    for part in (explorer.painter, explorer.painter.figure, side):
        assert part.layout.flex == "0 0 auto"
    assert explorer.painter.figure.layout.width == "900px"


def test_a_painted_device_sends_the_new_error_before_the_heatmap(explorer, monkeypatch):
    """The page handles the kernel's messages in order and the 20,000-cell heatmap is the slowest
    to redraw: the error label must not queue behind it (click -> label latency, issue 14)."""
    import ipywidgets

    sent = []
    original = ipywidgets.Widget.send_state

    def record(self, key=None):
        sent.append((self, key))
        return original(self, key)

    monkeypatch.setattr(ipywidgets.Widget, "send_state", record)
    fp = mx.paper_config().floorplan
    explorer.painter.paint(*fp.position(1, 90, 2, "+"), "short")
    label = [i for i, (w, _) in enumerate(sent) if w is explorer.error_label]
    heatmap = [i for i, (w, key) in enumerate(sent) if w is explorer.painter.heatmap]
    assert label and heatmap, "both the error label and the heatmap are sent"
    assert max(label) < min(heatmap)
