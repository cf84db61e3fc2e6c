import threading

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

import mtjexplore as mx  # noqa: E402
from mtjexplore import recipes  # noqa: E402
from mtjexplore.widgets import TrainingPanel  # noqa: E402

TIMEOUT_S = 120


def _panel(data, **kwargs):
    train, test = data
    panel = TrainingPanel(mx.paper_config(), train, test, **kwargs)
    panel.epochs.value = 1
    return panel


def _stdout(output):
    return "".join(o.get("text", "") for o in output.outputs if o.get("name") == "stdout")


def _stderr(output):
    return "".join(o.get("text", "") for o in output.outputs if o.get("name") == "stderr")


def test_a_short_run_finishes_and_updates_progress_curves_and_weights(data_2000):
    panel = _panel(data_2000)
    trained = []
    panel.on_trained(trained.append)
    assert panel.start()
    assert panel.train_button.disabled  # disabled while the run goes
    assert panel.wait(TIMEOUT_S)
    n_steps = int(np.ceil(2000 / recipes.software_recipe()["batch_size"]))
    assert panel.progress.max == n_steps and panel.progress.value == n_steps
    assert len(panel.loss_line.y) == n_steps and np.all(np.isfinite(panel.loss_line.y))
    assert list(panel.error_line.x) == [1] and 0 < panel.error_line.y[0] < 100
    assert len(trained) == 1 and trained[0] is panel.weights
    assert panel.weights.w1.shape == (101, 90)
    assert not panel.train_button.disabled and panel.stop_button.disabled
    assert "Run 1 (software): finished after %d steps" % n_steps in _stdout(panel.log)


def test_stop_ends_the_run_after_the_current_step(data_2000):
    panel = _panel(data_2000)
    panel.epochs.value = 50  # 800 steps if nobody stopped it
    in_first_step, on_step = threading.Event(), panel._on_step

    def hold_first_step_until_stop(info):  # Stop is pressed while step 1 is under way, however slow
        in_first_step.set()
        assert panel._stop.wait(TIMEOUT_S)
        return on_step(info)

    panel._on_step = hold_first_step_until_stop
    assert panel.start()
    assert in_first_step.wait(TIMEOUT_S)
    panel.stop_button.click()
    assert panel.wait(TIMEOUT_S)
    assert panel.history.sizes["step"] == 1
    assert panel.history.attrs["stopped_early"] == 1
    assert "stopped after 1 steps" in panel.status.value
    assert panel.weights is not None  # the weights reached so far are kept


def test_pressing_train_twice_starts_one_run(data_2000):
    panel = _panel(data_2000)
    trained, threads = [], []
    panel.on_trained(trained.append)
    release = threading.Event()
    panel.on_trained(lambda _w: release.wait(TIMEOUT_S))  # keep the first run alive until checked
    panel.train_button.click()
    threads.append(panel._thread)
    panel.train_button.click()
    assert panel._thread is threads[0]
    assert not panel.start()
    assert "already going" in panel.status.value
    release.set()
    assert panel.wait(TIMEOUT_S)
    assert len(trained) == 1 and panel._run_id == 1


def test_a_failing_run_shows_its_error_in_the_visible_log(data_2000, small_ensemble):
    panel = _panel(data_2000, die_getter=lambda: small_ensemble)  # an ensemble, not one die
    panel.method.value = "defect_aware"
    panel.epochs.value = 1
    assert panel.start()
    assert panel.wait(TIMEOUT_S)
    assert "defect_aware trains on one die" in _stderr(panel.log)
    assert "Training failed" in panel.status.value
    assert panel.weights is None and not panel.train_button.disabled


def test_defect_aware_without_a_die_getter_is_refused_with_a_message(data_2000):
    panel = _panel(data_2000)
    panel.method.value = "defect_aware"
    assert not panel.start()
    assert "needs a die" in _stderr(panel.log)


def test_method_choice_loads_the_recipe(data_2000):
    panel = _panel(data_2000)
    panel.method.value = "statistics_aware"
    recipe = recipes.statistics_aware_recipe()
    assert panel.epochs.value == recipe["epochs"] and panel.lr.value == pytest.approx(recipe["lr"])


@pytest.mark.parametrize("method", ["defect_aware", "statistics_aware"])
def test_hardware_aware_runs_fine_tune_the_current_weights(data_2000, weights_2000, die, method):
    panel = _panel(data_2000, die_getter=lambda: die, weights=weights_2000)
    panel.method.value = method
    assert panel.fine_tune.value  # there are weights to start from
    panel.epochs.value = 1
    assert panel.start() and panel.wait(TIMEOUT_S)
    assert _stderr(panel.log) == ""
    assert panel.weights.attrs["method"] == method
    assert panel.weights is not weights_2000
