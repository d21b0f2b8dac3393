"""The lean inline runner (a spike, opt-in): a plain in-process episode run without an engine ``Trial``.

A batch of in-process trials of one environment and one synchronous actor spends much of
each short trial in the engine's objects (``Trial``, its ports, its ``TickLease`` and fused
loop, the tick loop that ends it). :class:`LeanEpisode` runs such an episode in
straight-line code and produces what the engine would: the trial's id and params, its
states through the orchestrator (its table, its watchers), its handle's view, its rows and
final sample in the datastore, the same calls to the components in the same order
(``docs/decisions/lean-runner.md``; ``tests/lab/test_lean_runner.py`` runs both).

The moment the episode is not plain it is handed to the engine: it becomes the ``Trial``
the engine would have at that point (made from the same connections, its state copied in,
a ``TickLease`` holding the open tick and the rows not yet written), the orchestrator's
table takes the trial, the lean ports forward to the trial's, and the engine's own code runs
the rest, as after ``FusedTicks`` gives a trial back: a failed init or reset that is not
plain (before the first tick), an actor that raised, answered outside its space or later,
sent a reward or message, an observation or action that cannot be encoded, a step that
raised, a reward for someone not an actor, a hard or soft end seen at a pause, an actor
whose last observation raised. What a component could report through its port outside
those points (no in-process component does) ends the episode as a failure that says so
(:class:`NotPlain`). A batch declines the runner up front by its params (:func:`runs_lean`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.payload_formats import OURS
from cogment_jupyter.adapters.payloads import envelope_encoder, observation_encoder
from cogment_jupyter.engine.components import TickRows
from cogment_jupyter.engine.errors import TrialAborted
from cogment_jupyter.engine.records import (
    END_REQUESTED,
    ENV_ENDED,
    FORCED_TERMINATION,
    ORCHESTRATOR_SHUTDOWN,
    ActorInit,
    EnvInit,
    Message,
    Observation,
    ObservationSet,
    Reward,
    RewardSource,
    Sample,
    TrialActor,
    TrialState,
    now_ns,
)
from cogment_jupyter.engine.ticks import Pacer, rewards_to_deliver
from cogment_jupyter.engine.trial import ActorSlot, TickLease, Trial, _snapshot_all, write_rows
from cogment_jupyter.engine.trial import _ActorPort as _TrialActorPort
from cogment_jupyter.engine.trial import _EnvPort as _TrialEnvPort

if TYPE_CHECKING:
    from collections.abc import Callable

    from cogment_jupyter.engine.components import DatalogConnection
    from cogment_jupyter.proto.common_pb2 import TrialParams
    from cogment_jupyter.transport.inprocess import InProcessActor, InProcessEnvironment

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


class NotPlain(Exception):
    """A component reported something where the runner cannot yet hand the episode over."""


class _EnvPort:
    """The environment's port: the reset's observations and a plain end are kept; anything else
    makes the episode not plain. Once the episode is handed to the engine, the trial's port."""

    __slots__ = ("acked", "ending", "observation_sets", "other", "rewards", "target")

    def __init__(self) -> None:
        self.target: _TrialEnvPort | None = None
        self.observation_sets: list[ObservationSet] = []
        self.rewards: list[Reward] = []
        self.ending = False
        self.acked = False
        self.other: str | None = None

    def forward_kept(self) -> None:
        """Report what the environment's init reported, to the trial's port, in the order an
        in-process environment reports a step's result (rewards, last, observations, last ack)."""
        target = self.target
        assert target is not None
        for reward in self.rewards:
            target.reward(reward)
        if self.ending:
            target.last()
        for observation_set in self.observation_sets:
            target.observations(observation_set)
        if self.acked:
            target.last_ack()
        self.rewards.clear()
        self.observation_sets.clear()

    def observations(self, observation_set: ObservationSet) -> None:
        if self.target is not None:
            self.target.observations(observation_set)
        else:
            self.observation_sets.append(observation_set)

    def last(self) -> None:
        if self.target is not None:
            self.target.last()
        else:
            self.ending = True

    def last_ack(self) -> None:
        if self.target is not None:
            self.target.last_ack()
        else:
            self.acked = True

    def reward(self, reward: Reward) -> None:
        if self.target is not None:
            self.target.reward(reward)
        else:
            self.rewards.append(reward)

    def message(self, message: Message) -> None:
        if self.target is not None:
            self.target.message(message)
        else:
            self.other = "the environment sent a message"

    def lost(self, reason: str) -> None:
        if self.target is not None:
            self.target.lost(reason)
        else:
            self.other = f"environment disconnected: {reason}"

    def failed(self, error: str) -> None:
        if self.target is not None:
            self.target.failed(error)
        else:
            self.other = f"environment: {error}"


class _ActorPort:
    """The actor's port: its last ack is kept; anything else makes the episode not plain. Once
    the episode is handed to the engine, the trial's port."""

    __slots__ = ("acked", "lost_or_failed", "other", "sent", "target")

    def __init__(self) -> None:
        self.target: _TrialActorPort | None = None
        self.acked = False
        self.other: str | None = None
        #: what it reported going wrong ("lost" or "failed", and what), for the trial's port
        self.lost_or_failed: list[tuple[str, str]] = []
        #: the rewards and messages it sent, for the trial's port once the episode is handed over
        self.sent: list[Reward | Message] = []

    def action(self, action: Any) -> None:
        if self.target is not None:
            self.target.action(action)
        else:
            self.other = "the actor answered later"

    def reward(self, reward: Reward) -> None:
        if self.target is not None:
            self.target.reward(reward)
        else:
            self.sent.append(reward)

    def message(self, message: Message) -> None:
        if self.target is not None:
            self.target.message(message)
        else:
            self.sent.append(message)

    def last_ack(self) -> None:
        if self.target is not None:
            self.target.last_ack()
        else:
            self.acked = True

    def forward_sent(self) -> None:
        """Route what the actor sent before the episode was handed over (in order)."""
        target = self.target
        assert target is not None
        for sent in self.sent:
            if isinstance(sent, Reward):
                target.reward(sent)
            else:
                target.message(sent)
        self.sent.clear()

    def refused(self, tick: int, reason: str) -> None:
        if self.target is not None:
            self.target.refused(tick, reason)
        else:
            self.other = reason

    def lost(self, reason: str) -> None:
        if self.target is not None:
            self.target.lost(reason)
        else:
            self.other = f"actor disconnected: {reason}"
            self.lost_or_failed.append(("lost", reason))

    def failed(self, error: str) -> None:
        if self.target is not None:
            self.target.failed(error)
        else:
            self.other = f"actor: {error}"
            self.lost_or_failed.append(("failed", error))


async def _finish_routed_tick(lease: TickLease, environment: Any, action_envelope: Any, value: Any) -> None:
    """The rest of a tick whose actor sent something the engine routed, as ``FusedTicks``
    runs it: the action recorded, the environment stepped, then the engine records the tick."""
    try:
        lease.rows.actions.append(action_envelope(value))
    except Exception:
        unrecorded = True
    else:
        unrecorded = False
    if unrecorded or lease.last_tick():
        lease.take_back()
        await lease.resume(dispatch_from=1)
        return
    lease.processed = True
    try:
        result = environment.step(lease.values)
    except Exception as error:
        lease.take_back()
        environment.failed(error)
        return
    if lease.ended:
        raise TrialAborted
    lease.take_back()
    environment.emit(result)
    await lease.resume()


def _unseen(trial: Trial) -> None:
    """A handed-over trial's making is no state change (the episode's states were seen)."""


class LeanEpisode:
    """One trial of a batch, run lean; what the orchestrator's table, its watchers and the
    trial's handle read of a ``Trial`` (see the module doc)."""

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
        environment: InProcessEnvironment,
        actor: InProcessActor,
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
    def ended(self) -> bool:
        return self.state == TrialState.ENDED

    @property
    def duration_ns(self) -> int:
        return (self.ended_ns or now_ns()) - self.created_ns

    @property
    def latest_observations(self) -> ObservationSet | None:
        """The open tick's observations as of the episode's last pause (others read it only
        then), or its final ones once it ended (``GetTrialInfo``)."""
        if self._handed is not None:
            return self._handed.latest_observations
        return self._latest

    def actors_in_trial(self) -> list[TrialActor]:
        return [TrialActor(self._slot[0], self._slot[1])]

    def set_state(self, state: TrialState) -> None:
        self.state = state
        if state == TrialState.ENDED:
            self.ended_ns = now_ns()
        self._on_state(self)

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
        except NotPlain as reason:
            self._fail(f"lean runner: the episode needs the engine where it cannot hand it over yet ({reason})")
        except asyncio.CancelledError:
            self._fail(ORCHESTRATOR_SHUTDOWN)
            raise
        except Exception as error:
            log.exception("Trial [%s] failed", self.id)
            self._fail(f"Internal failure: {error}")
        finally:
            self._follow()

    async def _run(self) -> None:
        environment, actor = self._environment, self._actor
        name, actor_class, implementation, response_timeout = self._slot
        actor_port, env_port = _ActorPort(), _EnvPort()
        params = self.params
        actor_config = params.actors[0]
        if self._terminate is not None:  # (terminated before it ran)
            self._hand_over_pending(env_port, actor_port)[0].hard_terminate(*self._terminate)
            return
        try:
            await actor.init(
                ActorInit(
                    name,
                    actor_class,
                    implementation,
                    self.env_name,
                    actor_config.config.content if actor_config.HasField("config") else None,
                    response_timeout,
                ),
                actor_port,  # type: ignore[arg-type]
            )
        except Exception as error:  # the engine's end of it (its only actor is not optional)
            trial, slot = self._hand_over_pending(env_port, actor_port)
            trial._actor_init_failed(slot, error)
            trial.hard_terminate("Failed to initialize all actors")
            return
        env = params.environment
        try:
            await environment.init(
                EnvInit(
                    self.env_name,
                    env.implementation,
                    0,
                    self.actors_in_trial(),
                    env.config.content if env.HasField("config") else None,
                    response_timeout,
                ),
                env_port,  # type: ignore[arg-type]
            )
        except Exception as error:  # the engine's end of it
            trial, slot = self._hand_over_pending(env_port, actor_port)
            slot.stream_open = True
            trial._env_init_failed(error)  # (raises TrialAborted)
        if env_port.other or actor_port.other:
            raise NotPlain(env_port.other or actor_port.other)
        if (
            env_port.acked
            or env_port.rewards
            or actor_port.sent
            or len(env_port.observation_sets) != 1
            or not actor.fusable
            or not environment.inline
            or environment.payload_format is not OURS
            or actor.action_codec is None
        ):  # the engine's run from here: its tick loop, or its fused loop on its own lease
            trial = self._hand_over_initialised(env_port, actor_port)
            await trial.run(initialised=True)
            return
        observations = env_port.observation_sets.pop().observations
        self.set_state(TrialState.RUNNING)
        tick_started = now_ns()
        datalog = self._datalog
        rows = TickRows()
        codec = environment.observation_codecs[0]
        value_envelope, observation_envelope = envelope_encoder(codec), observation_encoder(codec)
        action_codec = actor.action_codec
        assert action_codec is not None
        action_envelope = envelope_encoder(action_codec)
        timestamps, record_observation, record_action = (
            rows.timestamps,
            rows.observations.append,
            rows.actions.append,
        )
        step, observe, bare_observations, act_on = (
            environment.step,
            environment.observe,
            environment.bare_observations,
            actor.act_on,
        )
        wants_rewards = actor.wants_rewards
        pending: dict[int, list[RewardSource]] = {}
        pacer = Pacer()
        due = pacer.due
        first_row = 0
        tick = 0
        bare = False
        # (what a hand-over needs of the open tick: see _hand_over)
        opened = (rows, pending, env_port, actor_port)
        while True:
            observation = observations[0]
            unrecorded = False
            try:
                record_observation(value_envelope(observation.value) if bare else observation_envelope(observation))
            except Exception:  # it cannot be encoded: the engine records that tick, with the reason
                unrecorded = True
            try:
                if pending:
                    actor.deliver_rewards(rewards_to_deliver(name, pending))
                value = act_on(observation)
            except Exception as error:  # it raised, answered outside its space, or answers later
                lease = self._hand_over(opened, first_row, observations, tick_started, [None], 0, False)
                lease.take_back()
                actor.report(error, tick)
                await lease.resume(dispatch_from=1)
                return
            if actor_port.other:
                raise NotPlain(actor_port.other)
            if actor_port.sent:  # the engine routes what it sent, then records the tick
                lease = self._hand_over(opened, first_row, observations, tick_started, [value], 1, False)
                actor_port.forward_sent()
                await _finish_routed_tick(lease, environment, action_envelope, value)
                return
            if not unrecorded:
                try:
                    record_action(action_envelope(value))
                except Exception:
                    unrecorded = True
            if (
                unrecorded or self.end_requested
            ):  # the engine's action processing (LAST; or why a value is not recorded)
                lease = self._hand_over(opened, first_row, observations, tick_started, [value], 1, False)
                lease.take_back()
                await lease.resume(dispatch_from=1)
                return
            try:
                result = step([value])
            except Exception as error:
                lease = self._hand_over(opened, first_row, observations, tick_started, [value], 1, True)
                lease.take_back()
                environment.failed(error)
                return
            rewards = result.rewards
            if rewards:
                if len(rewards) != 1 or name not in rewards:  # the engine routes them
                    lease = self._hand_over(opened, first_row, observations, tick_started, [value], 1, True)
                    lease.take_back()
                    environment.emit(result)
                    await lease.resume()
                    return
                reward = float(rewards[name])
                rows.reward_rows.append(len(timestamps))
                rows.receivers.append(0)
                rows.rewards.append(reward)
                if wants_rewards:
                    pending[tick] = [RewardSource(self.env_name, reward, 1.0)]
            timestamps.append(tick_started)
            if result.done:
                break
            observations = bare_observations(result)
            bare = observations is not None
            if not bare:
                observations = observe(result)
            tick += 1
            self.tick_id = tick
            tick_started = now_ns()
            if due():
                first_row = self._flush(rows, first_row)
                self._latest = ObservationSet(observations, [0], -1, tick_started)
                try:
                    await pacer.pause()
                except asyncio.CancelledError:  # (the lab's loop is closing)
                    self._hand_over(opened, first_row, observations, tick_started, [None], 0, False)
                    self._handed.hard_terminate(ORCHESTRATOR_SHUTDOWN)  # type: ignore[union-attr]
                    raise
                if self._terminate is not None:  # (the engine's hard end of a trial between ticks)
                    self._hand_over(opened, first_row, observations, tick_started, [None], 0, False)
                    self._handed.hard_terminate(*self._terminate)  # type: ignore[union-attr]
                    return
                self.last_activity = time.monotonic()
        self._flush(rows, first_row)
        # -- the environment's end, as the engine does it (its final observations, the actor's
        # last observation, the streams' ends, the final sample)
        environment.emit(result, rewards=False)
        if env_port.other or len(env_port.observation_sets) != 1 or not env_port.acked:
            raise NotPlain(env_port.other or "the environment did not end plainly")
        final = env_port.observation_sets.pop()
        if not final.timestamp:
            final.timestamp = now_ns()
        _snapshot_all(final.observations)
        tick += 1
        self.tick_id = tick
        sample = Sample(tick, now_ns(), actions=[None])
        sample.observations = self._latest = final
        self.set_state(TrialState.TERMINATING)
        sample.special_events.append(ENV_ENDED)
        rewards_now = rewards_to_deliver(name, pending) if pending else ()
        actor.observation(
            Observation(tick, final.timestamp, final.observations[final.actors_map[0]]), rewards_now, True
        )
        if actor_port.other or not actor_port.acked:  # (its on_ending raised, say): the engine ends it
            await self._hand_over_ending(sample, pending, env_port, actor_port)
            return
        environment.end(None)
        actor.end(None)
        sample.state = TrialState.ENDED
        self.set_state(TrialState.ENDED)
        datalog.add([sample])
        self._closing = datalog.close_now()

    def _hand_over(
        self,
        opened: tuple[TickRows, dict[int, list[RewardSource]], _EnvPort, _ActorPort],
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
        handed to the datalog; the orchestrator's table has the trial from now on, the ports
        forward to it. The caller then does what ``FusedTicks`` does at that point."""
        rows, pending, env_port, actor_port = opened
        trial, slot = self._trial(pending)
        trial.tick_started_ns = tick_started
        if self.end_requested:  # (requested at a pause: the open tick's record says so, as the engine's)
            trial._current_sample().special_events.append(END_REQUESTED)
        trial._first_observation = False
        trial._env_stream_open = True
        env_port.target = _TrialEnvPort(trial)
        actor_port.target = _TrialActorPort(trial, slot)
        lease = TickLease(trial)
        actor = self._actor
        lease._payload = lambda index, value: actor.action_payload(value)
        lease._queued = [actor.wants_rewards]
        lease._queues = actor.wants_rewards
        lease._datalog = self._datalog
        lease._recording = True
        lease.rows = rows
        lease._add_timestamp = rows.timestamps.append
        lease._add_reward = (rows.reward_rows.append, rows.receivers.append, rows.rewards.append)
        lease._first_row_tick = first_row
        lease.observations = observations
        lease.values = values
        lease.answered = answered
        lease.processed = processed
        trial._lease = lease
        trial.fused = True
        self._handed = trial
        self._adopt(trial)
        return lease

    async def _hand_over_ending(
        self,
        sample: Sample,
        pending: dict[int, list[RewardSource]],
        env_port: _EnvPort,
        actor_port: _ActorPort,
    ) -> None:
        """The episode becomes the engine's ``Trial`` as ``Trial._finish`` has it once the
        last observations are dispatched (the environment acked, the final ``sample`` open),
        the actor's reports go to the trial, and the engine ends it."""
        trial, slot = self._trial(pending)
        trial._first_observation = False
        trial._env_stream_open = True
        trial._env_acked = True
        trial._samples.append(sample)
        trial._latest_observations = sample.observations
        trial.fused = True
        slot.last_ack = actor_port.acked
        actor_port.target = _TrialActorPort(trial, slot)
        env_port.target = _TrialEnvPort(trial)
        self._handed = trial
        self._adopt(trial)
        for kind, text in actor_port.lost_or_failed:
            getattr(actor_port.target, kind)(text)
        await trial._finish(dispatched=True)

    def _hand_over_initialised(self, env_port: _EnvPort, actor_port: _ActorPort) -> Trial:
        """The episode becomes the engine's ``Trial`` as ``Trial.run`` has it once its
        components' init is done (what they reported during it forwarded), for the engine to
        run from there (``run(initialised=True)``)."""
        trial, slot = self._hand_over_pending(env_port, actor_port)
        slot.stream_open = True
        actor_port.forward_sent()
        env_port.forward_kept()
        trial._env_stream_open = True
        return trial

    def _hand_over_pending(self, env_port: _EnvPort, actor_port: _ActorPort) -> tuple[Trial, ActorSlot]:
        """The episode becomes the engine's ``Trial`` as it is while PENDING (sample 0 of its
        configure; the actor's stream not open yet), its ports forwarding to the trial's."""
        trial, slot = self._trial({})
        slot.stream_open = False
        trial._samples.append(Sample(0, self._configured_ns, actions=[None]))
        actor_port.target = _TrialActorPort(trial, slot)
        env_port.target = _TrialEnvPort(trial)
        self._handed = trial
        self._adopt(trial)
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
            actor_config.config.content if actor_config.HasField("config") else None,
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
        """End the episode as a failure that says why (what the hand-over will replace)."""
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
