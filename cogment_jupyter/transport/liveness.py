"""Noticing a remote component that stopped handling its trial while its stream stays open.

A service whose session code fails can leave its gRPC call open with nothing behind it (the
official SDK does when a session raises while a write is in flight): the trial would wait for
its answer forever. Cogment lets the orchestrator send ``HEARTBEAT`` on a component's stream,
and every live component (the SDK's, ours) answers in kind at once, however long it thinks. So a
component that owes the trial an answer (an action, an observation set) and has been silent for
:data:`PERIOD` seconds is sent a heartbeat; silent for another period, it is lost, and the
trial ends with an error naming it instead of staying RUNNING. (A service whose code holds its
event loop that long in one call cannot answer either: give such trials a ``response_timeout``,
which runs the call on a thread of its own, or make the call ``async``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["PERIOD", "Liveness"]

#: Seconds of silence, while an answer is owed, before a heartbeat; as long again before giving up.
PERIOD = 15.0


class Liveness:
    """The watch on one component stream: :meth:`owed` when it must answer, :meth:`heard` on
    everything it sends. One timer at most, armed only while an answer is owed."""

    __slots__ = ("_loop", "_lost", "_owing", "_period", "_pinged_at", "_send_heartbeat", "_since", "_timer")

    def __init__(
        self,
        send_heartbeat: Callable[[], None],
        lost: Callable[[str], None],
        period: float | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._send_heartbeat = send_heartbeat
        self._lost = lost
        self._period = PERIOD if period is None else period
        self._loop = loop or asyncio.get_running_loop()
        self._owing = False
        self._since = 0.0
        self._pinged_at: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def owed(self) -> None:
        """The component must answer from now on (sent an observation, actions, LAST)."""
        if not self._owing:
            self._owing = True
            self._since = self._loop.time()
            self._pinged_at = None
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._period, self._check)

    def heard(self, answered: bool) -> None:
        """The component sent something (it is alive); ``answered``: what it owed."""
        self._since = self._loop.time()
        self._pinged_at = None
        if answered:
            self._owing = False

    def close(self) -> None:
        self._owing = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if not self._owing:
            return
        now = self._loop.time()
        if self._pinged_at is None:
            if now - self._since >= self._period:
                self._pinged_at = now
                self._send_heartbeat()
                self._timer = self._loop.call_at(now + self._period, self._check)
            else:
                self._timer = self._loop.call_at(self._since + self._period, self._check)
        elif now - self._pinged_at >= self._period:
            self._owing = False
            self._lost(
                f"it stopped answering: silent for {now - self._since:.0f} s while the trial waited for it, "
                "and no answer to a heartbeat (its service may have failed in this trial: see its log)"
            )
        else:
            self._timer = self._loop.call_at(self._pinged_at + self._period, self._check)
