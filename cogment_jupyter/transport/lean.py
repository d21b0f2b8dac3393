"""The lean runner's episodes of in-process components: init, ticks and end in straight-line code.

:class:`~cogment_jupyter.engine.lean.LeanEpisode` is what the orchestrator and the trial's
handle see of an episode run without an engine ``Trial``, and how it becomes one (the
hand-overs). :class:`InProcessEpisode` runs it on the components a lab serves in this kernel
(``InProcessEnvironment``, ``InProcessActor``), as the fused loop (``transport.fused``) runs
a trial's plain ticks: ``act`` and ``step`` asked by the same functions, the same envelopes
recorded as rows, the same pauses; at the first thing that is not plain the episode is
handed to the engine at that point and the engine's code runs the rest.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.codec import ValueOutsideSpaceError
from cogment_jupyter.adapters.payloads import LabObservation, bare_observation, checked_envelope_encoder
from cogment_jupyter.engine.components import TickRows
from cogment_jupyter.engine.errors import TrialAborted
from cogment_jupyter.engine.lean import LeanEpisode, RecordingPort
from cogment_jupyter.engine.records import (
    ENV_ENDED,
    ORCHESTRATOR_SHUTDOWN,
    ActorInit,
    EnvInit,
    Observation,
    ObservationSet,
    RewardSource,
    Sample,
    TrialState,
    config_content,
    now_ns,
)
from cogment_jupyter.engine.ticks import Pacer, rewards_to_deliver
from cogment_jupyter.engine.trial import snapshot_all
from cogment_jupyter.transport.fused import envelope_encoders, fusable
from cogment_jupyter.transport.inprocess import InProcessActor

if TYPE_CHECKING:
    from cogment_jupyter.engine.trial import TickLease
    from cogment_jupyter.transport.batch_setup import BatchSetup
    from cogment_jupyter.transport.inprocess import InProcessEnvironment

__all__ = ["InProcessEpisode"]


class InProcessEpisode(LeanEpisode):
    """A lean episode of an in-process environment and one synchronous in-process actor."""

    __slots__ = ("_prepared",)

    _environment: InProcessEnvironment
    _actor: InProcessActor

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        #: the batch's setup and this trial's seeds (the environment's, the actor's), if prepared
        self._prepared: tuple[BatchSetup, int, int] | None = None

    def prepare(self, setup: BatchSetup, seed: int, actor_seed: int) -> None:
        """Start the components from the batch's ``setup`` with this trial's seeds (those of its
        params), rather than from its init messages (the same calls to the components)."""
        self._prepared = (setup, seed, actor_seed)

    async def _run(self) -> None:
        environment, actor = self._environment, self._actor
        name, actor_class, implementation, response_timeout = self._slot
        actor_port, env_port = RecordingPort(), RecordingPort()
        if self._terminate is not None:  # (terminated before it ran)
            self._hand_over_pending(actor_port, env_port, False)[0].hard_terminate(*self._terminate)
            return
        prepared = self._prepared
        if prepared is not None and not prepared[0].current:
            prepared = None
        try:
            if prepared is not None:
                actor.start(prepared[0].actor, prepared[2], actor_port)
            else:
                await actor.init(
                    ActorInit(
                        name,
                        actor_class,
                        implementation,
                        self.env_name,
                        config_content(self.params.actors[0]),
                        response_timeout,
                    ),
                    actor_port,
                )
        except Exception as error:
            self._actor_init_failed(actor_port, env_port, error)
            return
        try:
            if prepared is not None:
                environment.start(prepared[0].environment, prepared[1], env_port)
            else:
                env = self.params.environment
                await environment.init(
                    EnvInit(
                        self.env_name,
                        env.implementation,
                        0,
                        self.actors_in_trial(),
                        config_content(env),
                        response_timeout,
                    ),
                    env_port,
                )
        except Exception as error:
            self._env_init_failed(actor_port, env_port, error)  # (raises TrialAborted)
        reported = env_port.calls
        if (
            actor_port.calls
            or len(reported) != 1
            or reported[0][0] != "observations"
            or not fusable(environment, [actor], InProcessActor)
        ):  # the engine's run from here: its tick loop, or its fused loop on its own lease
            trial = self._hand_over_initialised(actor_port, env_port)
            await trial.run(initialised=True)
            return
        self._latest = reported.pop()[1][0]  # (the reset's observations: the first tick's, as the engine has them)
        observations: list[LabObservation] | None = self._latest.observations
        self.set_state(TrialState.RUNNING)
        tick_started = now_ns()
        datalog = self._datalog
        rows = TickRows()
        if prepared is None:
            envelopes = envelope_encoders(environment, [actor])
        elif (envelopes := prepared[0].envelopes) is None:  # (the batch's codecs: made once)
            envelopes = prepared[0].envelopes = envelope_encoders(environment, [actor])
        ((value_envelope,), (observation_envelope,), (action_envelope,)) = envelopes
        add_timestamp, record_observation, record_action = (
            rows.timestamps.append,
            rows.observations.append,
            rows.actions.append,
        )
        add_reward_row, add_receiver, add_reward = rows.reward_rows.append, rows.receivers.append, rows.rewards.append
        step, observe, bare_observations, act_on = (
            environment.step,
            environment.observe,
            environment.bare_observations,
            actor.act_on,
        )
        # (a plain tick: the actor asked with the observation's value alone, the environment
        # stepped through its plain port when it has one; see plain_answers, plain_stepper)
        answers = actor.plain_answers()
        act, check, accept = answers if answers is not None else (None, None, None)
        plain_step = environment.plain_stepper(actor.action_codec) if answers is not None else None
        # (an answer's check and envelope in one call, for most answers; see Codec.checked_encoder)
        checked_action = checked_envelope_encoder(actor.action_codec) if answers is not None else None
        observation_codec = environment.observation_codecs[0]
        wants_rewards = actor.wants_rewards
        pending: dict[int, list[RewardSource]] = {}
        pacer = Pacer()
        first_row = 0
        tick = 0
        #: the open tick's observation value when it is bare (``observations`` is None then)
        plain_value: Any = None
        values = [None]  # (the actor's answer, as the environment takes them: one list for every tick)
        # (what a hand-over needs of the open tick: see _hand_over)
        opened = (rows, pending, actor_port, env_port)
        while True:
            unrecorded = False
            try:
                record_observation(
                    value_envelope(plain_value) if observations is None else observation_envelope(observations[0])
                )
            except Exception:  # it cannot be encoded: the engine records that tick, with the reason
                unrecorded = True
            try:
                if pending:
                    actor.deliver_rewards(rewards_to_deliver(name, pending))
                if observations is None:  # (act_on of a bare observation)
                    value = act(plain_value, None)  # type: ignore[misc]
                    action = checked_action(value)  # type: ignore[misc]
                    if action is None:
                        try:
                            value = check(value, "action")  # type: ignore[misc]
                        except ValueOutsideSpaceError:
                            value = accept(value)  # type: ignore[misc]
                else:
                    value = act_on(observations[0])
                    action = None
            except Exception as error:  # it raised, answered outside its space, or answers later
                observations = observations or [bare_observation(plain_value, observation_codec)]
                lease = self._hand_over(opened, first_row, observations, tick_started, [None], 0, False)
                lease.take_back()
                actor.report(error, tick)
                await lease.resume(dispatch_from=1)
                return
            if actor_port.calls:  # (a reward or message it sent) the engine takes them, then the tick
                observations = observations or [bare_observation(plain_value, observation_codec)]
                lease = self._hand_over(opened, first_row, observations, tick_started, [value], 1, False)
                await _finish_routed_tick(lease, environment, action_envelope, value)
                return
            if not unrecorded:
                try:
                    record_action(action or action_envelope(value))
                except Exception:
                    unrecorded = True
            if (
                unrecorded or self.end_requested
            ):  # the engine's action processing (LAST; or why a value is not recorded)
                observations = observations or [bare_observation(plain_value, observation_codec)]
                lease = self._hand_over(opened, first_row, observations, tick_started, [value], 1, False)
                lease.take_back()
                await lease.resume(dispatch_from=1)
                return
            try:
                if plain_step is not None:
                    next_value, reward, result = plain_step(value)
                else:
                    values[0] = value
                    result = step(values)
            except Exception as error:
                observations = observations or [bare_observation(plain_value, observation_codec)]
                lease = self._hand_over(opened, first_row, observations, tick_started, [value], 1, True)
                lease.take_back()
                environment.failed(error)
                return
            if result is None:  # a plain step (its reward the actor's)
                add_reward_row(tick - first_row)  # (the index of this tick's row in rows)
                add_receiver(0)
                add_reward(reward)
                if wants_rewards:
                    pending[tick] = [RewardSource(self.env_name, reward, 1.0)]
                add_timestamp(tick_started)
                plain_value = next_value
                observations = None
            else:
                rewards = result.rewards
                if rewards:
                    if len(rewards) != 1 or name not in rewards:  # the engine routes them
                        observations = observations or [bare_observation(plain_value, observation_codec)]
                        lease = self._hand_over(opened, first_row, observations, tick_started, [value], 1, True)
                        lease.take_back()
                        environment.emit(result)
                        await lease.resume()
                        return
                    reward = float(rewards[name])
                    add_reward_row(tick - first_row)
                    add_receiver(0)
                    add_reward(reward)
                    if wants_rewards:
                        pending[tick] = [RewardSource(self.env_name, reward, 1.0)]
                add_timestamp(tick_started)
                if result.done:
                    break
                observations = bare_observations(result)
                if observations is None:
                    observations = observe(result)
                elif answers is not None:
                    plain_value = observations[0].value
                    observations = None
            tick += 1
            self.tick_id = tick
            tick_started = now_ns()
            if not pacer.since <= tick_started < pacer.until:  # (Pacer.due_at, inline: asked every tick)
                first_row = self._flush(rows, first_row)
                observations = observations or [bare_observation(plain_value, observation_codec)]
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
        # (what an in-process environment reports at its end: LAST, these, LAST_ACK)
        final = environment.observation_set(result)
        snapshot_all(final.observations)
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
        if actor_port.calls != RecordingPort.ACKED:  # (its on_ending raised or sent something): the engine ends it
            await self._hand_over_ending(sample, pending, actor_port, env_port)
            return
        environment.end(None)
        actor.end(None)
        sample.state = TrialState.ENDED
        self.set_state(TrialState.ENDED)
        datalog.add([sample])
        self._closing = datalog.close_now()


async def _finish_routed_tick(lease: TickLease, environment: Any, action_envelope: Any, value: Any) -> None:
    """The rest of a tick whose actor sent something the engine routed, as ``FusedTicks``
    runs it: the action recorded, the environment stepped, then the engine records the tick."""
    if lease.ended:
        raise TrialAborted
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
