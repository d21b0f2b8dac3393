"""The fused tick loop: a trial whose environment and actors are all objects in this process.

The engine's tick loop routes every tick through the protocol's records (observation sets,
actions, action sets, rewards, samples) and the components' ports: several times what a
CartPole step costs (``bench/throughput.py`` measures both loops). Here a tick is ``act`` on
each actor, ``step`` on the environment and one row of plain columns for the datalog
(``engine.components.FusedRows``), with the engine's result: the same ticks, the same states,
the same rows in the datastore (``tests/orchestrator/test_fused.py`` compares them).

Only plain ticks run here. At the first tick that is not plain, the loop makes that tick the
engine's (``Trial.adopt_tick``) and the engine runs the rest of the trial (``Trial.resume``):
max steps, a component that raised, an action that is awaited, an environment that rewards
several agents, a reward or message routed by the engine (an actor's ``send_reward``), a soft
or hard termination. When the environment ends the trial, its last tick is a row and the
engine runs the end. Those paths are the engine's own code, so they behave exactly as they do
without this loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from time import perf_counter
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.payloads import LabAction, value_envelope
from cogment_jupyter.engine.components import DatalogConnection, FusedLoop, FusedRows
from cogment_jupyter.engine.errors import TrialAborted
from cogment_jupyter.engine.records import (
    Action,
    Observation,
    ObservationSet,
    RewardSource,
    TrialState,
    now_ns,
)
from cogment_jupyter.engine.trial import YIELD_INTERVAL

if TYPE_CHECKING:
    from cogment_jupyter.adapters.base import StepResult
    from cogment_jupyter.adapters.codec import Codec
    from cogment_jupyter.engine.trial import ActorSlot, Trial
    from cogment_jupyter.transport.inprocess import InProcessActor, InProcessEnvironment

__all__ = ["FusedTicks", "offer"]


def offer(trial: Trial, environment: InProcessEnvironment) -> FusedTicks | None:
    """A fused loop for an initialised trial, or None when any part needs the engine's loop."""
    from cogment_jupyter.transport.inprocess import InProcessActor

    if environment.env is None or any(environment.spectators) or trial.state != TrialState.PENDING:
        return None
    if len(trial.pending_observations) != 1 or trial.pending_observations[0][1]:
        return None  # the environment ended the trial at its reset: the engine's end path
    if trial.buffered_ticks > 2 or trial.excluded_fields:
        return None  # late rewards must find buffered samples; excluded fields need the samples
    datalog = trial.datalog
    if datalog is not None and not datalog.accepts_rows:
        return None
    for slot in trial.actors:
        connection = slot.connection
        if (
            not isinstance(connection, InProcessActor)
            or connection.actor is None
            or slot.disengaged
            or not slot.stream_open
            or slot.response_timeout > 0
            or inspect.iscoroutinefunction(connection.actor.act)
        ):
            return None
    return FusedTicks(trial, environment)


class FusedTicks(FusedLoop):
    """Runs one trial's plain ticks (see the module doc)."""

    def __init__(self, trial: Trial, environment: InProcessEnvironment) -> None:
        self.trial = trial
        self.environment = environment
        self.slots: list[ActorSlot] = trial.actors
        self.actors: list[InProcessActor] = [slot.connection for slot in trial.actors]  # type: ignore[misc]
        self.agents = environment.agents
        self._recorder: _Recorder | None = None
        # the open tick: its observations (a step result), the actions answered so far
        self._result: StepResult | None = None
        self._values: list[Any] = [None] * len(self.slots)
        self._acted = 0
        self._processed = False

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        trial = self.trial
        datalog = await trial.open_datalog()
        if trial.state == TrialState.ENDED:
            raise TrialAborted
        trial.pending_observations.popleft()
        self._result = result = self.environment.first_result
        assert result is not None
        trial.begin_fused(self)
        environment = self.environment
        step = environment.env.step  # type: ignore[union-attr]
        slots = self.slots
        agents = self.agents
        n = len(slots)
        actors = [connection.actor for connection in self.actors]
        acts = [actor.act for actor in actors]  # type: ignore[union-attr]
        masked = [connection.wants_mask for connection in self.actors]
        rewarded = [connection.wants_rewards for connection in self.actors]
        index_of = {agent: i for i, agent in enumerate(agents)}
        env_name = trial.env_name
        max_steps = trial.max_steps
        open_samples = trial.open_samples
        recorder = None
        if datalog is not None:
            action_codecs = [connection.action_codec for connection in self.actors]
            recorder = self._recorder = _Recorder(datalog, environment, env_name, action_codecs)  # type: ignore[arg-type]
        values = self._values
        tick = trial.tick_id
        ended = TrialState.ENDED
        next_yield = perf_counter() + YIELD_INTERVAL
        while True:
            # -- the actors answer the observations of the open tick
            acting = result.acting
            observations = result.observations
            terminated = result.terminated
            truncated = result.truncated
            masks = result.action_masks
            frame = result.frame
            env_actions: dict[str, Any] = {}
            self._acted = 0
            self._processed = False
            if recorder is not None:  # before anyone can change them (the step may reuse its buffers)
                recorder.observe(result)
            for i in range(n):
                slot = slots[i]
                agent = agents[i]
                try:
                    if slot.pending_rewards:
                        rewards = trial.take_rewards(slot)
                        if rewarded[i]:
                            for reward in rewards:
                                actors[i].on_reward(reward.value, reward.tick_id, reward.sources)  # type: ignore[union-attr]
                    if (acting is not None and agent not in acting) or terminated.get(agent) or truncated.get(agent):
                        value = None  # inactive or dead: no action (the environment may still want None)
                    elif masks and masked[i] and masks.get(agent) is not None:
                        value = acts[i](observations.get(agent), frame, action_mask=masks[agent])
                    else:
                        value = acts[i](observations.get(agent), frame)
                except Exception as error:
                    await self._hand_over_dispatch(i, error=error)
                    return
                if hasattr(type(value), "__await__"):
                    await self._hand_over_dispatch(i, pending=value)
                    return
                values[i] = value
                self._acted = i + 1
                if acting is None or agent in acting:
                    env_actions[agent] = value
                if trial.state == ended:
                    raise TrialAborted
            if (
                (max_steps > 0 and tick >= max_steps)
                or trial.end_requested
                or (recorder is not None and not recorder.take_actions(values))
            ):
                self._leave()  # the engine's action processing (LAST; or it records why a value is not)
                await trial.resume(dispatched=True)
                return
            # -- the environment steps
            self._processed = True
            try:
                next_result = step(env_actions)
            except Exception as error:
                self._leave()
                environment.failed(error)
                raise TrialAborted from error
            environment.acting = next_result.acting
            if trial.state == ended:  # the environment's step ended it (a cancel)
                raise TrialAborted
            if perf_counter() > next_yield:  # fairness for other trials (as the engine's loop)
                self.flush()
                await asyncio.sleep(0)
                if trial.state == ended:
                    raise TrialAborted
                trial.last_activity = time.monotonic()
                next_yield = perf_counter() + YIELD_INTERVAL
            # -- the open tick closes as a plain row, unless the engine must route something
            rewards = next_result.rewards
            receiver = -1
            rewarded_agent = ""
            value = 0.0
            if rewards:
                if len(rewards) == 1:
                    ((rewarded_agent, value),) = rewards.items()
                    value = float(value)
                    receiver = index_of.get(rewarded_agent, -2)
                else:
                    receiver = -2
            if receiver == -2 or open_samples:
                self._leave()  # the engine routes these rewards with what else this tick got
                environment.emit(next_result)
                await trial.resume(dispatched=False)
                return
            if recorder is not None:
                recorder.row(tick, trial.tick_started_ns, receiver, value, rewarded_agent)
            if receiver >= 0 and rewarded[receiver]:
                slots[receiver].pending_rewards.setdefault(tick, []).append(RewardSource(env_name, value, 1.0))
            if next_result.done:  # the environment ended the trial: the engine's end, after this row
                self.flush()
                trial.release_fused()
                environment.emit(next_result, rewards=False)
                await trial.resume(dispatched=False)
                return
            tick += 1
            trial.tick_id = tick
            trial.tick_started_ns = now_ns()
            self._result = result = next_result

    # -- handing the trial to the engine ----------------------------------------------------

    def _open_actions(self) -> list[Action | None]:
        """The open tick's answers as the engine's records (None: not answered yet)."""
        tick, stamp = self.trial.tick_id, self.trial.tick_started_ns
        return [
            Action(tick, LabAction(value, connection.action_codec), stamp) if i < self._acted else None
            for i, (value, connection) in enumerate(zip(self._values, self.actors, strict=True))
        ]

    def _leave(self) -> ObservationSet:
        """Record what is pending and make the open tick the engine's current tick."""
        self.flush()
        observation_set = self.latest_observations()
        recorder = self._recorder
        if recorder is not None and self._processed:  # the step may have changed the values since: record as taken
            with contextlib.suppress(Exception):
                for content, envelope in zip(observation_set.observations, recorder.observations, strict=True):  # type: ignore[union-attr]
                    content.snapshot(envelope)
        self.trial.adopt_tick(observation_set, self._open_actions(), self._processed)  # type: ignore[arg-type]
        return observation_set  # type: ignore[return-value]

    async def _hand_over_dispatch(self, index: int, error: Exception | None = None, pending: Any = None) -> None:
        """Actor ``index`` raised or answers later: the engine gathers this tick's actions."""
        trial = self.trial
        observation_set = self._leave()
        connection = self.actors[index]
        if error is not None:
            connection.failed(error)
        else:
            connection.answer_later(pending, trial.tick_id)
        # the actors after it have not seen the observation yet: the engine's dispatch
        for slot in self.slots[index + 1 :]:
            if slot.disengaged:
                continue
            rewards = trial.take_rewards(slot) if slot.pending_rewards else ()
            content = observation_set.observations[slot.index]
            slot.connection.observation(Observation(trial.tick_id, observation_set.timestamp, content), rewards, False)
        await trial.resume(dispatched=True)

    def hand_back(self) -> None:
        self._leave()

    def flush(self) -> None:
        if self._recorder is not None:
            self._recorder.flush()

    def latest_observations(self) -> ObservationSet | None:
        result = self._result
        return None if result is None else self.environment.observation_set(result)


class _Recorder:
    """A fused trial's rows on their way to its datalog.

    Each tick's observations and actions are encoded when they are taken, before anything
    can change them (an environment may reuse its observation buffer at the next step, an
    actor its action array). A value of exactly its space's type is a few bytes copied
    (:meth:`~cogment_jupyter.adapters.codec.Codec.exact_bytes`); a tick with a frame, info,
    mask or flag is encoded as the engine encodes it.
    """

    def __init__(
        self,
        datalog: DatalogConnection,
        environment: InProcessEnvironment,
        sender: str,
        action_codecs: list[Codec],
    ) -> None:
        self.datalog = datalog
        self.environment = environment
        self.sender = sender
        self.agents = environment.agents
        self.observation_codecs = environment.observation_codecs
        self.action_codecs = action_codecs
        self.rows = FusedRows()
        #: the open tick's envelopes (empty observations: the engine records this tick)
        self.observations: list[bytes] = []
        self._actions: list[bytes] = []

    def observe(self, result: StepResult) -> None:
        """Take the open tick's observations (the environment's step may change them)."""
        observations = result.observations
        try:
            if (
                result.frame is None
                and not result.info
                and not result.action_masks
                and result.acting is None
                and True not in result.terminated.values()
                and True not in result.truncated.values()
            ):  # bare: an observation's envelope is its value's
                self.observations = [
                    value_envelope(codec, observations.get(agent))
                    for codec, agent in zip(self.observation_codecs, self.agents, strict=True)
                ]
            else:
                observation = self.environment.agent_observation
                self.observations = [observation(result, index).to_bytes() for index in range(len(self.agents))]
        except Exception:  # the engine records why (see take_actions)
            self.observations = []

    def take_actions(self, values: list[Any]) -> bool:
        """Take the open tick's actions; False when a value cannot be recorded: the engine
        records the tick (with the reason, as it does)."""
        if not self.observations:
            return False
        try:
            self._actions = [
                value_envelope(codec, value) for codec, value in zip(self.action_codecs, values, strict=True)
            ]
        except Exception:
            return False
        return True

    def row(self, tick: int, stamp: int, receiver: int, reward: float, name: str) -> None:
        """Record the open tick (its step is done)."""
        rows = self.rows
        rows.observations += self.observations
        rows.actions += self._actions
        rows.ticks.append(tick)
        rows.timestamps.append(stamp)
        rows.receivers.append(receiver)
        rows.rewards.append(reward)
        rows.names.append(name)

    def flush(self) -> None:
        rows = self.rows
        if len(rows):
            self.datalog.add_rows(rows, self.sender)
            self.rows = FusedRows()
