"""The machine-wide training queue (mtjexplore.serve.cpu_queue): slots, order, Stop, dead waiters."""

import fcntl
import threading

import pytest

from mtjexplore.errors import ParameterError
from mtjexplore.serve.cpu_queue import CpuQueue

TIMEOUT_S = 30


def test_at_most_slots_runs_hold_a_slot(tmp_path):
    queue = CpuQueue(slots=2, folder=tmp_path)
    first, second = queue.try_acquire(), queue.try_acquire()
    assert first is not None and second is not None and {first.index, second.index} == {0, 1}
    assert queue.try_acquire() is None and queue.n_running() == 2
    first.release()
    assert queue.n_running() == 1
    third = queue.try_acquire()
    assert third is not None and third.index == first.index
    second.release(), third.release()
    assert queue.n_running() == 0


def test_waiters_get_the_slot_in_arrival_order_and_see_how_many_are_ahead(tmp_path):
    queue = CpuQueue(slots=1, folder=tmp_path)
    running = queue.try_acquire()
    order, seen, waiting = [], {}, {name: threading.Event() for name in "abc"}

    def waiter(name):
        def on_wait(ahead, n_running):
            seen.setdefault(name, []).append((ahead, n_running))
            waiting[name].set()

        slot = queue.acquire(on_wait=on_wait, poll_s=0.01)
        order.append(name)
        slot.release()

    threads = []
    for name in "abc":  # each one queued before the next arrives
        threads.append(threading.Thread(target=waiter, args=(name,)))
        threads[-1].start()
        assert waiting[name].wait(TIMEOUT_S)
    assert seen["a"][0] == (0, 1) and seen["b"][0] == (1, 1) and seen["c"][0] == (2, 1)
    running.release()
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert order == ["a", "b", "c"]
    places = [ahead for ahead, _ in seen["c"]]  # reported again whenever its place moves up
    assert places == sorted(set(places), reverse=True)
    assert not list(tmp_path.glob("ticket-*"))


def test_stop_ends_the_wait_without_a_slot(tmp_path):
    queue = CpuQueue(slots=1, folder=tmp_path)
    with queue.try_acquire():
        stop, result = threading.Event(), []
        thread = threading.Thread(target=lambda: result.append(
            queue.acquire(stop=stop, on_wait=lambda *a: stop.set(), poll_s=0.01)))
        thread.start()
        thread.join(TIMEOUT_S)
        assert result == [None]
    assert not list(tmp_path.glob("ticket-*"))


def test_a_ticket_nobody_holds_is_removed_and_does_not_block(tmp_path):
    queue = CpuQueue(slots=1, folder=tmp_path)
    dead = tmp_path / "ticket-00000000000000000001-00000001-000000"  # older than any new ticket
    dead.write_bytes(b"")  # a waiter that died: its lock went with it
    with queue.acquire(poll_s=0.01) as slot:
        assert slot.held
    assert not dead.exists()


def test_a_ticket_held_by_another_open_file_counts_as_ahead(tmp_path):
    queue = CpuQueue(slots=1, folder=tmp_path)
    alive = tmp_path / "ticket-00000000000000000001-00000001-000000"
    with open(alive, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        stop, seen = threading.Event(), []

        def on_wait(ahead, _running):
            seen.append(ahead)
            stop.set()

        assert queue.acquire(stop=stop, on_wait=on_wait, poll_s=0.01) is None
        assert seen == [1]


def test_from_env(monkeypatch, tmp_path):
    monkeypatch.delenv("MTJEXPLORE_TRAINING_SLOTS", raising=False)
    assert CpuQueue.from_env() is None
    monkeypatch.setenv("MTJEXPLORE_TRAINING_SLOTS", "3")
    monkeypatch.setenv("MTJEXPLORE_QUEUE_DIR", str(tmp_path / "q"))
    queue = CpuQueue.from_env()
    assert queue.slots == 3 and queue.folder == tmp_path / "q" and queue.folder.is_dir()
    monkeypatch.setenv("MTJEXPLORE_TRAINING_SLOTS", "many")
    with pytest.raises(ParameterError, match="MTJEXPLORE_TRAINING_SLOTS must be an int >= 1; got 'many'"):
        CpuQueue.from_env()


@pytest.mark.parametrize("slots", [0, -1, 1.5, True])
def test_slots_must_be_a_positive_int(tmp_path, slots):
    with pytest.raises(ParameterError, match="slots must be an int >= 1"):
        CpuQueue(slots=slots, folder=tmp_path)
