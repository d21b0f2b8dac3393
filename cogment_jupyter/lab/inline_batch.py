"""A batch of trials whose every part is an object in this kernel, run back to back in one task.

Such a trial never waits for anything outside the lab's loop: its environment and actors
answer from inside the engine's calls, its datalog takes rows without waiting. Run as
``run_trials`` runs other trials, ``concurrency`` at a time, each in a task of its own, the
tasks only take turns: every trial then costs a task, wake-ups of the loop and the futures a
batch waits on (a few percent of a short CartPole trial: ``docs/decisions/inline-batches.md``).
Here the batch's one task opens each trial with the orchestrator and runs it to its end
(``Trial.run``), then the next. What every trial of the batch shares (its params but the
seeds, checked; where its parts are) is made once, as the orchestrator's
:class:`~cogment_jupyter.engine.orchestrator.TrialBlueprint`, from which each trial is
opened without waiting for anything. Each trial is still a whole Cogment trial of this lab's
orchestrator (its id, params, states, watchers, handle, record): only who drives it changes,
so it behaves and is recorded exactly as it would be in a task of its own
(``tests/lab/test_inline_batch.py`` runs both).

The batch yields to the loop between trials as often as a tick loop does
(:class:`~cogment_jupyter.engine.ticks.Pacer`), so a person playing in the same lab, a stop
button or ``lab.terminate`` are served while it runs. A trial's handle is finished once its
record is committed, by one task that follows the batch.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cogment_jupyter.engine.ticks import Pacer
from cogment_jupyter.lab.batch import HoldRecords, NewTrial, TrialBatch

if TYPE_CHECKING:
    from cogment_jupyter.engine.trial import Trial
    from cogment_jupyter.lab.handles import TrialHandle
    from cogment_jupyter.proto.common_pb2 import TrialParams
    from cogment_jupyter.transport.inprocess import InProcessServices

#: open a trial with the orchestrator for a handle and its params (the handle attached to it);
#: raises when the orchestrator refuses it
OpenTrial = Callable[["TrialHandle", Any], "Trial"]
#: what opens the batch's trials, made once for the batch
PrepareTrials = Callable[[], Awaitable[OpenTrial]]
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
    """``n`` trials run one after the other by the batch's task (see the module doc).

    The ended trials wait in order for their records in a plain queue that a second task
    empties, finishing each handle once its trial is recorded: that task wakes once a batch
    of records is committed, not at each trial (a trial costs the loop no wake-up, no future
    and no task switch of its own).
    """

    def __init__(
        self,
        n: int,
        new_trial: NewTrial,
        prepare: PrepareTrials,
        finish_trial: FinishTrial,
        bar: Any = None,
        hold_records: HoldRecords | None = None,
    ) -> None:
        super().__init__(n, new_trial, bar, hold_records)
        self._prepare = prepare
        self._finish_trial = finish_trial
        #: ended trials whose records are not committed yet, in order (None: it could not run)
        self._ended: deque[tuple[TrialHandle, Trial | None]] = deque()
        #: whether every trial of the batch ended (or the batch stopped starting them)
        self._all_ended = False
        #: what resolves when the finisher, having finished every ended trial, has more to do
        self._idle: asyncio.Future[None] | None = None
        self._finisher: asyncio.Task[None] | None = None

    async def _start_all(self) -> None:
        self._finisher = asyncio.get_running_loop().create_task(self._finish_recorded())
        pacer = Pacer()
        try:
            open_trial = await self._prepare()
        except Exception as error:  # (the orchestrator is closing, say): every trial is refused
            open_trial = _refuse(error)
        try:
            with self._records_held():
                for i in range(self.n):
                    await self._reserve()
                    if self.stopped:
                        break
                    handle, params = self._next(i)
                    try:
                        trial = open_trial(handle, params)
                    except Exception as error:  # (refused: the orchestrator is closing, say)
                        self._finish_trial(handle, error)
                        self._ended_trial(handle, None)
                    else:
                        await trial.run()
                        self._ended_trial(handle, trial)
                    if pacer.due():
                        await pacer.pause()  # (fairness: anything else on the loop runs)
        finally:
            self._all_ended = True
            self._wake_finisher()

    def _ended_trial(self, handle: TrialHandle, trial: Trial | None) -> None:
        self._ended.append((handle, trial))
        self._wake_finisher()

    def _wake_finisher(self) -> None:
        idle = self._idle
        if idle is not None:
            self._idle = None
            if not idle.done():
                idle.set_result(None)

    async def _finish_recorded(self) -> None:
        """Finish each trial's handle once its record is committed, in the batch's order."""
        ended = self._ended
        while ended or not self._all_ended:
            if not ended:
                self._idle = idle = asyncio.get_running_loop().create_future()
                await idle
                continue
            handle, trial = ended[0]
            if trial is not None:
                await trial.wait_recorded()
                self._finish_trial(handle, None)
            ended.popleft()
            self._recorded()

    async def _drain(self) -> None:
        if self._finisher is not None:
            await self._finisher

    def _abandon(self) -> None:
        super()._abandon()
        if self._finisher is not None:
            self._finisher.cancel()


def _refuse(error: Exception) -> OpenTrial:
    def refuse(handle: TrialHandle, params: Any) -> Trial:
        raise error.with_traceback(None)  # (not a traceback longer at each trial)

    return refuse
