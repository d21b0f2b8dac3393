"""A batch of trials, ``concurrency`` at a time, started from the lab's loop; an interrupt stops it.

Stopping starts no new trial and cancels the running ones (:mod:`cogment_jupyter.lab.interrupts`);
the batch then ends as soon as they are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cogment_jupyter.engine.records import INTERRUPTED
from cogment_jupyter.lab.interrupts import plural

if TYPE_CHECKING:
    from cogment_jupyter.lab.handles import TrialHandle

#: make trial ``i`` of the batch: its handle and its parameters
NewTrial = Callable[[int], "tuple[TrialHandle, Any]"]
#: run a trial to its end and its record; calls ``on_ended`` in between
RunTrial = Callable[["TrialHandle", Any, Callable[[], None]], Awaitable[None]]
#: have the records of the trials to come batched together; returns what ends that
HoldRecords = Callable[[], Callable[[], None]]


class TrialBatch:
    """``n`` trials, at most ``concurrency`` running and a bounded number still being recorded."""

    def __init__(
        self,
        n: int,
        concurrency: int,
        new_trial: NewTrial,
        run_trial: RunTrial,
        bar: Any = None,
        hold_records: HoldRecords | None = None,
    ) -> None:
        self.n = n
        self.handles: list[TrialHandle] = []
        self.stopped = False
        #: the ids of the trials that were running when the batch stopped (cancelled)
        self.cancelled: list[str] = []
        self._new_trial = new_trial
        self._run_trial = run_trial
        self.bar = bar
        self._concurrency = concurrency
        self._hold_records = hold_records
        self._tasks: list[asyncio.Task[None]] = []
        self._starter: asyncio.Task[None] | None = None

    async def run(self) -> list[TrialHandle]:
        self._starter = asyncio.get_running_loop().create_task(self._start_all())
        try:
            await self._starter
        except asyncio.CancelledError:
            if not self.stopped:  # the batch itself was cancelled (an awaiting cell stopped)
                raise
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return self.handles

    async def _start_all(self) -> None:
        slots = asyncio.Semaphore(self._concurrency)
        # ended trials still being written: bounded, so a slow disk cannot pile up samples
        unrecorded = asyncio.Semaphore(max(256, 32 * self._concurrency))

        async def one(handle: TrialHandle, params: Any) -> None:
            try:
                await self._run_trial(handle, params, slots.release)
            finally:
                unrecorded.release()
                if self.bar is not None:
                    self.bar.update(1)

        loop = asyncio.get_running_loop()
        # the trials' records are written together, many to a transaction, until the last one ended
        release = self._hold_records() if self._hold_records is not None else None
        try:
            for i in range(self.n):
                await unrecorded.acquire()
                await slots.acquire()
                handle, params = self._new_trial(i)
                self.handles.append(handle)
                self._tasks.append(loop.create_task(one(handle, params)))
            for _ in range(self._concurrency):  # every trial has ended
                await slots.acquire()
        finally:
            if release is not None:
                release()

    def stop(self, cancel: Callable[[list[str]], None]) -> None:
        """On the lab's loop: start no more trials, and ``cancel`` the ids of those still running."""
        if self.stopped:
            return
        self.stopped = True
        if self._starter is not None:
            self._starter.cancel()
        self.cancelled = [h.id for h in self.handles if not h.ended]
        if self.cancelled:
            cancel(self.cancelled)

    def summary(self) -> str:
        """One line: how many trials finished, how many an interrupt cancelled, how many never started."""
        running = set(self.cancelled)
        # a trial that ended on its own just as the batch stopped was not cancelled (one on another
        # orchestrator does not say why it ended: counted as cancelled)
        stopped = sum(h.id in running and (h.end_details == INTERRUPTED or h.remote) for h in self.handles)
        finished = len(self.handles) - stopped
        line = f"run_trials interrupted: {finished:,} of {plural(self.n, 'trial')} finished"
        if stopped:
            verb = "was" if stopped == 1 else "were"
            line += f"; {stopped:,} running {verb} cancelled (their steps so far are recorded)"
        return line


def close_quietly(bar: Any) -> None:
    """Close a progress bar from any thread; a bar that cannot be closed is left as is."""
    if bar is not None:
        with contextlib.suppress(Exception):
            bar.close()
