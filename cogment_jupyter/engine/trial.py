"""One trial: its state machine and tick loop (``cogment-protocol.md`` §4, §7, §10).

The tick loop is a single *driver* coroutine. Components report through ports that only
record what arrived and wake the driver; the driver does all routing. In-process components
answer synchronously from inside the engine's calls, so a whole tick can run without a
single suspension of the driver: that is the fast path. Remote components make the driver
wait on a future instead. Either way the order of events is the same. The rules of a tick
that do not depend on how it is driven are in :mod:`.ticks`.

Fastest of all, a trial whose every part is an in-process object may lend its ticks to a
*fused* loop its environment offers (:meth:`EnvironmentConnection.fused_loop`): it calls the
objects directly and records plain rows, without the records of the protocol. Everything it
changes in the trial goes through the :class:`TickLease` the trial lends it (ticks, times,
activity, reward queues, rows), which gives the trial back to this module's loop at the first
tick that is not plain: its end, a failure, an action that is awaited, anything routed by the
engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cogment_jupyter.engine.components import (
    ActorConnection,
    ActorPort,
    ClientActorConnection,
    DatalogConnection,
    EnvironmentConnection,
    EnvironmentPort,
    TickRows,
)
from cogment_jupyter.engine.errors import TrialAborted
from cogment_jupyter.engine.records import (
    END_REQUESTED,
    ENV_ENDED,
    FORCED_TERMINATION,
    ORCHESTRATOR_SHUTDOWN,
    Action,
    ActionSet,
    ActorInit,
    EnvInit,
    Message,
    Observation,
    ObservationSet,
    Payload,
    Reward,
    RewardSource,
    Sample,
    TrialActor,
    TrialState,
    config_content,
    now_ns,
)
from cogment_jupyter.engine.ticks import Pacer, is_last_tick, rewards_to_deliver

if TYPE_CHECKING:
    from cogment_jupyter.proto.common_pb2 import TrialParams

log = logging.getLogger(__name__)

ENV_LAST_ACK_TIMEOUT = 60.0
ACTOR_LAST_ACK_TIMEOUT = 30.0

_NOTHING: frozenset[str] = frozenset()
#: (a module constant: an enum member looked up on its class costs more than the comparison)
_ENDED = TrialState.ENDED

EXCLUDABLE_FIELDS = {
    "info",
    "observations",
    "actions",
    "rewards",
    "messages",
    "default_actors",
    "unavailable_actors",
}


def snapshot_all(payloads: Sequence[object]) -> None:
    """Fix the recorded bytes of in-process payloads now (``LabObservation.snapshot``): an
    environment may reuse its observation array at its next step, before the sample is
    logged. Bytes from gRPC peers need nothing."""
    for payload in payloads:
        snapshot = getattr(payload, "snapshot", None)
        if snapshot is not None:
            snapshot()


@dataclass(slots=True)
class ActorSlot:
    """What the trial knows about one actor (index = position in the params)."""

    index: int
    name: str
    actor_class: str
    implementation: str
    config: bytes | None
    optional: bool
    default_action: bytes | None
    initial_connection_timeout: float
    response_timeout: float
    connection: ActorConnection
    disengaged: bool = False
    stream_open: bool = False
    last_ack: bool = False
    pending_rewards: dict[int, list[RewardSource]] = field(default_factory=dict)


class TrialEnvironmentPort(EnvironmentPort):
    """The environment's port on a trial, bound straight to the trial's handlers: one call
    per event on the fast path."""

    def __init__(self, trial: Trial) -> None:
        self._trial = trial
        self.observations = trial._env_observations  # type: ignore[method-assign]
        self.last = trial._env_last  # type: ignore[method-assign]
        self.last_ack = trial._env_last_ack  # type: ignore[method-assign]

    def observations(self, observation_set: ObservationSet) -> None:
        self._trial._env_observations(observation_set)

    def last(self) -> None:
        self._trial._env_last()

    def last_ack(self) -> None:
        self._trial._env_last_ack()

    def reward(self, reward: Reward) -> None:
        self._trial.route_reward(self._trial.env_name, reward)

    def message(self, message: Message) -> None:
        self._trial.route_message(self._trial.env_name, message)

    def lost(self, reason: str) -> None:
        self._trial._env_lost(f"environment [{self._trial.env_name}] disconnected: {reason}")

    def failed(self, error: str) -> None:
        self._trial._env_lost(
            f"environment [{self._trial.env_name}]: {error}", f"Environment failed: {error}", raised=True
        )


class TrialActorPort(ActorPort):
    """An actor's port on a trial (its slot's)."""

    def __init__(self, trial: Trial, slot: ActorSlot) -> None:
        self._trial = trial
        self._slot = slot
        self.action = functools.partial(trial._actor_action, slot)  # type: ignore[method-assign]

    def action(self, action: Action) -> None:
        self._trial._actor_action(self._slot, action)

    def reward(self, reward: Reward) -> None:
        self._trial.route_reward(self._slot.name, reward)

    def message(self, message: Message) -> None:
        self._trial.route_message(self._slot.name, message)

    def last_ack(self) -> None:
        self._slot.last_ack = True
        self._trial._wake_driver()

    def refused(self, tick: int, reason: str) -> None:
        self._trial._actor_action_refused(self._slot, tick, reason)

    def lost(self, reason: str) -> None:
        self._trial._actor_lost(self._slot, f"actor [{self._slot.name}] disconnected: {reason}")

    def failed(self, error: str) -> None:
        self._trial._actor_lost(self._slot, f"actor [{self._slot.name}]: {error}", raised=True)


class TrialLife:
    """A trial's state and when it ended, as the orchestrator, its watchers and the trial's
    handle read them: one source for a :class:`Trial` and a lean episode (``engine.lean``).
    Its subclass has ``state``, ``created_ns``, ``ended_ns`` and ``_on_state`` (the
    orchestrator's, told of every change)."""

    __slots__ = ()

    state: TrialState
    created_ns: int
    ended_ns: int | None
    _on_state: Callable[[Any], None]

    @property
    def ended(self) -> bool:
        return self.state == _ENDED

    @property
    def duration_ns(self) -> int:
        return (self.ended_ns or now_ns()) - self.created_ns

    def set_state(self, state: TrialState) -> None:
        if state == self.state:
            return
        self.state = state
        if state == _ENDED:
            self.ended_ns = now_ns()
        self._on_state(self)


class Trial(TrialLife):
    """A running trial. Created by the orchestrator, driven by :meth:`run`."""

    # (slots: a short trial's making and every tick's reads cost less; an orchestrator keeps
    # up to a thousand ended ones)
    __slots__ = (
        "__weakref__",
        "_acted",
        "_actions",
        "_by_name",
        "_datalog_backlog",
        "_datalog_closing",
        "_datalog_starting",
        "_driver",
        "_ended",
        "_env_acked",
        "_env_sent_last",
        "_env_stream_open",
        "_exclude",
        "_first_observation",
        "_fused_ticks_allowed",
        "_latest_observations",
        "_lease",
        "_loop",
        "_nb_acted",
        "_nb_available",
        "_nb_buffered",
        "_observations",
        "_on_state",
        "_orchestrator_sent_last",
        "_samples",
        "_snapshot_actions",
        "_snapshot_observations",
        "_tick_processed",
        "_timers",
        "_wake",
        "actors",
        "created_ns",
        "datalog",
        "end_details",
        "end_requested",
        "ended_ns",
        "env_name",
        "environment",
        "errors",
        "fused",
        "fused_ticks",
        "id",
        "last_activity",
        "max_inactivity",
        "max_steps",
        "params",
        "state",
        "tick_id",
        "tick_started_ns",
        "user_id",
    )

    def __init__(
        self,
        trial_id: str,
        user_id: str,
        params: TrialParams,
        environment: EnvironmentConnection,
        actors: Sequence[ActorSlot],
        datalog: DatalogConnection | None,
        on_state: Callable[[Trial], None],
        *,
        fused_ticks: bool = True,
    ) -> None:
        """``fused_ticks``: whether the trial may lend its ticks to a fused loop (see the module doc)."""
        self.id = trial_id
        self.user_id = user_id
        self.params = params
        self.env_name = params.environment.name
        self.environment = environment
        self.actors = list(actors)
        self.datalog = datalog
        self._on_state = on_state
        self.state = TrialState.UNKNOWN
        self.tick_id = 0
        self.created_ns = now_ns()
        self.ended_ns: int | None = None
        self.end_requested = False
        self.end_details: str | None = None
        #: what components raised, for users (status tables, trial handles)
        self.errors: list[str] = []
        self.last_activity = time.monotonic()
        self.max_steps = params.max_steps
        self.max_inactivity = params.max_inactivity
        nb = params.nb_buffered_ticks
        self._nb_buffered = nb if nb >= 2 else 2
        exclude = params.datalog.exclude_fields
        self._exclude = {f.lower() for f in exclude} & EXCLUDABLE_FIELDS if exclude else _NOTHING
        # in-process payloads are fixed as they arrive: their producer may reuse the array
        recorded = datalog is not None
        self._snapshot_observations = recorded and "observations" not in self._exclude
        self._snapshot_actions = recorded and "actions" not in self._exclude
        self._samples: deque[Sample] = deque()
        self._first_observation = True
        self._observations: deque[tuple[ObservationSet, bool]] = deque()
        self._latest_observations: ObservationSet | None = None
        self._env_sent_last = False
        self._orchestrator_sent_last = False
        self._env_acked = False
        self._env_stream_open = False
        self._actions: list[Action | None] = [None] * len(self.actors)
        self._acted: list[bool] = [False] * len(self.actors)
        self._nb_acted = 0
        self._nb_available = len(self.actors)  # actors not disengaged
        self._tick_processed = True
        self._timers: list[asyncio.TimerHandle] = []
        self._wake: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._driver: asyncio.Task[None] | None = None
        self._ended = asyncio.Event()
        #: the datalog's close: a task awaiting it, or what resolves once the record is committed
        self._datalog_closing: asyncio.Future[None] | None = None
        self._datalog_starting: asyncio.Task[None] | None = None
        self._datalog_backlog: list[Sample] | None = None
        self._by_name = {slot.name: slot for slot in self.actors}
        self._fused_ticks_allowed = fused_ticks
        #: the lease of the fused loop running the ticks, if one does (see the module doc)
        self._lease: TickLease | None = None
        #: whether a fused loop ran this trial's first ticks, and how many it recorded
        self.fused = False
        self.fused_ticks = 0
        #: when the current tick started (a fused tick has no record until one is needed)
        self.tick_started_ns = 0
        self.set_state(TrialState.INITIALIZING)

    # ----------------------------------------------------------------- lifecycle

    async def wait_ended(self) -> None:
        await self._ended.wait()

    async def wait_recorded(self) -> None:
        """Until the trial ended and its datalog has taken every sample."""
        await self._ended.wait()
        closing = self._datalog_closing
        if isinstance(closing, asyncio.Task):
            await asyncio.shield(closing)
        elif closing is not None:  # (shared by a writer batch's closes: waited for, never cancelled)
            await asyncio.wait([closing])
            self._datalog_closed(closing)  # (its callback may not have run yet)

    def configure(self) -> None:
        """Open the datalog and create sample 0; then the trial is PENDING (§3)."""
        if self.datalog is not None and not self.datalog.start_now(self.id, self.user_id, self.params):
            # the trial does not wait for its datalog: samples wait in a backlog until it is open
            self._datalog_backlog = []
            self._datalog_starting = self._loop.create_task(self.datalog.start(self.id, self.user_id, self.params))
            self._datalog_starting.add_done_callback(self._datalog_started)
        self._samples.append(self._new_sample(0))
        self.set_state(TrialState.PENDING)

    def start(self) -> None:
        """Run the trial in a task of its own."""
        self._driver = self._loop.create_task(self.run(), name=f"trial-{self.id}")

    @property
    def latest_observations(self) -> ObservationSet | None:
        if self._lease is not None:
            return self._lease.observation_set()
        return self._latest_observations

    def request_end(self) -> None:
        """Soft termination (§2.2): acts at the next action processing."""
        if self.ended:
            return
        self.end_requested = True
        if self.state >= TrialState.PENDING:
            self._current_sample().special_events.append(END_REQUESTED)

    def hard_terminate(self, details: str, event: str | None = None) -> None:
        """End now: ``END`` with details to every open stream, state ENDED (§7.4)."""
        if self.ended:
            return
        log.info("Trial [%s] hard termination: %s", self.id, details)
        self.end_details = details
        if self.state >= TrialState.PENDING:
            events = self._current_sample().special_events
            if event:
                events.append(event)
            events.append(FORCED_TERMINATION + details)
        self._end_streams(details)
        self._enter_ended()

    # ----------------------------------------------------------------- driver

    async def run(self, initialised: bool = False) -> None:
        """Run the trial to its end in the caller's task (:meth:`start` makes it one; a batch of
        in-process trials runs them back to back in one task, ``lab.inline_batch``);
        ``initialised``: its components' init is done (a lean episode handed over, ``engine.lean``)."""
        try:
            if not initialised:
                await self._init_actors()
                await self._init_environment()
            lease = self._lease_ticks()
            fused = self.environment.fused_loop(lease) if lease is not None else None
            await (fused.run() if fused is not None else self._tick_loop())
        except TrialAborted:
            pass
        except asyncio.CancelledError:
            self.hard_terminate(ORCHESTRATOR_SHUTDOWN)
            raise
        except Exception as error:  # a bug or a component that raised inside our call
            log.exception("Trial [%s] failed", self.id)
            self.hard_terminate(f"Internal failure: {error}")
        finally:
            self._cancel_timers()
            self._driver = None  # the loop holds the task until it returns

    async def _init_actors(self) -> None:
        async def init_one(slot: ActorSlot) -> bool:
            init = ActorInit(
                slot.name, slot.actor_class, slot.implementation, self.env_name, slot.config, slot.response_timeout
            )
            timeout = slot.initial_connection_timeout
            try:
                if timeout:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for wraps the init in a task of its own
                    async with asyncio.timeout(timeout):
                        await slot.connection.init(init, TrialActorPort(self, slot))
                else:
                    await slot.connection.init(init, TrialActorPort(self, slot))
            except (Exception, TimeoutError) as error:
                self._actor_init_failed(slot, error)
                return False
            slot.stream_open = True
            return True

        if len(self.actors) == 1:  # no task to make for the common single-agent trial
            results = [await init_one(self.actors[0])]
        else:
            results = await asyncio.gather(*(init_one(slot) for slot in self.actors))
        self._check_aborted()
        for slot, ok in zip(self.actors, results, strict=True):
            if ok:
                continue
            if not slot.optional:
                self.hard_terminate("Failed to initialize all actors")
                raise TrialAborted
            self._disengage(slot)

    async def _init_environment(self) -> None:
        environment = self.params.environment
        actors = self.actors
        init = EnvInit(
            self.env_name,
            environment.implementation,
            self.tick_id,
            self.actors_in_trial(),
            config_content(environment),
            actors[0].response_timeout if len(actors) == 1 else max((s.response_timeout for s in actors), default=0.0),
        )
        try:
            await self.environment.init(init, TrialEnvironmentPort(self))
        except Exception as error:
            self._env_init_failed(error)
        self._env_stream_open = True
        self._check_aborted()

    def _actor_init_failed(self, slot: ActorSlot, error: BaseException) -> None:
        """Actor ``slot``'s init raised: recorded, its connection ended (the trial decides after every init)."""
        log.warning("Trial [%s] actor [%s] failed to initialize: %r", self.id, slot.name, error)
        self.errors.append(f"actor [{slot.name}] failed to initialize: {error!r}")
        slot.connection.end("Failed to initialize")

    def _env_init_failed(self, error: Exception) -> None:
        """The environment's init raised: the trial ends with the reason (raises TrialAborted)."""
        self._check_aborted()
        log.warning("Trial [%s] environment failed to initialize: %r", self.id, error)
        self.errors.append(f"environment [{self.env_name}] failed to initialize: {error}")
        self.hard_terminate(f"Failed to initialize environment: {error}")
        raise TrialAborted from error

    async def _tick_loop(self, resume: bool = False) -> None:
        """Run ticks until the trial ends; ``resume``: the current tick is already dispatched
        (a fused loop handed it over), wait for its actions first."""
        pacer = Pacer()
        observations = self._observations
        while True:
            if resume:
                resume = False
            else:
                if not observations:
                    await self._wait_until(lambda: bool(observations))
                if self.state == TrialState.ENDED:
                    raise TrialAborted
                observation_set, final = observations.popleft()
                self._new_tick(observation_set, final)
                if final:
                    await self._finish()
                    return
                self._dispatch_observations(observation_set)
                self._push_samples()
            if self._nb_acted < self._nb_available and not observations:
                await self._wait_until(self._acted_or_moved_on)
            if self._nb_acted < self._nb_available:
                continue  # the environment moved on by itself: this tick gets no action set
            self._process_actions()
            if pacer.due():  # fairness for other trials on the fast path
                await pacer.pause()
                self._check_aborted()

    # ----------------------------------------------------------------- lending ticks to a fused loop

    def _lease_ticks(self) -> TickLease | None:
        """A lease of this trial's ticks for a fused loop, when the engine has nothing to do
        in them that a fused loop cannot: the trial is about to start its first tick on the
        reset's observations; it keeps no more samples than the current one (a late reward
        must find its tick's record where the engine looks for it); no field is excluded from
        its datalog, which takes plain rows."""
        if not self._fused_ticks_allowed or self.state != TrialState.PENDING:
            return None
        if len(self._observations) != 1 or self._observations[0][1]:
            return None  # the environment ended the trial at its reset: the engine's end path
        if self._nb_buffered > 2 or self._exclude:
            return None
        if self.datalog is not None and not self.datalog.accepts_rows:
            return None
        if any(slot.disengaged or not slot.stream_open for slot in self.actors):
            return None
        return TickLease(self)

    def _adopt_tick(self, observation_set: ObservationSet, actions: list[Action | None], processed: bool) -> None:
        """Make a fused loop's open tick this loop's current tick: ``actions`` are what each
        actor answered so far (None: not yet), ``processed``: they went to the environment."""
        if self._snapshot_observations:  # as if they had just arrived (see _env_observations)
            snapshot_all(observation_set.observations)
        if self._snapshot_actions:
            snapshot_all([action.content for action in actions if action is not None])
        sample = self._current_sample()
        sample.observations = observation_set
        self._latest_observations = observation_set
        self._actions = actions
        self._acted = [action is not None for action in actions]
        self._nb_acted = sum(self._acted)
        self._tick_processed = processed
        if processed:
            sample.actions = actions

    async def open_datalog(self) -> DatalogConnection | None:
        """The trial's datalog once it is open and its backlog sent (None: not recorded)."""
        starting = self._datalog_starting
        if starting is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(starting)
            self._datalog_started(starting)  # its callback may not have run yet
        return self.datalog

    def _new_tick(self, observation_set: ObservationSet, final: bool) -> None:
        if self._first_observation:
            self._first_observation = False
            self.set_state(TrialState.RUNNING)
            sample = self._current_sample()
            sample.timestamp = now_ns()
        else:
            if self._samples:  # (none when a fused loop recorded the previous tick itself)
                self._samples[-1].state = self.state
            self.tick_id += 1
            sample = self._new_sample(self.tick_id)
            self._samples.append(sample)
        sample.observations = observation_set
        self._latest_observations = observation_set
        n = len(self.actors)
        self._actions = [None] * n
        self._acted = [False] * n
        self._nb_acted = 0
        self._tick_processed = False
        if final:
            self._tick_processed = True
            self.set_state(TrialState.TERMINATING)
            sample.special_events.append(ENV_ENDED)

    def _dispatch_observations(self, observation_set: ObservationSet, last: bool = False, first: int = 0) -> None:
        """Send each engaged actor (from index ``first``) its pending rewards and observation."""
        tick = self.tick_id
        contents = observation_set.observations
        actors_map = observation_set.actors_map
        timestamp = observation_set.timestamp
        timed = False
        for slot in self.actors[first:] if first else self.actors:
            if slot.disengaged:
                continue
            rewards = self.take_rewards(slot) if slot.pending_rewards else ()
            observation = Observation(tick, timestamp, contents[actors_map[slot.index]])
            if slot.response_timeout > 0 and not last:
                timed = True
            slot.connection.observation(observation, rewards, last)
        if timed:
            self._arm_response_timers(tick)

    def _all_acted(self) -> bool:
        return self._nb_acted >= self._nb_available

    def _acted_or_moved_on(self) -> bool:
        return self._nb_acted >= self._nb_available or bool(self._observations)

    def _disengage(self, slot: ActorSlot) -> None:
        if not slot.disengaged:
            slot.disengaged = True
            self._nb_available -= 1

    def _process_actions(self) -> None:
        """Build and send the action set of the current tick (§7.1.3)."""
        self._tick_processed = True
        if self._timers:
            self._cancel_timers()
        tick = self.tick_id
        sample = self._samples[-1]
        actions = sample.actions = self._actions
        unavailable: list[int] = []
        if None not in actions:  # everyone acted: the common case
            contents = [action.content for action in actions]  # type: ignore[union-attr]
        else:
            contents = self._contents_with_gaps(sample, unavailable)
        last = is_last_tick(tick, self.max_steps, self.end_requested)
        if last:
            self.set_state(TrialState.TERMINATING)
            if self.max_steps > 0 and tick >= self.max_steps:
                sample.special_events.append("Maximum number of steps reached")
            self._orchestrator_sent_last = True
        self.environment.actions(ActionSet(tick, contents, unavailable, now_ns()), last)

    def _contents_with_gaps(self, sample: Sample, unavailable: list[int]) -> list[object]:
        """Action contents when some actors did not act: defaults, unavailable, or the end (§7.1.3)."""
        contents: list[object] = []
        missing: list[str] = []
        for slot, action in zip(self.actors, self._actions, strict=True):
            if action is not None:
                contents.append(action.content)
                continue
            if slot.default_action is not None:
                contents.append(slot.default_action)
                sample.default_actors.append(slot.index)
            else:
                contents.append(b"")
                unavailable.append(slot.index)
            if not slot.optional:
                missing.append(slot.name)
        sample.unavailable_actors.extend(unavailable)
        if missing:
            self.hard_terminate(
                f"Action processing requirement failure [Required actors [{', '.join(missing)}] "
                f"unavailable at tick [{self.tick_id}]]"
            )
            raise TrialAborted
        return contents

    async def _finish(self, dispatched: bool = False) -> None:
        """Soft end after the final observation set (§7.2); ``dispatched``: the actors have it
        already (a lean episode handed over as it ends, ``engine.lean``)."""
        if not dispatched:
            observation_set = self._current_sample().observations
            assert observation_set is not None
            self._dispatch_observations(observation_set, last=True)
        details: str | None = None
        env_done = self._env_acked or not self._env_stream_open  # (in-process: it acked already)
        if not env_done and not await self._wait_until(
            lambda: self._env_acked or not self._env_stream_open, ENV_LAST_ACK_TIMEOUT
        ):
            details = "Environment failed to end properly"
        else:
            engaged = [s for s in self.actors if not s.disengaged and s.stream_open]
            if not all(s.last_ack for s in engaged):
                await self._wait_until(
                    lambda: all(s.last_ack or not s.stream_open for s in engaged), ACTOR_LAST_ACK_TIMEOUT
                )
        self._end_streams(details)
        self._enter_ended()

    # ----------------------------------------------------------------- waiting

    def _wake_driver(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _check_aborted(self) -> None:
        if self.state == TrialState.ENDED:
            raise TrialAborted

    async def _wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> bool:
        """Suspend until ``condition()``; False on timeout. Returns at once when it already holds."""
        if condition():
            return True
        deadline = None if timeout is None else self._loop.time() + timeout
        while not condition():
            self._check_aborted()
            wake = self._wake = self._loop.create_future()
            timer = None
            if deadline is not None:
                remaining = deadline - self._loop.time()
                if remaining <= 0:
                    return False
                timer = self._loop.call_later(remaining, self._wake_driver)
            try:
                await wake
            finally:
                if timer is not None:
                    timer.cancel()
        self._check_aborted()
        return True

    def _arm_response_timers(self, tick: int) -> None:
        for slot in self.actors:
            if slot.response_timeout > 0 and not slot.disengaged:
                self._timers.append(self._loop.call_later(slot.response_timeout, self._response_timeout, slot, tick))

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _response_timeout(self, slot: ActorSlot, tick: int) -> None:
        if tick != self.tick_id or self._tick_processed or self._acted[slot.index] or slot.disengaged:
            return
        log.info("Trial [%s] actor [%s] did not act in time at tick [%d]", self.id, slot.name, tick)
        self._acted[slot.index] = True  # counts as acted, without data
        self._nb_acted += 1
        self._wake_driver()

    # ----------------------------------------------------------------- events from components

    def _env_observations(self, observation_set: ObservationSet) -> None:
        if self.state in (TrialState.ENDED, TrialState.UNKNOWN, TrialState.INITIALIZING):
            return
        tick = observation_set.tick_id
        if tick != -1:
            expected = self.tick_id if self._first_observation else self.tick_id + 1
            if tick != expected:
                kind = "repeated a tick id" if tick < expected else "skipped tick id"
                log.error("Trial [%s] environment %s [%d] (expected %d)", self.id, kind, tick, expected)
                return
        if not observation_set.timestamp:
            observation_set.timestamp = now_ns()
        if self._snapshot_observations:
            snapshot_all(observation_set.observations)
        self.last_activity = time.monotonic()
        # finality is decided on arrival: LAST precedes the final set on the same stream
        self._observations.append((observation_set, self._env_sent_last or self._orchestrator_sent_last))
        self._wake_driver()

    def _env_last(self) -> None:
        self._env_sent_last = True

    def _env_last_ack(self) -> None:
        self._env_acked = True
        self._wake_driver()

    def _env_lost(self, error: str, details: str = "Environment disconnected", *, raised: bool = False) -> None:
        """The environment's stream closed or it raised (``error`` says which): before its
        last ack, that ends the trial as a failure, recorded with the error; what it raises
        is recorded whenever."""
        self._env_stream_open = False
        if self.ended or self._env_acked:
            if raised:
                self.errors.append(error)
            self._wake_driver()
            return
        self.errors.append(error)
        self.hard_terminate(details, event=error)
        self._wake_driver()

    def _actor_action(self, slot: ActorSlot, action: Action) -> None:
        if self.state not in (TrialState.RUNNING, TrialState.TERMINATING) or slot.disengaged:
            return
        tick = self.tick_id
        if action.tick_id != -1 and action.tick_id != tick:
            log.debug("Trial [%s] actor [%s]: invalid action step [%d]", self.id, slot.name, action.tick_id)
            return
        if self._tick_processed or self._acted[slot.index]:
            return  # late (the action set of this tick is built) or a second action
        if self._snapshot_actions:
            snapshot_all((action.content,))
        self._actions[slot.index] = action
        self._acted[slot.index] = True
        self._nb_acted += 1
        self.last_activity = time.monotonic()
        self._wake_driver()

    def _actor_action_refused(self, slot: ActorSlot, tick: int, reason: str) -> None:
        """An in-process actor answered tick ``tick`` with a value outside its action space: an
        error of that actor. The value never reaches the environment. A required actor ends
        the trial; an optional one is without an action for this tick (its default action if
        it has one, as after a response timeout) and the tick's record says why."""
        if self.state not in (TrialState.RUNNING, TrialState.TERMINATING) or slot.disengaged:
            return
        if tick != self.tick_id or self._tick_processed or self._acted[slot.index]:
            return
        error = f"actor [{slot.name}] acted outside its action space at tick [{tick}]: {reason}"
        if not slot.optional:
            self.errors.append(error)
            self.hard_terminate(error[0].upper() + error[1:])
            return
        instead = "Default action used" if slot.default_action is not None else "No action (unavailable)"
        self._current_sample().special_events.append(f"{instead}: {error}")
        self._acted[slot.index] = True  # counts as acted, without data
        self._nb_acted += 1
        self.last_activity = time.monotonic()
        self._wake_driver()

    def _actor_lost(self, slot: ActorSlot, error: str, *, raised: bool = False) -> None:
        """An actor's stream closed or it raised (``error`` says which) while the trial runs:
        it is disengaged, and the error recorded (the trial fails at its next action set
        unless the actor is optional); what it raises is recorded whenever."""
        was_open = slot.stream_open
        slot.stream_open = False
        if self.state >= TrialState.TERMINATING or slot.disengaged:
            if raised:
                self.errors.append(error)
            self._wake_driver()
            return
        log.info("Trial [%s] actor [%s] disengaged: %s", self.id, slot.name, error)
        self.errors.append(error)
        if self.state >= TrialState.PENDING:
            self._current_sample().special_events.append(error)
        self._disengage(slot)
        if was_open and not self._tick_processed and self._acted[slot.index]:
            self._acted[slot.index] = False
            self._actions[slot.index] = None
            self._nb_acted -= 1
        self._wake_driver()

    # ----------------------------------------------------------------- rewards and messages

    def _receivers(self, pattern: str) -> list[ActorSlot]:
        """Actors matched by a receiver pattern: name, ``*``, ``*.*``, ``class.*``, ``class.name``."""
        if pattern in ("*", "*.*"):
            return self.actors
        slot = self._by_name.get(pattern)
        if slot is not None:
            return [slot]
        actor_class, dot, name = pattern.partition(".")
        if not dot:
            return []
        return [slot for slot in self.actors if slot.actor_class == actor_class and (name == "*" or slot.name == name)]

    def route_reward(self, sender: str, reward: Reward) -> None:
        if self.state < TrialState.PENDING or self.state == TrialState.ENDED:
            return
        sources = reward.sources or [RewardSource(sender, reward.value, 1.0)]
        for source in sources:
            source.sender_name = sender
        reward.sources = sources
        tick = reward.tick_id
        current = self.tick_id
        if tick == -1 or tick == current:
            receivers = self._receivers(reward.receiver_name)
            if not receivers:
                log.error("Trial [%s] reward for unknown receiver [%s]", self.id, reward.receiver_name)
                return
            for slot in receivers:
                self._queue_reward(slot, current, sources)
            self._current_sample().rewards.append(reward)
        elif 0 <= tick < current:
            for sample in self._samples:
                if sample.tick_id == tick:
                    sample.rewards.append(reward)
                    return
            if self.datalog is not None:
                out_of_sync = Sample(
                    tick,
                    now_ns(),
                    self.state,
                    ["Out of sync reward"],
                    out_of_sync=True,
                    rewards=[reward],
                )
                self._log([self._excluded(out_of_sync)])
        else:
            log.error("Trial [%s] reward for invalid tick [%d] (current %d)", self.id, tick, current)

    @staticmethod
    def _queue_reward(slot: ActorSlot, tick: int, sources: list[RewardSource]) -> None:
        """Keep a reward of ``tick`` for an actor until its next observation (§7.3)."""
        if not slot.disengaged:
            slot.pending_rewards.setdefault(tick, []).extend(sources)

    def take_rewards(self, slot: ActorSlot) -> list[Reward]:
        return rewards_to_deliver(slot.name, slot.pending_rewards)

    def route_message(self, sender: str, message: Message) -> None:
        if self.state < TrialState.PENDING or self.state == TrialState.ENDED:
            return
        if message.tick_id not in (-1, self.tick_id):
            log.error("Trial [%s] message for invalid tick [%d]", self.id, message.tick_id)
            return
        message.sender_name = sender
        tick = self.tick_id
        receiver = message.receiver_name
        if receiver == self.env_name:
            if self._env_stream_open:
                self.environment.message(Message(tick, sender, receiver, message.payload))
        else:
            receivers = self._receivers(receiver)
            if not receivers:
                log.error("Trial [%s] message for unknown receiver [%s]", self.id, receiver)
                return
            for slot in receivers:
                if not slot.disengaged and slot.stream_open:
                    slot.connection.message(Message(tick, sender, slot.name, message.payload))
        self._current_sample().messages.append(message)

    # ----------------------------------------------------------------- samples

    def _new_sample(self, tick: int, timestamp: int | None = None) -> Sample:
        return Sample(tick, now_ns() if timestamp is None else timestamp, actions=[None] * len(self.actors))

    def _current_sample(self) -> Sample:
        samples = self._samples
        if not samples:  # a fused tick has no record until something needs one
            samples.append(self._new_sample(self.tick_id, self.tick_started_ns))
        return samples[-1]

    def _excluded(self, sample: Sample) -> Sample:
        if not self._exclude:
            return sample
        for name in self._exclude:
            if name == "info":
                continue  # the whole SampleInfo is dropped by the wire encoder, which sees the params
            if name == "observations":
                sample.observations = None
            else:
                setattr(sample, name, [])
        return sample

    def _log(self, samples: list[Sample]) -> None:
        if self._lease is not None:
            self._lease.flush()  # its rows come first
        if self._datalog_backlog is not None:
            self._datalog_backlog.extend(samples)
        elif self.datalog is not None:
            self.datalog.add(samples)

    def _datalog_started(self, task: asyncio.Task[None]) -> None:
        """Send the backlog once the datalog is open (idempotent: the close may get here first)."""
        if self._datalog_backlog is None:
            return
        backlog, self._datalog_backlog = self._datalog_backlog, None
        error = None if task.cancelled() else task.exception()
        if task.cancelled() or error is not None:
            log.warning("Trial [%s] datalog failed to start: %r; its samples are not recorded", self.id, error)
            self.errors.append(f"datalog failed to start: {error!r}")
            self.datalog = None
            return
        if backlog and self.datalog is not None:
            self.datalog.add(backlog)

    def _close_datalog_now(self) -> None:
        """Close the datalog as the trial ends: at once when it can (the trial then only follows
        when its record is committed), else in a task."""
        datalog = self.datalog
        closing = datalog.close_now() if datalog is not None and self._datalog_starting is None else None
        if closing is None:
            self._datalog_closing = self._loop.create_task(self._close_datalog())
        else:
            self._datalog_closing = closing
            closing.add_done_callback(self._datalog_closed)

    def _datalog_closed(self, closing: asyncio.Future[None]) -> None:
        """The record of a datalog closed at once is committed (idempotent)."""
        datalog = self.datalog
        if datalog is None:
            return
        try:
            error = None if closing.cancelled() else closing.exception()
            if error is not None:
                raise error
            datalog.check_closed()
        except Exception as error:
            self._record_incomplete(error)
        finally:
            self.datalog = self._datalog_closing = None

    async def _close_datalog(self) -> None:
        try:
            datalog = await self.open_datalog()
            if datalog is not None:
                await datalog.close()
        except Exception as error:
            self._record_incomplete(error)
        finally:
            # what is left of an ended trial is kept a while by the orchestrator, keep it light
            self.datalog = self._datalog_starting = self._datalog_closing = None

    def _record_incomplete(self, error: Exception) -> None:
        """The record is incomplete (a full disk...): the trial says so."""
        log.warning("Trial [%s] is not recorded completely: %s", self.id, error)
        self.errors.append(f"datalog: the trial is not recorded completely: {error}")

    def _push_samples(self) -> None:
        """Send the oldest samples while ``nb_buffered_ticks`` or more are buffered (§10)."""
        samples = self._samples
        if len(samples) < self._nb_buffered:
            return
        out = []
        while len(samples) >= self._nb_buffered:
            out.append(self._excluded(samples.popleft()))
        if self.datalog is not None:
            self._log(out)

    # ----------------------------------------------------------------- ending

    def _end_streams(self, details: str | None) -> None:
        self._cancel_timers()
        self.environment.end(details)
        self._env_stream_open = False
        for slot in self.actors:
            slot.connection.end(details)
            slot.stream_open = False

    def _enter_ended(self) -> None:
        lease = self._lease
        if lease is not None:  # ended in the middle of a fused tick: record it as this loop would
            lease.ended = True
            lease.take_back()
        if self._samples:
            self._current_sample().state = TrialState.ENDED
        self._tick_processed = True
        self.set_state(TrialState.ENDED)
        if self.datalog is not None:
            remaining = [self._excluded(s) for s in self._samples]
            self._samples.clear()
            if remaining:
                remaining[-1].state = TrialState.ENDED
                self._log(remaining)
            self._close_datalog_now()
        else:
            # keep only the current sample for GetTrialInfo's latest observation
            while len(self._samples) > 1:
                self._samples.popleft()
        self._ended.set()
        self._wake_driver()

    def actors_in_trial(self) -> list[TrialActor]:
        return [TrialActor(slot.name, slot.actor_class) for slot in self.actors]

    def _check_joinable(self) -> None:
        if self.state != TrialState.PENDING:
            raise ValueError(
                f"Wrong trial state for actor to join: the trial is {self.state.name}, clients join while it is PENDING"
            )

    def client_slot(self, actor_name: str | None, actor_class: str | None) -> ActorSlot:
        """Choose the slot a joining client actor takes (§6.2); raises ValueError with the reason."""
        if actor_name:
            slot = self._by_name.get(actor_name)
            if slot is None:
                raise ValueError(f"Unknown actor name [{actor_name}] for actor to join")
            if not isinstance(slot.connection, ClientActorConnection):
                raise ValueError(f"Actor [{actor_name}] is not a client actor")
            if actor_class and slot.actor_class != actor_class:
                raise ValueError(f"Actor [{actor_name}] is of class [{slot.actor_class}], not [{actor_class}]")
            self._check_joinable()
            if slot.connection.joined or slot.disengaged:
                raise ValueError(f"Actor [{actor_name}] has already joined or is disengaged")
            return slot
        self._check_joinable()
        for slot in self.actors:
            if (
                slot.actor_class == actor_class
                and isinstance(slot.connection, ClientActorConnection)
                and not slot.connection.joined
                and not slot.disengaged
            ):
                return slot
        raise ValueError(f"No free client actor slot of class [{actor_class}] for actor to join")


def write_rows(datalog: DatalogConnection, rows: TickRows, first: int, names: Sequence[str], env_name: str) -> int:
    """Hand ``rows`` (whole rows only, their ticks counted from ``first``; the environment
    ``env_name`` rewarded the actors ``names`` by index) to ``datalog``, and empty them; the
    tick of the next row."""
    count = len(rows.timestamps)
    rows.ticks += range(first, first + count)
    receivers = rows.receivers
    rows.names += names * len(receivers) if len(names) == 1 else map(names.__getitem__, receivers)
    rows.senders += [env_name] * len(receivers)
    datalog.add_rows(rows)
    for column in (
        rows.ticks,
        rows.timestamps,
        rows.observations,
        rows.actions,
        rows.reward_rows,
        rows.receivers,
        rows.rewards,
        rows.names,
        rows.senders,
    ):
        column.clear()
    return first + count


class TickLease:
    """Everything a fused loop may do to the trial whose ticks it runs.

    The loop keeps the open tick here as it goes (its observations, the actors' answers so
    far, whether the environment stepped on them) and, when the trial is recorded, adds each
    actor's observation and action envelopes to :attr:`rows` as it makes them; the lease does
    the engine's bookkeeping of a plain tick: queueing the environment's rewards for their
    actors and taking them before an observation, the rest of the tick's row for the datalog
    (handed over before any sample the engine logs), the next tick's id and start time, the
    trial's activity. At the first tick that is not plain the loop gives the trial back
    (:meth:`take_back` then :meth:`resume`, or :meth:`release` once that tick is a row): from
    then on the engine's loop runs it.
    """

    __slots__ = (
        "_add_reward",
        "_add_timestamp",
        "_datalog",
        "_first_row_tick",
        "_names",
        "_payload",
        "_queued",
        "_queues",
        "_recording",
        "_trial",
        "actors",
        "answered",
        "ended",
        "engine_records",
        "env_name",
        "observations",
        "processed",
        "receivers",
        "rows",
        "values",
    )

    def __init__(self, trial: Trial, rows: TickRows | None = None) -> None:
        """``rows``: the rows not yet handed to the datalog (a lean episode's, handed over)."""
        self._trial = trial
        #: the trial's actors, in order (a fused loop checks it can run every one of them)
        self.actors: list[ActorSlot] = trial.actors
        self.env_name = trial.env_name
        n = len(trial.actors)
        #: the open tick: each actor's observation, the answers of the first ``answered``
        #: actors, and whether the environment stepped on them
        self.observations: list[Payload] = []
        self.values: list[Any] = [None] * n
        self.answered = 0
        self.processed = False
        #: the trial ended (set by the trial as it ends under the loop)
        self.ended = False
        self._payload: Callable[[int, Any], Payload] = lambda index, value: value
        self._queued = [True] * n
        self._queues = True
        #: the actor an environment's reward for an agent goes to, by agent name (anyone else:
        #: the engine routes it)
        self.receivers = {slot.name: slot.index for slot in trial.actors}
        self._names = [slot.name for slot in trial.actors]
        #: the records of the open tick the engine keeps (something it routed): when there is
        #: one, the engine's loop records the tick
        self.engine_records = trial._samples
        self._datalog: DatalogConnection | None = None
        self._recording = False
        #: the rows since the last flush, then the open tick's envelopes (filled by the loop:
        #: ``observations`` and ``actions`` hold each actor's, row after row); the same lists
        #: all along (the datalog copies what it takes), their ticks counted from
        #: ``_first_row_tick`` (rows are consecutive ticks)
        self.rows = rows = TickRows() if rows is None else rows
        self._first_row_tick = 0
        self._add_timestamp = rows.timestamps.append
        self._add_reward = (rows.reward_rows.append, rows.receivers.append, rows.rewards.append)

    # -- starting ----------------------------------------------------------------------------

    async def start(self, action_payload: Callable[[int, Any], Payload], rewarded: Sequence[bool]) -> list[Payload]:
        """Take the trial's first tick, on the reset's observations (returned) once its
        datalog is open. ``action_payload(i, value)``: actor i's answer as the engine records
        it; ``rewarded[i]``: whether actor i takes rewards (the others' are not queued)."""
        trial = self._trial
        datalog = await trial.open_datalog()
        if trial.state == TrialState.ENDED:
            raise TrialAborted
        observation_set, _ = trial._observations.popleft()
        trial._first_observation = False
        trial.set_state(TrialState.RUNNING)
        trial.tick_started_ns = now_ns()
        samples = trial._samples
        if len(samples) == 1:  # sample 0 (made at configure) is kept only if the reset put something in it
            s = samples[0]
            if s.rewards or s.special_events or s.messages or s.default_actors or s.unavailable_actors:
                s.timestamp = trial.tick_started_ns
            else:
                samples.clear()
        trial._tick_processed = False
        self.lend(datalog, action_payload, rewarded, trial.tick_id)
        self.observations = observation_set.observations
        return self.observations

    def lend(
        self,
        datalog: DatalogConnection | None,
        action_payload: Callable[[int, Any], Payload],
        rewarded: Sequence[bool],
        first_row_tick: int,
    ) -> None:
        """Lend the trial's ticks through this lease (:meth:`start`, or a lean episode handed
        over in its ticks): its rows go to ``datalog`` (None: not recorded), the first of them
        is tick ``first_row_tick``; ``action_payload`` and ``rewarded`` as for :meth:`start`."""
        self._datalog = datalog
        self._recording = datalog is not None
        self._payload = action_payload
        self._queued = list(rewarded)
        self._queues = any(rewarded)
        self._first_row_tick = first_row_tick
        trial = self._trial
        trial._lease = self
        trial.fused = True

    # -- what the loop reads -----------------------------------------------------------------

    @property
    def tick(self) -> int:
        return self._trial.tick_id

    @property
    def recording(self) -> bool:
        """Whether the trial is recorded (the loop adds its ticks' envelopes to :attr:`rows`)."""
        return self._recording

    @property
    def engine_recorded(self) -> bool:
        """Whether the open tick has a record of something the engine routed (an actor's
        reward or message, an end request): then the engine's loop records it."""
        return bool(self.engine_records)

    def last_tick(self) -> bool:
        trial = self._trial
        return is_last_tick(trial.tick_id, trial.max_steps, trial.end_requested)

    def take_rewards(self, index: int) -> Sequence[Reward]:
        """What actor ``index`` is rewarded with before its next observation."""
        slot = self.actors[index]
        return rewards_to_deliver(slot.name, slot.pending_rewards) if slot.pending_rewards else ()

    def observation_set(self) -> ObservationSet:
        observations = self.observations
        return ObservationSet(observations, list(range(len(observations))), -1, self._trial.tick_started_ns)

    # -- closing a plain tick ----------------------------------------------------------------

    def close_tick(self, rewards: Sequence[tuple[int, float]], next_observations: list[Payload] | None) -> None:
        """The open tick is plain and its step done: queue its environment ``rewards``
        (actor index, value) for their actors, make it a row when the trial is recorded (the
        loop added its envelopes), and open the next tick on ``next_observations`` (None: the
        trial ends, there is none)."""
        trial = self._trial
        if rewards:
            if self._queues:
                tick, slots, queued, env_name = trial.tick_id, self.actors, self._queued, self.env_name
                for index, value in rewards:
                    if queued[index]:
                        Trial._queue_reward(slots[index], tick, [RewardSource(env_name, value, 1.0)])
            if self._recording:
                row = len(self.rows.timestamps)
                add_row, add_receiver, add_value = self._add_reward
                for index, value in rewards:
                    add_row(row)
                    add_receiver(index)
                    add_value(value)
        if self._recording:
            self._add_timestamp(trial.tick_started_ns)
        if next_observations is not None:
            self.observations = next_observations
            trial.tick_id += 1
            trial.tick_started_ns = now_ns()
            self.answered = 0
            self.processed = False

    async def pause(self, pacer: Pacer) -> None:
        """Let other trials run (the rows so far go to the datalog first); the trial was active."""
        self.flush()
        await pacer.pause()
        if self.ended:
            raise TrialAborted
        self._trial.last_activity = time.monotonic()

    def flush(self) -> None:
        """Hand the rows recorded so far to the datalog (the open tick's envelopes stay)."""
        rows = self.rows
        count = len(rows.timestamps)
        if not count or self._datalog is None:
            return
        end = count * len(self.values)
        observations, actions = rows.observations, rows.actions
        open_observations, open_actions = observations[end:], actions[end:]
        del observations[end:], actions[end:]
        self._first_row_tick = write_rows(self._datalog, rows, self._first_row_tick, self._names, self.env_name)
        observations += open_observations
        actions += open_actions

    # -- giving the trial back ---------------------------------------------------------------

    def take_back(self) -> None:
        """Make the open tick the engine's current tick, as it stands."""
        trial = self._trial
        trial._lease = None
        trial.fused_ticks = trial.tick_id
        self.flush()
        self.rows.observations.clear()  # the open tick's: the engine records it
        self.rows.actions.clear()
        tick, stamp, payload = trial.tick_id, trial.tick_started_ns, self._payload
        actions = [
            Action(tick, payload(index, value), stamp) if index < self.answered else None
            for index, value in enumerate(self.values)
        ]
        trial._adopt_tick(self.observation_set(), actions, self.processed)

    def release(self) -> None:
        """Every tick up to the open one is a row: the engine's loop runs the rest, from the
        environment's next observations."""
        trial = self._trial
        self.flush()
        trial._lease = None
        trial.fused_ticks = trial.tick_id + 1

    async def resume(self, dispatch_from: int | None = None) -> None:
        """Run the rest of the trial on the engine's loop, after :meth:`take_back` or
        :meth:`release`. ``dispatch_from``: the actors from this index on have not seen the
        open tick's observations (the engine sends them, then gathers the tick's actions);
        None: the environment has stepped (its next observations are pending)."""
        trial = self._trial
        if dispatch_from is not None:
            trial._check_aborted()
            if dispatch_from < len(self.actors):
                trial._dispatch_observations(trial._latest_observations, first=dispatch_from)  # type: ignore[arg-type]
        await trial._tick_loop(resume=dispatch_from is not None)
