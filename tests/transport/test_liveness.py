"""Heartbeats to a remote component that owes an answer (``transport.liveness``); against a real
service that fails silently: tests/cogment_lab (a Cogment Lab actor without its protocol)."""

from __future__ import annotations

import asyncio

from cogment_jupyter.transport.liveness import Liveness
from tests.waiting import await_condition

PERIOD = 0.05


class Component:
    """What the watch sees of a component: heartbeats sent to it, and whether it was declared lost."""

    def __init__(self, answers_heartbeats: bool, period: float = PERIOD) -> None:
        self.answers = answers_heartbeats
        self.heartbeats = 0
        self.lost: list[str] = []
        self.watch = Liveness(self.heartbeat, self.lost.append, period=period)

    def heartbeat(self) -> None:
        self.heartbeats += 1
        if self.answers:  # a live component answers in kind, at once
            asyncio.get_running_loop().call_soon(self.watch.heard, False)


async def test_a_silent_component_that_owes_an_answer_is_lost_after_a_heartbeat():
    component = Component(answers_heartbeats=False)
    component.watch.owed()
    await await_condition(lambda: component.lost, 10, "the silent component to be declared lost")
    assert component.heartbeats == 1 and "stopped answering" in component.lost[0]


async def test_a_component_thinking_for_long_but_answering_heartbeats_stays():
    component = Component(answers_heartbeats=True)
    component.watch.owed()
    await await_condition(lambda: component.heartbeats >= 8, 10, "eight heartbeats answered")
    assert component.lost == []
    component.watch.heard(True)  # it answers at last
    seen = component.heartbeats
    await asyncio.sleep(PERIOD * 4)  # (what must not happen: no heartbeat once nothing is owed)
    assert component.heartbeats == seen and component.lost == []
    component.watch.close()


async def test_answers_in_time_need_no_heartbeat():
    component = Component(answers_heartbeats=False, period=0.3)
    for _ in range(20):
        component.watch.owed()
        await asyncio.sleep(0)
        component.watch.heard(True)
    await asyncio.sleep(0.9)  # (what must not happen: a heartbeat, once every answer came)
    assert component.heartbeats == 0 and component.lost == []
    component.watch.close()
