"""The rules of a tick that every loop driving a trial follows (``cogment-protocol.md`` §7).

The engine's tick loop (``engine.trial``) and the fused loop of in-process trials
(``transport.fused``) both call these functions; neither restates them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from time import time_ns
from typing import Any

from cogment_jupyter.engine.records import Reward, RewardSource

#: A loop that runs ticks without waiting yields to the event loop at least this often (seconds).
YIELD_INTERVAL = 0.002
YIELD_INTERVAL_NS = int(YIELD_INTERVAL * 1e9)


def is_last_tick(tick: int, max_steps: int, end_requested: bool) -> bool:
    """Whether the action set of ``tick`` goes to the environment with ``LAST`` (§7.1.3): the
    trial reached ``max_steps`` (0: no limit) or a soft end was requested."""
    return (max_steps > 0 and tick >= max_steps) or end_requested


def is_awaitable(value: Any) -> bool:
    """Whether an in-process component answered with something to await (an ``async`` act)
    rather than the value itself."""
    cls = type(value)
    known = _awaitable_types.get(cls)
    if known is None:  # (hasattr costs a raised AttributeError: asked once per type)
        known = _awaitable_types[cls] = hasattr(cls, "__await__")
    return known


_awaitable_types: dict[type, bool] = {}


def reward_value(sources: Sequence[RewardSource]) -> float:
    """The value of a reward made of ``sources`` (§7.3): their mean weighted by confidence,
    over the sources with a positive confidence (0 if none)."""
    total = weights = 0.0
    for source in sources:
        if source.confidence > 0:
            total += source.value * source.confidence
            weights += source.confidence
    return total / weights if weights > 0 else 0.0


def rewards_to_deliver(receiver: str, pending: dict[int, list[RewardSource]]) -> list[Reward]:
    """The rewards an actor receives before its next observation, one per tick it was rewarded
    in (tick order), and ``pending`` emptied."""
    if len(pending) == 1:  # the common case: this tick's rewards, one source
        ((tick, sources),) = pending.items()
        if len(sources) == 1 and sources[0].confidence > 0:
            pending.clear()
            return [Reward(tick, receiver, sources[0].value, sources)]
    rewards = [Reward(tick, receiver, reward_value(pending[tick]), list(pending[tick])) for tick in sorted(pending)]
    pending.clear()
    return rewards


class Pacer:
    """When a loop that never waits must let the event loop run other trials (fairness).

    Its clock is the records' (``time.time_ns``), so a loop that reads the time of each tick
    anyway asks :meth:`due_at` of it without reading the clock again. A clock set back
    makes the pause due at once (the interval is a window, not a deadline alone)."""

    __slots__ = ("since", "until")

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self.since = time_ns()
        self.until = self.since + YIELD_INTERVAL_NS

    def due(self) -> bool:
        return not self.since <= time_ns() < self.until

    def due_at(self, now_ns: int) -> bool:
        """:meth:`due` at ``now_ns`` (a time of the same clock the caller just read)."""
        return not self.since <= now_ns < self.until

    async def pause(self) -> None:
        """Let every other ready task run once, then start a new interval."""
        await asyncio.sleep(0)
        self._start()
