"""Two training panels in one kernel share a one-slot CPU queue: the second waits, visibly, in turn."""

import threading

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

import mtjexplore as mx
from mtjexplore.serve.cpu_queue import CpuQueue
from mtjexplore.widgets import TrainingPanel
from mtjexplore.widgets.training_panel import WAITING_CLASS

TIMEOUT_S = 120


def _panel(data, queue):
    train, test = data
    panel = TrainingPanel(mx.paper_config(), train, test, cpu_queue=queue)
    panel.epochs.value = 1
    return panel


def _hold_first_step(panel):
    """Make the panel's first step wait for ``release``; ``started`` is set when it is reached."""
    started, release, on_step = threading.Event(), threading.Event(), panel._on_step

    def held(info):
        started.set()
        assert release.wait(TIMEOUT_S)
        return on_step(info)

    panel._on_step = held
    return started, release


def _wait_for(condition):
    done = threading.Event()
    for _ in range(int(TIMEOUT_S / 0.02)):
        if condition():
            return True
        done.wait(0.02)  # polling a widget value written by another thread
    return False


def test_the_second_panel_waits_for_the_first_and_says_so(data_2000, tmp_path):
    queue = CpuQueue(slots=1, folder=tmp_path)
    first, second = _panel(data_2000, queue), _panel(data_2000, queue)
    started, release = _hold_first_step(first)
    second_started, on_step = [], second._on_step

    def note_first_step(info):
        # whether the first run had finished training (its weights are set before its slot is
        # released; its ``running`` flag only afterwards, so it may still read True here)
        second_started.append(first.weights is not None)
        return on_step(info)

    second._on_step = note_first_step

    assert first.start() and started.wait(TIMEOUT_S)
    assert second.start()
    assert _wait_for(lambda: "Waiting for CPU" in second.status.value)
    assert "next in line (1 training runs going on this server)" in second.status.value
    assert WAITING_CLASS in second.status._dom_classes and "training-status" in second.status._dom_classes
    assert second.running and not second_started and second.stop_button.disabled is False

    release.set()
    assert first.wait(TIMEOUT_S) and second.wait(TIMEOUT_S)
    assert second_started and second_started[0] is True  # its first step came after the first run ended
    assert first.weights is not None and second.weights is not None
    assert WAITING_CLASS not in second.status._dom_classes
    assert "finished" in second.status.value and queue.n_running() == 0


def test_stop_while_waiting_cancels_the_run(data_2000, tmp_path):
    queue = CpuQueue(slots=1, folder=tmp_path)
    first, second = _panel(data_2000, queue), _panel(data_2000, queue)
    started, release = _hold_first_step(first)
    try:
        assert first.start() and started.wait(TIMEOUT_S)
        assert second.start()
        assert _wait_for(lambda: WAITING_CLASS in second.status._dom_classes)
        second.stop_button.click()
        assert second.wait(TIMEOUT_S)
        assert "stopped while it waited for the CPU; nothing was trained" in second.status.value
        assert second.weights is None and second.history is None
        assert not second.train_button.disabled and WAITING_CLASS not in second.status._dom_classes
    finally:
        release.set()
        first.wait(TIMEOUT_S)


def test_without_a_queue_a_panel_starts_at_once(data_2000, monkeypatch):
    monkeypatch.delenv("MTJEXPLORE_TRAINING_SLOTS", raising=False)
    panel = _panel(data_2000, None)
    assert panel.cpu_queue is None
    monkeypatch.setenv("MTJEXPLORE_TRAINING_SLOTS", "1")
    assert _panel(data_2000, False).cpu_queue is None


def test_a_long_loss_curve_is_thinned_evenly_and_keeps_its_last_point():
    from mtjexplore.widgets.training_panel import MAX_CURVE_POINTS, _thin

    assert list(_thin(range(10))) == list(range(10))
    long = _thin(np.arange(9_401))
    assert len(long) <= MAX_CURVE_POINTS + 1 and long[0] == 0 and long[-1] == 9_400
    assert len(set(np.diff(long[:-1]))) == 1  # evenly spaced before the last point
