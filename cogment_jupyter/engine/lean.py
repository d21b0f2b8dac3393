"""Plain in-process episodes of an inline batch, run without an engine ``Trial``.

A batch of in-process trials of one environment and one synchronous actor would spend much
of each short trial in the engine's objects (``Trial``, its ports, its ``TickLease`` and fused
loop, the tick loop that ends it). ``run_trials`` runs such an episode as a
:class:`LeanEpisode`, whose straight-line run (``transport.lean``: the components are the
transport's) produces what the engine would: the trial's id and params, its states through
the orchestrator (its table, its watchers), its handle's view, its rows and final sample in
the datastore, the same calls to the components in the same order
(``docs/decisions/lean-runner.md``; ``tests/lab/test_lean_runner.py`` runs both). This
module is the engine's side of it: what others read and ask of the episode, and how it
becomes the engine's ``Trial``.

The moment the episode is not plain it is handed to the engine: it becomes the ``Trial``
the engine would have at that point (made from the same connections, its state copied in,
a ``TickLease`` holding the open tick and the rows not yet written), the orchestrator's
table takes the trial, what the components reported and every later report go to the
trial's ports, and the engine's own code runs the rest, as after ``FusedTicks`` gives a
trial back: an init that failed or reported more than the reset's observations, an actor
that raised, answered outside its space or later, or sent something, an observation or
action that cannot be encoded, a step that raised, a reward for someone not an actor, a
hard or soft end seen at a pause, an actor whose last observation raised or sent something.
A batch declines the runner up front by its params (:func:`runs_lean`), and a lab without
the fused loop never runs it (``Orchestrator.lean_episodes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from cogment_jupyter.engine.components import (
    ActorConnection,
    ActorPort,
    EnvironmentConnection,
    EnvironmentPort,
    TickRows,
)
from cogment_jupyter.engine.errors import TrialAborted
from cogment_jupyter.engine.records import (
    END_REQUESTED,
    FORCED_TERMINATION,
    ORCHESTRATOR_SHUTDOWN,
    Action,
    Message,
    ObservationSet,
    Reward,
    RewardSource,
    Sample,
    TrialActor,
    TrialState,
    config_content,
    now_ns,
)
from cogment_jupyter.engine.trial import (
    ActorSlot,
    TickLease,
    Trial,
    TrialActorPort,
    TrialEnvironmentPort,
    TrialLife,
    write_rows,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from cogment_jupyter.engine.components import DatalogConnection
    from cogment_jupyter.proto.common_pb2 import TrialParams

log = logging.getLogger(__name__)


def runs_lean(params: TrialParams, recorded: bool) -> bool:
    """Whether the episodes of a batch of these params may run lean, decided by params alone
    (what the engine's fused loop would refuse, or run through the engine's own paths)."""
    if len(params.actors) != 1 or not recorded:
        return False
    actor = params.actors[0]
    if actor.optional or actor.HasField("default_action") or actor.initial_connection_timeout > 0:
        return False
    return params.max_steps == 0 and params.nb_buffered_ticks <= 2 and not params.datalog.exclude_fields


class RecordingPort(EnvironmentPort, ActorPort):
    """A component's port while its episode runs lean: what the component reports is kept in
    order (``calls``) for the runner to read; once the episode is handed to the engine
    (:meth:`hand_to`) the kept calls go to the trial's port, in order, and every later call
    straight there. (So nothing a component reports is lost or reordered by a hand-over.)"""

    __slots__ = ("calls", "target")

    #: what an actor reports after its last observation when all is well
    ACKED: list[tuple[str, tuple[Any, ...]]] = [("last_ack", ())]  # noqa: RUF012 (read only)

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.target: Any = None

    def hand_to(self, target: EnvironmentPort | ActorPort) -> None:
        self.target = target
        calls, self.calls = self.calls, []
        for name, args in calls:
            getattr(target, name)(*args)

    def _report(self, name: str, *args: Any) -> None:
        target = self.target
        if target is None:
            self.calls.append((name, args))
        else:
            getattr(target, name)(*args)

    def observations(self, observation_set: ObservationSet) -> None:
        self._report("observations", observation_set)

    def last(self) -> None:
        self._report("last")

    def action(self, action: Action) -> None:
        self._report("action", action)

    def refused(self, tick: int, reason: str) -> None:
        self._report("refused", tick, reason)

    def reward(self, reward: Reward) -> None:
        self._report("reward", reward)

    def message(self, message: Message) -> None:
        self._report("message", message)

    def last_ack(self) -> None:
        self._report("last_ack")

    def lost(self, reason: str) -> None:
        self._report("lost", reason)

    def failed(self, error: str) -> None:
        self._report("failed", error)


def _unseen(trial: Trial) -> None:
    """A handed-over trial's making is no state change (the episode's states were seen)."""


class LeanEpisode(TrialLife):
    """One trial of a batch, run lean; what the orchestrator's table, its watchers and the
    trial's handle read of a ``Trial`` (see the module doc). A subclass runs it (``_run``)."""

    __slots__ = (
        "__weakref__",
        "_actor",
        "_adopt",
        "_closing",
        "_configured_ns",
        "_datalog",
        "_environment",
        "_handed",
        "_latest",
        "_on_state",
        "_slot",
        "_terminate",
        "created_ns",
        "end_details",
        "end_requested",
        "ended_ns",
        "env_name",
        "errors",
        "fused",
        "id",
        "last_activity",
        "max_inactivity",
        "params",
        "state",
        "tick_id",
        "user_id",
    )

    def __init__(
        self,
        trial_id: str,
        user_id: str,
        params: TrialParams,
        environment: EnvironmentConnection,
        actor: ActorConnection,
        slot: tuple[str, str, str, float],
        datalog: DatalogConnection,
        on_state: Callable[[Any], None],
        adopt: Callable[[Trial], None],
    ) -> None:
        """``slot``: the actor's name, class, implementation and response timeout."""
        self.id = trial_id
        self.user_id = user_id
        self.params = params
        self.env_name = params.environment.name
        self._environment = environment
        self._actor = actor
        self._slot = slot
        self._datalog = datalog
        self._on_state = on_state
        self._adopt = adopt
        self._handed: Trial | None = None
        self._latest: ObservationSet | None = None
        self._closing: asyncio.Future[None] | None = None
        #: a hard termination asked for (its details and event), for the episode's next pause
        self._terminate: tuple[str, str | None] | None = None
        self.state = TrialState.UNKNOWN
        self.tick_id = 0
        self.created_ns = now_ns()
        self.ended_ns: int | None = None
        self.end_requested = False
        self.end_details: str | None = None
        self.errors: list[str] = []
        self.last_activity = time.monotonic()
        self.max_inactivity = params.max_inactivity
        self.fused = True
        self.set_state(TrialState.INITIALIZING)
        datalog.start_now(trial_id, user_id, params)
        self._configured_ns = now_ns()  # (sample 0's time, as Trial.configure makes it)
        self.set_state(TrialState.PENDING)

    # -- what others read and ask of a trial ----------------------------------------------------

    @property
    def latest_observations(self) -> ObservationSet | None:
        """The open tick's observations as of the episode's last pause (others read it only
        then; the first tick's before that), or its final ones once it ended (``GetTrialInfo``)."""
        if self._handed is not None:
            return self._handed.latest_observations
        return self._latest

    def actors_in_trial(self) -> list[TrialActor]:
        return [TrialActor(self._slot[0], self._slot[1])]

    def hard_terminate(self, details: str, event: str | None = None) -> None:
        """Done by the engine at the episode's next pause (its only await while it ticks), or
        before it runs: nothing else runs in between."""
        if not self.ended and self._terminate is None:
            self._terminate = (details, event)

    def request_end(self) -> None:
        if not self.ended:
            self.end_requested = True

    async def wait_recorded(self) -> None:
        handed = self._handed
        if handed is not None:
            await handed.wait_recorded()
            self._follow()
            return
        closing = self._closing
        if closing is None:
            return
        if not closing.done():  # (shared by a writer batch's closes: waited for, never cancelled)
            await asyncio.wait([closing])
        self._closing = None
        try:  # (as Trial._datalog_closed)
            error = None if closing.cancelled() else closing.exception()
            if error is not None:
                raise error
            self._datalog.check_closed()
        except Exception as error:
            log.warning("Trial [%s] is not recorded completely: %s", self.id, error)
            self.errors.append(f"datalog: the trial is not recorded completely: {error}")

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        except TrialAborted:
            pass
        except asyncio.CancelledError:
            self._fail(ORCHESTRATOR_SHUTDOWN)
            raise
        except Exception as error:
            log.exception("Trial [%s] failed", self.id)
            self._fail(f"Internal failure: {error}")
        finally:
            self._follow()

    async def _run(self) -> None:
        """Init, ticks and end, handed over where the episode is not plain."""
        raise NotImplementedError

    def _hand_over(
        self,
        opened: tuple[TickRows, dict[int, list[RewardSource]], RecordingPort, RecordingPort],
        first_row: int,
        observations: list[Any],
        tick_started: int,
        values: list[Any],
        answered: int,
        processed: bool,
    ) -> TickLease:
        """The episode becomes the engine's ``Trial`` as the fused loop would have it at its
        open tick (``observations`` since ``tick_started``, ``values`` of the first ``answered``
        actors, stepped on if ``processed``), lent to a ``TickLease`` holding the rows not yet
        handed to the datalog; the orchestrator's table has the trial from now on, and what
        the actor reported during the tick goes to it. The caller then does what ``FusedTicks``
        does at that point."""
        rows, pending, actor_port, env_port = opened
        trial, slot = self._trial(pending)
        trial.tick_started_ns = tick_started
        if self.end_requested:  # (requested at a pause: the open tick's record says so, as the engine's)
            trial._current_sample().special_events.append(END_REQUESTED)
        trial._first_observation = False
        trial._env_stream_open = True
        lease = TickLease(trial, rows)
        actor = self._actor
        lease.lend(self._datalog, lambda index, value: actor.action_payload(value), [actor.wants_rewards], first_row)
        lease.observations = observations
        lease.values = values
        lease.answered = answered
        lease.processed = processed
        self._handed = trial
        self._adopt(trial)
        env_port.hand_to(TrialEnvironmentPort(trial))
        actor_port.hand_to(TrialActorPort(trial, slot))
        return lease

    async def _hand_over_ending(
        self, sample: Sample, pending: dict[int, list[RewardSource]], actor_port: RecordingPort, env_port: RecordingPort
    ) -> None:
        """The episode becomes the engine's ``Trial`` as ``Trial._finish`` has it once the
        last observations are dispatched (the environment acked, the final ``sample`` open),
        what the actor reported since goes to the trial, and the engine ends it."""
        trial, slot = self._trial(pending)
        trial._first_observation = False
        trial._env_stream_open = True
        trial._env_acked = True
        trial._samples.append(sample)
        trial._latest_observations = sample.observations
        trial.fused = True
        self._handed = trial
        self._adopt(trial)
        env_port.hand_to(TrialEnvironmentPort(trial))
        actor_port.hand_to(TrialActorPort(trial, slot))
        await trial._finish(dispatched=True)

    def _actor_init_failed(self, actor_port: RecordingPort, env_port: RecordingPort, error: Exception) -> None:
        """The actor's init raised: the engine's end of it (its only actor is not optional)."""
        trial, slot = self._hand_over_pending(actor_port, env_port, False)
        trial._actor_init_failed(slot, error)
        trial.hard_terminate("Failed to initialize all actors")

    def _env_init_failed(self, actor_port: RecordingPort, env_port: RecordingPort, error: Exception) -> None:
        """The environment's init raised: the engine's end of it (raises ``TrialAborted``)."""
        trial, _ = self._hand_over_pending(actor_port, env_port, True)
        trial._env_init_failed(error)

    def _hand_over_initialised(self, actor_port: RecordingPort, env_port: RecordingPort) -> Trial:
        """The episode becomes the engine's ``Trial`` as ``Trial.run`` has it once its
        components' init is done (what they reported during it forwarded), for the engine to
        run from there (``run(initialised=True)``)."""
        trial, _ = self._hand_over_pending(actor_port, env_port, True)
        trial._env_stream_open = True
        trial._check_aborted()  # (as after the engine's environment init)
        return trial

    def _hand_over_pending(
        self, actor_port: RecordingPort, env_port: RecordingPort, actor_initialised: bool
    ) -> tuple[Trial, ActorSlot]:
        """The episode becomes the engine's ``Trial`` as it is while PENDING (sample 0 of its
        configure), what the actor reported during its init forwarded (its stream not open
        yet), then its stream open if ``actor_initialised``, what the environment reported."""
        trial, slot = self._trial({})
        slot.stream_open = False
        trial._samples.append(Sample(0, self._configured_ns, actions=[None]))
        self._handed = trial
        self._adopt(trial)
        actor_port.hand_to(TrialActorPort(trial, slot))
        slot.stream_open = actor_initialised
        env_port.hand_to(TrialEnvironmentPort(trial))
        return trial, slot

    def _trial(self, pending: dict[int, list[RewardSource]]) -> tuple[Trial, ActorSlot]:
        """The engine's ``Trial`` of the episode as it stands (its state, tick, times, errors),
        the actor's slot (open, with its ``pending`` rewards); its making is no state change."""
        name, actor_class, implementation, response_timeout = self._slot
        actor_config = self.params.actors[0]
        slot = ActorSlot(
            0,
            name,
            actor_class,
            implementation,
            config_content(actor_config),
            False,
            None,
            0.0,
            response_timeout,
            self._actor,  # type: ignore[arg-type]
            stream_open=True,
            pending_rewards=pending,
        )
        trial = Trial(
            self.id, self.user_id, self.params, self._environment, [slot], self._datalog, _unseen, fused_ticks=True
        )
        trial.state = self.state
        trial.tick_id = self.tick_id
        trial.created_ns = self.created_ns
        trial.errors = self.errors
        trial.end_requested = self.end_requested
        trial.last_activity = self.last_activity
        trial._on_state = self._on_state
        return trial, slot

    def _follow(self) -> None:
        """Take what the handle reads from the trial the episode was handed to."""
        trial = self._handed
        if trial is not None:
            self.state, self.tick_id, self.end_details, self.ended_ns = (
                trial.state,
                trial.tick_id,
                trial.end_details,
                trial.ended_ns,
            )

    def _flush(self, rows: TickRows, first: int) -> int:
        """Hand the rows so far to the datalog; the tick of the next first row."""
        if not rows.timestamps:
            return first
        return write_rows(self._datalog, rows, first, [self._slot[0]], self.env_name)

    def _fail(self, details: str) -> None:
        """End the episode as a failure that says why (the loop closing before the episode
        could be handed over, or a failure of the runner itself)."""
        if self._handed is not None:
            self._handed.hard_terminate(details)
            return
        if self.ended:
            return
        self.end_details = details
        self.errors.append(details)
        for end in (self._environment.end, self._actor.end):
            with contextlib.suppress(Exception):  # (a component's end is logged by its connection)
                end(details)
        sample = Sample(self.tick_id + 1, now_ns(), state=TrialState.ENDED, actions=[None])
        sample.special_events.append(FORCED_TERMINATION + details)
        self.set_state(TrialState.ENDED)
        try:
            self._datalog.add([sample])
            self._closing = self._datalog.close_now()
        except Exception as error:
            self.errors.append(f"datalog: {error}")
