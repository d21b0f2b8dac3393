"""``TrialHandle``: what ``Lab.start_trial`` returns at once, while the trial runs in the background;
``Handles``: the ones a lab keeps."""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import threading
import weakref
from collections import OrderedDict
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from cogment_jupyter.engine.records import INTERRUPTED, TrialState
from cogment_jupyter.lab.interrupts import TrialsInterrupted, wait_quietly

if TYPE_CHECKING:
    import pandas as pd

    from cogment_jupyter.engine.trial import Trial
    from cogment_jupyter.lab.lab import Lab
    from cogment_jupyter.lab.trial_data import TrialData


#: guards the making and the resolving of the handles' futures (from any thread)
_futures_lock = threading.Lock()


class TrialHandle:
    """A trial started by a lab. ``wait()`` blocks, ``await handle`` does not block the kernel.

    A finished one is kept small (slots, and no future of its own once it is resolved:
    ``done`` then makes a resolved one), since a lab keeps the most recent ones: what it refers
    to is shared (its actors, by every trial of a batch) or untracked by the garbage collector
    (its errors, a tuple), so the collector has one object to walk per kept handle. Its future
    is made when first asked for (``done``, ``wait``, ``await``): most trials of a batch are
    never waited for one by one.
    """

    __slots__ = (
        "__weakref__",
        "_actors",
        "_details",
        "_done",
        "_errors",
        "_lab",
        "_resolved",
        "_start_error",
        "_state",
        "_tick",
        "_trial",
        "env",
        "id",
        "remote",
        "seed",
    )

    def __init__(self, lab: Lab, trial_id: str, env: str, actors: Mapping[str, str], seed: int | None) -> None:
        """``actors``: each agent's actor, not copied (the trials of a batch share it)."""
        self._lab = lab
        self.id = trial_id
        self.env = env
        self._actors = actors
        self.seed = seed
        self._trial: Trial | None = None
        self._state = TrialState.INITIALIZING  # until the orchestrator has it
        self._start_error: str | None = None
        self._tick = 0
        self._details: str | None = None
        self._errors: tuple[str, ...] = ()
        #: whether the trial runs on another orchestrator (attached or shared mode)
        self.remote = False
        self._done: concurrent.futures.Future[TrialHandle] | None = None
        self._resolved = False

    @property
    def done(self) -> concurrent.futures.Future[TrialHandle]:
        """Resolved once the trial ended and everything it logged is stored."""
        with _futures_lock:  # (the lab's loop may be resolving it meanwhile)
            done = self._done
            if done is None:
                done = concurrent.futures.Future()
                if self._resolved:  # finished: its future is not kept
                    done.set_result(self)
                else:
                    self._done = done
            return done

    def _resolve(self) -> None:
        with _futures_lock:
            self._resolved = True
            done, self._done = self._done, None
        if done is not None and not done.done():
            done.set_result(self)  # whoever waits on it holds it

    # -- what the lab's loop reports (the handle keeps its own state) --------------------------

    def attach(self, trial: Trial) -> None:
        """This lab's orchestrator runs the trial: its state is read from ``trial`` from now on."""
        self._trial = trial

    def observe(self, state: TrialState, tick: int = 0) -> None:
        """The state and tick another orchestrator reports for the trial."""
        self._state = state
        self._tick = tick

    def add_error(self, error: str) -> None:
        """A problem found after the trial ended (its record, say)."""
        self._errors = (*self._errors, error)

    def fail(self, error: str) -> None:
        """The trial could not start or be followed: it is over, with ``error``."""
        self._start_error = error
        self._state = TrialState.ENDED
        self._resolve()

    def finish(self) -> None:
        """The trial ended and is recorded: keep what is left to know, wake whoever waits."""
        trial = self._trial
        if trial is not None:
            self._state = trial.state
            self._tick = trial.tick_id
            self._details = trial.end_details
            self._errors = tuple(trial.errors)
            if trial.ended:
                # what is left to know is copied: the trial's objects (its components, its last
                # observations) go, instead of living as long as the lab keeps its handles
                self._trial = None
        self._resolve()

    @property
    def actors(self) -> dict[str, str]:
        """Each agent's actor (a copy: the trials of a batch share theirs)."""
        return dict(self._actors)

    @property
    def state(self) -> str:
        """``INITIALIZING``, ``PENDING``, ``RUNNING``, ``TERMINATING`` or ``ENDED``."""
        trial = self._trial
        return (trial.state if trial is not None else self._state).name

    @property
    def tick(self) -> int:
        return self._trial.tick_id if self._trial is not None else self._tick

    @property
    def ended(self) -> bool:
        return self.state == "ENDED"

    @property
    def errors(self) -> list[str]:
        """What the environment or actors raised, and why the trial could not start."""
        errors = list(self._trial.errors) if self._trial is not None else list(self._errors)
        return ([self._start_error] if self._start_error else []) + errors

    @property
    def error(self) -> str | None:
        """Why the trial failed (the first of :attr:`errors`), or None."""
        errors = self.errors
        return errors[0] if errors else None

    @property
    def end_details(self) -> str | None:
        """Why the trial was forced to end (``None`` after a normal end)."""
        if self._start_error:
            return self._start_error
        return self._trial.end_details if self._trial is not None else self._details

    # -- waiting ------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> TrialHandle:
        """Block until the trial has ended and is recorded.

        Interrupting the wait (the notebook's stop button) cancels a trial still running: its
        steps so far stay recorded, and the cell says so in one line.
        """
        try:
            return self.done.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"trial {self.id} still {self.state} after {timeout} s") from None
        except KeyboardInterrupt:
            raise TrialsInterrupted(self._stop_waiting()) from None

    def _stop_waiting(self) -> str:
        if self.ended:
            return f"stopped waiting for trial {self.id} to be recorded (it ended at tick {self.tick})"
        self._lab.terminate([self.id], hard=True, details=INTERRUPTED)
        wait_quietly(self.done)
        return f"trial {self.id} cancelled at tick {self.tick} (its steps so far are recorded)"

    def __await__(self) -> Generator[Any, None, TrialHandle]:
        return asyncio.wrap_future(self.done).__await__()

    def cancel(self, hard: bool = True) -> None:
        """End the trial: at once (``hard``), or after the current tick (soft, the env's final observation)."""
        self._lab.terminate([self.id], hard=hard)

    # -- data ---------------------------------------------------------------------------------

    def steps(self) -> pd.DataFrame:
        return self._lab.steps(self.id)

    def data(self) -> dict[str, TrialData]:
        return self._lab.get_trial_data(self.id)

    def __repr__(self) -> str:
        error = f", error={self.errors[0]!r}" if self.errors else ""
        return f"<TrialHandle {self.id} env={self.env!r} {self.state} tick={self.tick}{error}>"

    def _repr_html_(self) -> str:
        color = {"ENDED": "#666", "RUNNING": "#1a7f37"}.get(self.state, "#9a6700")
        error = f"<br><span style='color:#cf222e'>{html.escape(self.errors[0])}</span>" if self.errors else ""
        return (
            f"<code>{html.escape(self.id)}</code> &middot; {html.escape(self.env)} &middot; "
            f"<b style='color:{color}'>{self.state}</b> &middot; tick {self.tick}{error}"
        )


#: the least number of weakly held handles between two sweeps of the dead ones
SWEEP_AT_LEAST = 1024


class Handles:
    """The trial handles a lab keeps: every running trial's, the ``recent`` last finished ones
    (``%cogment status``, ``lab.trial(id)`` right after a run), and any one its user still
    holds, weakly. A session of a million trials keeps a bounded number: the others' data
    is in the datastore (``lab.trials()``, ``lab.steps(id)``).

    A handle is held weakly only once it leaves the recent ones, by a plain weak reference
    (no callback runs when it goes): the references to handles gone are swept as they pile up.
    """

    def __init__(self, recent: int = 256) -> None:
        self.recent = recent
        self._lock = threading.Lock()
        self._running: dict[str, TrialHandle] = {}
        self._finished: OrderedDict[str, TrialHandle] = OrderedDict()
        self._held: dict[str, weakref.ref[TrialHandle]] = {}
        self._sweep_at = SWEEP_AT_LEAST

    def add(self, handle: TrialHandle) -> None:
        trial_id = handle.id
        with self._lock:
            if trial_id in self._running or trial_id in self._finished or self._held_handle(trial_id) is not None:
                raise ValueError(f"trial id {trial_id!r} is already used by this lab")
            self._running[trial_id] = handle

    def finished(self, handle: TrialHandle) -> None:
        """The trial is over: its handle joins the recent ones (the oldest of which go)."""
        trial_id = handle.id
        with self._lock:
            self._running.pop(trial_id, None)
            finished = self._finished
            finished[trial_id] = handle
            finished.move_to_end(trial_id)
            while len(finished) > self.recent:
                self._hold_weakly(finished.popitem(last=False)[1])

    def _hold_weakly(self, handle: TrialHandle) -> None:
        """Keep ``handle`` findable as long as someone else holds it; sweep the dead references
        once they may be as many as the live ones."""
        held = self._held
        held[handle.id] = weakref.ref(handle)
        if len(held) >= self._sweep_at:
            for trial_id in [trial_id for trial_id, ref in held.items() if ref() is None]:
                del held[trial_id]
            self._sweep_at = max(SWEEP_AT_LEAST, 2 * len(held))

    def _held_handle(self, trial_id: str) -> TrialHandle | None:
        ref = self._held.get(trial_id)
        return None if ref is None else ref()

    def get(self, trial_id: str) -> TrialHandle | None:
        with self._lock:
            return self._running.get(trial_id) or self._finished.get(trial_id) or self._held_handle(trial_id)

    def all(self) -> list[TrialHandle]:
        """The recent finished handles (oldest first), then the running ones (in start order)."""
        with self._lock:
            return [*self._finished.values(), *self._running.values()]
