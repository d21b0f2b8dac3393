"""The pacer of the loops that never wait (``engine.ticks.Pacer``): when they must let the
event loop run others."""

from __future__ import annotations

from cogment_jupyter.engine.records import now_ns
from cogment_jupyter.engine.ticks import YIELD_INTERVAL_NS, Pacer
from tests.waiting import wait_for


async def test_a_pause_is_due_once_its_interval_is_over_or_the_clock_went_back():
    before = now_ns()
    pacer = Pacer()  # (the records' clock: a loop asks due_at of its tick's time)
    assert before <= pacer.since and pacer.until == pacer.since + YIELD_INTERVAL_NS
    assert not pacer.due_at(pacer.since) and not pacer.due_at(pacer.until - 1)
    assert pacer.due_at(pacer.until)
    assert pacer.due_at(pacer.since - 1)  # a clock set back: due at once, not after the old end
    wait_for(pacer.due, 5, "the interval to end")
    ended = pacer.until
    await pacer.pause()
    assert pacer.since >= ended and not pacer.due_at(pacer.since)
