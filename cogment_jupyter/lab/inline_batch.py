"""A batch of trials whose every part is an object in this kernel, run back to back in one task.

Such a trial never waits for anything outside the lab's loop: its environment and actors
answer from inside the engine's calls, its datalog takes rows without waiting. Run as
``run_trials`` runs other trials, ``concurrency`` at a time, each in a task of its own, the
tasks only take turns: every trial then costs a task, wake-ups of the loop and the futures a
batch waits on (a few percent of a short CartPole trial: ``docs/decisions/inline-batches.md``).
Here the batch's one task opens each trial with the orchestrator and runs it to its end
(``Trial.run``), then the next. Each trial is still a whole Cogment trial of this lab's orchestrator (its id, params,
states, watchers, handle, record): only who drives it changes, so it behaves and is recorded
exactly as it would be in a task of its own (``tests/lab/test_inline_batch.py`` runs both).

The batch yields to the loop between trials as often as a tick loop does
(:class:`~cogment_jupyter.engine.ticks.Pacer`), so a person playing in the same lab, a stop
button or ``lab.terminate`` are served while it runs. A trial's handle is finished once its
record is committed, by one task that follows the batch.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cogment_jupyter.engine.ticks import Pacer
from cogment_jupyter.lab.batch import HoldRecords, NewTrial, TrialBatch

if TYPE_CHECKING:
    from cogment_jupyter.engine.trial import Trial
    from cogment_jupyter.lab.handles import TrialHandle
    from cogment_jupyter.proto.common_pb2 import TrialParams
    from cogment_jupyter.transport.inprocess import InProcessServices

#: open a trial with the orchestrator for a handle and its params (the handle attached to it)
OpenTrial = Callable[["TrialHandle", Any], Awaitable["Trial"]]
#: the trial of a handle is over and recorded (``error``: it could not run, and why)
FinishTrial = Callable[["TrialHandle", "Exception | None"], None]


def runs_inline(params: TrialParams, served: InProcessServices, here: str) -> bool:
    """Whether a batch of trials with these params runs inline (see the module doc): the
    environment and every actor are objects served in this kernel (``served`` at ``here``),
    every actor answers synchronously, and none has a ``response_timeout`` (its calls would
    then be made off the loop, for the timeout to hold)."""
    environment = params.environment
    if environment.endpoint != here or environment.implementation not in served.environments:
        return False
    for actor in params.actors:
        if actor.endpoint != here or actor.response_timeout > 0:
            return False
        served_actor = served.actors.get(actor.implementation)
        if served_actor is None or inspect.iscoroutinefunction(served_actor.act):
            return False  # an async actor (a person, a remote model): its trials overlap their waits
    return True


class InlineBatch(TrialBatch):
    """``n`` trials run one after the other by the batch's task (see the module doc)."""

    def __init__(
        self,
        n: int,
        new_trial: NewTrial,
        open_trial: OpenTrial,
        finish_trial: FinishTrial,
        bar: Any = None,
        hold_records: HoldRecords | None = None,
    ) -> None:
        super().__init__(n, 1, new_trial, _not_used, bar, hold_records)
        self._open_trial = open_trial
        self._finish_trial = finish_trial
        #: ended trials whose records are not committed yet, in order (None: the batch is over)
        self._ended: asyncio.Queue[tuple[TrialHandle, Trial | None] | None] = asyncio.Queue()
        #: ended trials still being written: bounded, so a slow disk cannot pile up samples
        self._unrecorded = asyncio.Semaphore(256)

    async def run(self) -> list[TrialHandle]:
        loop = asyncio.get_running_loop()
        finisher = loop.create_task(self._finish_recorded())
        self._starter = loop.create_task(self._start_all())
        try:
            # (shielded: cancelling the caller must not cancel the trial the task is running;
            # stop() ends it as an interrupt and the task then starts no other)
            await asyncio.shield(self._starter)
        except asyncio.CancelledError:
            if not self.stopped:  # the lab's loop is closing
                self._starter.cancel()
                finisher.cancel()
                raise
            await asyncio.wait([self._starter])
        await finisher
        return self.handles

    async def _start_all(self) -> None:
        release = self._hold_records() if self._hold_records is not None else None
        pacer = Pacer()
        try:
            for i in range(self.n):
                await self._unrecorded.acquire()
                if self.stopped:
                    break
                handle, params = self._new_trial(i)
                self.handles.append(handle)
                try:
                    trial = await self._open_trial(handle, params)
                except Exception as error:  # (refused: the orchestrator is closing, say)
                    self._finish_trial(handle, error)
                    self._ended.put_nowait((handle, None))
                else:
                    await trial.run()
                    self._ended.put_nowait((handle, trial))
                if pacer.due():
                    await pacer.pause()  # (fairness: anything else on the loop runs)
        finally:
            self._ended.put_nowait(None)
            if release is not None:
                release()

    async def _finish_recorded(self) -> None:
        """Finish each trial's handle once its record is committed, in the batch's order."""
        while (item := await self._ended.get()) is not None:
            handle, trial = item
            if trial is not None:
                await trial.wait_recorded()
                self._finish_trial(handle, None)
            self._unrecorded.release()
            if self.bar is not None:
                self.bar.update(1)

    def stop(self, cancel: Callable[[list[str]], None]) -> None:
        """On the lab's loop: start no more trials, and ``cancel`` the one running."""
        if self.stopped:
            return
        self.stopped = True
        self.cancelled = [h.id for h in self.handles if not h.ended]
        if self.cancelled:
            cancel(self.cancelled)


async def _not_used(handle: TrialHandle, params: Any, on_ended: Callable[[], None]) -> None:
    raise AssertionError("an inline batch opens and runs its trials itself")
