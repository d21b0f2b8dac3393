"""A batch of trials started from the lab's loop (``run_trials``); an interrupt stops it.

One base keeps what every batch does: the handles in order, the records of its trials held
together until the last one ended, a bound on the ended trials still being written, stopping
and its summary. Two drivers run the trials: :class:`TaskBatch`, ``concurrency`` at a time,
each in a task of its own; :class:`~cogment_jupyter.lab.inline_batch.InlineBatch`, one after
the other in the batch's one task (in-process synchronous trials).

Stopping starts no new trial and cancels the running ones (:mod:`cogment_jupyter.lab.interrupts`);
the batch then ends as soon as they are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
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

#: ended trials still being written at most (32 per concurrent trial, if more): a slow disk
#: cannot pile up samples
UNRECORDED = 256


class TrialBatch(ABC):
    """``n`` trials and their handles, a bounded number of them still being recorded."""

    def __init__(
        self,
        n: int,
        new_trial: NewTrial,
        bar: Any = None,
        hold_records: HoldRecords | None = None,
        concurrency: int = 1,
    ) -> None:
        self.n = n
        self.handles: list[TrialHandle] = []
        self.stopped = False
        #: the ids of the trials that were running when the batch stopped (cancelled)
        self.cancelled: list[str] = []
        self.bar = bar
        self._new_trial = new_trial
        self._hold_records = hold_records
        self._bound = max(UNRECORDED, 32 * concurrency)
        #: trials started and not recorded yet; what resolves once one is, while the batch waits for it
        self._unrecorded = 0
        self._room: asyncio.Future[None] | None = None
        self._starter: asyncio.Task[None] | None = None

    async def run(self) -> list[TrialHandle]:
        self._starter = asyncio.get_running_loop().create_task(self._start_all())
        try:
            # (shielded: cancelling the caller is not stopping the batch, which ends its
            # running trials as interrupted; see stop())
            await asyncio.shield(self._starter)
        except asyncio.CancelledError:
            if not self.stopped:  # the batch itself was cancelled (the lab's loop is closing)
                self._abandon()
                raise
            await asyncio.wait([self._starter])
        await self._drain()
        return self.handles

    def _next(self, i: int) -> tuple[TrialHandle, Any]:
        """Trial ``i``'s handle (kept in order) and params."""
        made = self._new_trial(i)
        self.handles.append(made[0])
        return made

    @contextlib.contextmanager
    def _records_held(self) -> Iterator[None]:
        """The trials' records are written together, many to a transaction, until the last one ended."""
        release = self._hold_records() if self._hold_records is not None else None
        try:
            yield
        finally:
            if release is not None:
                release()

    async def _reserve(self) -> None:
        """Wait until fewer than the bound of started trials are still running or being written.

        (A count, not a semaphore: the batch waits here once in hundreds of trials, and a
        semaphore's every acquire looks through its waiters.)"""
        while self._unrecorded >= self._bound:
            self._room = room = asyncio.get_running_loop().create_future()
            await room
        self._unrecorded += 1

    def _recorded(self) -> None:
        """A trial of the batch is over and recorded (or could not run)."""
        self._unrecorded -= 1
        room = self._room
        if room is not None:
            self._room = None
            if not room.done():
                room.set_result(None)
        if self.bar is not None:
            self.bar.update(1)

    @abstractmethod
    async def _start_all(self) -> None:
        """Start (and, for some drivers, run) every trial, until they all ended or the batch stopped."""

    @abstractmethod
    async def _drain(self) -> None:
        """Wait until every started trial is over and recorded."""

    def _halt(self) -> None:
        """The batch stops: start no other trial."""

    def _abandon(self) -> None:
        """The batch is cancelled as a whole (its loop closes): stop what it runs itself."""
        if self._starter is not None:
            self._starter.cancel()

    def stop(self, cancel: Callable[[list[str]], None]) -> None:
        """On the lab's loop: start no more trials, and ``cancel`` the ids of those still running."""
        if self.stopped:
            return
        self.stopped = True
        self._halt()
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


class TaskBatch(TrialBatch):
    """Trials ``concurrency`` at a time, each in a task of its own (``run_trial``)."""

    def __init__(
        self,
        n: int,
        concurrency: int,
        new_trial: NewTrial,
        run_trial: RunTrial,
        bar: Any = None,
        hold_records: HoldRecords | None = None,
    ) -> None:
        super().__init__(n, new_trial, bar, hold_records, concurrency)
        self._concurrency = concurrency
        self._run_trial = run_trial
        self._tasks: list[asyncio.Task[None]] = []

    async def _start_all(self) -> None:
        slots = asyncio.Semaphore(self._concurrency)

        async def one(handle: TrialHandle, params: Any) -> None:
            try:
                await self._run_trial(handle, params, slots.release)
            finally:
                self._recorded()

        loop = asyncio.get_running_loop()
        with self._records_held():
            for i in range(self.n):
                await self._reserve()
                await slots.acquire()
                handle, params = self._next(i)
                self._tasks.append(loop.create_task(one(handle, params)))
            for _ in range(self._concurrency):  # every trial has ended
                await slots.acquire()

    async def _drain(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _halt(self) -> None:
        if self._starter is not None:
            self._starter.cancel()  # (waiting for a slot: the running trials are cancelled by id)


def close_quietly(bar: Any) -> None:
    """Close a progress bar from any thread; a bar that cannot be closed is left as is."""
    if bar is not None:
        with contextlib.suppress(Exception):
            bar.close()
