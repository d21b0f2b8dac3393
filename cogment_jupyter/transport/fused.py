"""The fused tick loop: a trial whose environment and actors are all objects in this process.

The engine's tick loop routes every tick through the protocol's records (observation sets,
actions, action sets, rewards, samples) and the components' ports: about 45 us a tick, five
times a CartPole step. Here a tick is ``act`` on each actor, ``step`` on the environment and
one plain row for the datalog (``engine.components.FusedRow``), with the engine's result:
the same ticks, the same states, the same rows in the datastore.

Only plain ticks run here. At the first tick that is not plain, the loop makes that tick the
engine's (``Trial.adopt_tick``) and the engine runs the rest of the trial (``Trial.resume``):
the trial's end, a component that raised, an action that is awaited, an environment that
ends the game or rewards several agents, a reward or message routed by the engine (an actor's
``send_reward``), a soft or hard termination. Those paths are the engine's own code, so they
behave exactly as they do without this loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from time import perf_counter
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.payloads import LabAction, observation_envelope
from cogment_jupyter.adapters.wire import encode_action, encode_observation
from cogment_jupyter.engine.components import DatalogConnection, FusedLoop, FusedRow
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
    from cogment_jupyter.engine.trial import ActorSlot, Trial
    from cogment_jupyter.transport.inprocess import InProcessActor, InProcessEnvironment

__all__ = ["FusedTicks", "offer"]

RUNNING = int(TrialState.RUNNING)


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
        self._rows: list[FusedRow] = []
        self._datalog: DatalogConnection | None = None
        # the open tick: its observations (a step result), the actions answered so far
        self._result: StepResult | None = None
        self._values: list[Any] = [None] * len(self.slots)
        self._acted = 0
        self._processed = False

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        trial = self.trial
        self._datalog = datalog = await trial.open_datalog()
        if trial.state == TrialState.ENDED:
            raise TrialAborted
        trial.pending_observations.popleft()
        self._result = result = self.environment.first_result
        assert result is not None
        trial.begin_fused(self)
        recording = datalog is not None
        environment = self.environment
        step = environment.env.step  # type: ignore[union-attr]
        slots = self.slots
        agents = self.agents
        n = len(slots)
        actors = [connection.actor for connection in self.actors]
        acts = [actor.act for actor in actors]  # type: ignore[union-attr]
        masked = [connection.wants_mask for connection in self.actors]
        rewarded = [connection.wants_rewards for connection in self.actors]
        observation_codecs = environment.observation_codecs
        encoders = [codec.encode for codec in observation_codecs]
        action_encoders = [connection.action_codec.encode for connection in self.actors]  # type: ignore[union-attr]
        index_of = {agent: i for i, agent in enumerate(agents)}
        env_name = trial.env_name
        max_steps = trial.max_steps
        open_samples = trial.open_samples
        rows = self._rows
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
            if (max_steps > 0 and tick >= max_steps) or trial.end_requested:
                self._leave()  # the engine's action processing sends LAST with these actions
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
            if recording:
                try:
                    if frame is None and not result.info and not masks and acting is None:
                        row_observations = [
                            encode_observation(
                                encoders[i](observations[agent]),
                                False,
                                bool(terminated.get(agent) or truncated.get(agent)),
                            )
                            for i, agent in enumerate(agents)
                        ]
                    else:
                        row_observations = [self._envelope(result, i) for i in range(n)]
                    row_actions = [
                        b"" if values[i] is None else encode_action(action_encoders[i](values[i])) for i in range(n)
                    ]
                except Exception:  # a value its codec cannot encode: the engine records why
                    self._leave()
                    environment.emit(next_result)
                    await trial.resume(dispatched=False)
                    return
                rows.append(
                    (
                        tick,
                        trial.tick_started_ns,
                        RUNNING,
                        row_observations,
                        row_actions,
                        receiver,
                        value,
                        rewarded_agent,
                    )
                )
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

    def _envelope(self, result: StepResult, index: int) -> bytes:
        """Agent ``index``'s observation envelope, with everything the result carries."""
        agent = self.agents[index]
        terminated = bool(result.terminated.get(agent))
        truncated = bool(result.truncated.get(agent))
        return observation_envelope(
            result.observations.get(agent),
            self.environment.observation_codecs[index],
            result.frame,
            result.acting is not None and agent not in result.acting,
            terminated or truncated,
            terminated,
            truncated,
            result.info,
            result.action_masks.get(agent) if result.action_masks else None,
        )

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
        rows = self._rows
        if rows and self._datalog is not None:
            self._datalog.add_rows(rows, self.trial.env_name)
            rows.clear()

    def latest_observations(self) -> ObservationSet | None:
        result = self._result
        return None if result is None else self.environment.observation_set(result)
