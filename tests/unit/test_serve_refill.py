"""The refill gate of the pre-heated pool (pure asyncio, a fake clock; no server)."""

import asyncio
import threading

import pytest

from mtjexplore.errors import ParameterError
from mtjexplore.serve.refill import GateClosedError, RefillGate, check_quiet_s


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


async def run_ready_callbacks():
    """Let every task that can run, run (yields to the loop; the fake clock does not move)."""
    for _ in range(10):
        await asyncio.sleep(0)


def run_scenario(scenario):
    """``asyncio.run(scenario)`` in a thread of its own: the browser tests (Playwright) leave an
    event loop running in the main thread when the whole suite runs in one process."""
    failure = []

    def target():
        try:
            asyncio.run(scenario)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the scenario did not finish within 60 s"
    if failure:
        raise failure[0]


def make_gate(quiet_s=10.0, **kwargs):
    clock = FakeClock()
    messages = []
    return RefillGate(quiet_s, clock=clock, log=messages.append, **kwargs), clock, messages


def test_a_spare_waits_while_pages_keep_coming_and_starts_after_the_quiet_spell():
    async def scenario():
        gate, clock, messages = make_gate(quiet_s=10)
        gate.page_started()
        spare = asyncio.ensure_future(gate.turn("spare-1"))
        for _ in range(5):  # a page every 4 s for 20 s: never 10 s of quiet
            gate.page_finished()
            clock.now += 4
            gate.page_started()
            gate.wake()
            await run_ready_callbacks()
            assert not spare.done(), "the refill must not start while pages keep coming"
        gate.page_finished()
        clock.now += 9.9
        gate.wake()
        await run_ready_callbacks()
        assert not spare.done(), "9.9 s of quiet is not 10"
        clock.now += 0.2
        gate.wake()
        await run_ready_callbacks()
        assert spare.done() and gate.is_loading("spare-1")
        assert messages == ["starting a spare kernel: no page request for 10 s and no other spare loading"]

    run_scenario(scenario())


def test_spares_load_one_at_a_time():
    async def scenario():
        gate, _, messages = make_gate(quiet_s=0)
        first = asyncio.ensure_future(gate.turn("t1"))
        second = asyncio.ensure_future(gate.turn("t2"))
        await run_ready_callbacks()
        assert first.done() and not second.done()
        gate.started("t1", "kernel-1")
        await run_ready_callbacks()
        assert not second.done(), "the second spare waits until the first has loaded"
        gate.loaded("kernel-1")
        await run_ready_callbacks()
        assert second.done() and gate.n_loading == 1
        assert "spare kernel kernel-1 has loaded (0 still loading)" in messages

    run_scenario(scenario())


def test_a_spare_a_visitor_waits_for_starts_at_once():
    async def scenario():
        gate, _, messages = make_gate(quiet_s=600)
        gate.page_started()  # the visitor's page is being served ...
        asyncio.ensure_future(gate.turn("loading"))
        waited_for = asyncio.ensure_future(gate.turn("claimed"))
        await run_ready_callbacks()
        assert not waited_for.done()
        gate.claim("claimed")  # ... and it waits for this spare
        await run_ready_callbacks()
        assert waited_for.done()
        assert messages[-1] == "starting a spare kernel: a visitor is waiting for it"

    run_scenario(scenario())


def test_a_spare_that_never_loads_stops_holding_the_others_back():
    async def scenario():
        gate, clock, _ = make_gate(quiet_s=0, loading_limit_s=300)
        await gate.turn("stuck")
        gate.started("stuck", "kernel-stuck")
        nxt = asyncio.ensure_future(gate.turn("next"))
        await run_ready_callbacks()
        assert not nxt.done()
        clock.now += 301
        gate.wake()
        await run_ready_callbacks()
        assert nxt.done()

    run_scenario(scenario())


def test_a_stopping_server_starts_no_waiting_spare():
    async def scenario():
        gate, _, _ = make_gate(quiet_s=10)
        gate.page_started()
        spare = asyncio.ensure_future(gate.turn("spare", what="a spare kernel for explorer.ipynb"))
        await run_ready_callbacks()
        gate.close()
        await run_ready_callbacks()
        with pytest.raises(GateClosedError, match="server is stopping: a spare kernel for explorer.ipynb"):
            spare.result()
        # Voilà's shutdown_all awaits the pool's tasks and ignores Exception, not BaseException
        assert isinstance(spare.exception(), Exception)

    run_scenario(scenario())


def test_seconds_to_wait_follows_pages_and_loading_spares():
    gate, clock, _ = make_gate(quiet_s=10)
    assert gate.seconds_to_wait() == 0.0, "a server nobody has visited refills at once"
    gate.page_started()
    gate.page_started()
    gate.page_finished()
    assert gate.seconds_to_wait() is None, "a page still being served"
    gate.page_finished()
    clock.now += 4
    assert gate.seconds_to_wait() == pytest.approx(6.0)
    gate.page_finished()  # an extra end never drives the count negative
    assert gate.seconds_to_wait() == pytest.approx(10.0)


def test_the_refill_waits_until_every_served_page_has_connected_to_its_kernel():
    async def scenario():
        gate, clock, _ = make_gate(quiet_s=10, connect_limit_s=120)
        gate.page_started()
        gate.page_served("k1")
        gate.page_served("k2")
        gate.page_finished()
        spare = asyncio.ensure_future(gate.turn("spare"))
        clock.now += 30  # the pages' scripts still load: long past the quiet spell
        gate.wake()
        await run_ready_callbacks()
        assert not spare.done()
        gate.page_connected("k1")
        clock.now += 30
        gate.wake()
        await run_ready_callbacks()
        assert not spare.done(), "k2's page has not connected yet"
        gate.page_connected("k2")  # the widgets load now: the quiet spell starts again
        clock.now += 9
        gate.wake()
        await run_ready_callbacks()
        assert not spare.done() and gate.seconds_to_wait() == pytest.approx(1.0)
        clock.now += 1
        gate.wake()
        await run_ready_callbacks()
        assert spare.done()

    run_scenario(scenario())


def test_a_page_that_never_connects_stops_holding_the_refill_back():
    gate, clock, _ = make_gate(quiet_s=10, connect_limit_s=120)
    gate.page_served("k-of-a-visitor-who-left")
    clock.now += 119
    assert gate.seconds_to_wait() == pytest.approx(1.0)
    clock.now += 1
    assert gate.seconds_to_wait() == 0.0


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "10", True, None])
def test_a_bad_quiet_spell_is_refused_with_its_meaning(bad):
    with pytest.raises(ParameterError, match=r"refill_quiet_s must be a number of seconds >= 0 "
                                             r"\(how long no page is requested"):
        check_quiet_s(bad)


def test_a_quiet_spell_of_zero_is_allowed():
    assert check_quiet_s(0) == 0.0
