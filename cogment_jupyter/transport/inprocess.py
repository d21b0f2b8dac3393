"""Engine components backed by Python objects living in this process (no gRPC, no protobuf).

``adapters.base.Environment`` / ``Actor`` objects answer from inside the engine's calls, so a
trial whose parts are all here runs without a single context switch per tick. Payloads are
``LabObservation`` / ``LabAction`` objects; bytes only appear when a peer is remote.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.adapters.codec import Codec, codec_for
from cogment_jupyter.adapters.payloads import LabAction, LabObservation, decode_action, decode_observation
from cogment_jupyter.adapters.wire import SPECTATOR
from cogment_jupyter.engine.components import (
    ActorConnection,
    ActorPort,
    DatalogConnection,
    EnvironmentConnection,
    EnvironmentPort,
    FusedLoop,
    InitError,
)
from cogment_jupyter.engine.records import (
    Action,
    ActionSet,
    ActorInit,
    EnvInit,
    Message,
    Observation,
    ObservationSet,
    Reward,
    RewardSource,
    now_ns,
)
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig

if TYPE_CHECKING:
    from cogment_jupyter.engine.trial import Trial

log = logging.getLogger(__name__)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


@functools.lru_cache(maxsize=256)
def _function_accepts_action_mask(function: Any) -> bool:
    return "action_mask" in inspect.signature(function).parameters


def _accepts_action_mask(act: Any) -> bool:
    """Whether ``act`` takes an ``action_mask`` argument (read once per actor class: a
    signature costs ~12 us, which every trial would pay)."""
    try:
        return _function_accepts_action_mask(getattr(act, "__func__", act))
    except TypeError:  # an unhashable callable
        return "action_mask" in inspect.signature(act).parameters


def _pick(registry: Mapping[str, Any], name: str, kind: str) -> Any:
    """The implementation ``name`` (the first one when empty, as the SDK does)."""
    if not registry:
        raise InitError(f"No {kind} implementation is served here")
    if not name:
        return next(iter(registry.values()))
    try:
        return registry[name]
    except KeyError:
        raise InitError(f"Unknown {kind} implementation [{name}]; served: {sorted(registry)}") from None


class InProcessEnvironment(EnvironmentConnection):
    """An :class:`Environment` template, forked for one trial."""

    def __init__(self, registry: Mapping[str, Environment], trial_id: str) -> None:
        self._registry = registry
        self._trial_id = trial_id
        self._env: Environment | None = None
        self._port: EnvironmentPort | None = None
        self._agents: list[str] = []
        self._observation_codecs: list[Codec] = []
        self._action_codecs: list[Codec] = []
        self.acting: list[str] | None = None  # the agents the last result asked to act
        self._spectators: list[bool] = []
        self._watched = ""
        self._closed = False
        #: the reset's result, where a fused loop starts (see ``transport.fused``)
        self.first_result: StepResult | None = None

    async def init(self, init: EnvInit, port: EnvironmentPort) -> None:
        template: Environment = _pick(self._registry, init.impl_name, "environment")
        try:
            config = EnvConfig.from_bytes(init.config)
            specs = template.agent_specs
        except Exception as error:
            raise InitError(_describe(error)) from error
        names = [actor.name for actor in init.actors_in_trial]
        watching = [actor.actor_class == SPECTATOR for actor in init.actors_in_trial]
        agents = [name for name, spectator in zip(names, watching, strict=True) if not spectator]
        unknown = [a for a in agents if a not in specs]
        unmapped = [a for a in specs if a not in agents]
        if unknown or unmapped:
            raise InitError(
                f"the trial's actors {agents} must be exactly the environment's agents {list(specs)}"
                + (f"; unknown: {unknown}" if unknown else "")
                + (f"; without an actor: {unmapped}" if unmapped else "")
            )
        # spectators (feedback givers, observers) see what the first agent sees
        watched = agents[0] if agents else next(iter(specs))
        self._agents = names
        self._spectators = watching
        self._watched = watched
        self._observation_codecs = [
            codec_for(specs[watched if spectator else a].observation_space)
            for a, spectator in zip(names, watching, strict=True)
        ]
        self._action_codecs = [
            codec_for(specs[watched if spectator else a].action_space)
            for a, spectator in zip(names, watching, strict=True)
        ]
        self._env = env = template.fork()
        self._port = port
        context = TrialContext(self._trial_id, config.seed, config.config, config.render)
        try:
            result = env.reset(context, config.options)
        except Exception as error:
            env.close()
            raise InitError(f"reset failed: {_describe(error)}") from error
        self.first_result = result
        self._emit(result, last=False)

    # -- what a fused loop reads and calls (``transport.fused``) ---------------------------

    def fused_loop(self, trial: Trial) -> FusedLoop | None:
        from cogment_jupyter.transport.fused import offer

        return offer(trial, self)

    @property
    def env(self) -> Environment | None:
        """This trial's environment (a fork of the served template)."""
        return self._env

    @property
    def agents(self) -> list[str]:
        return self._agents

    @property
    def spectators(self) -> list[bool]:
        return self._spectators

    @property
    def observation_codecs(self) -> list[Codec]:
        return self._observation_codecs

    def emit(self, result: StepResult, rewards: bool = True) -> None:
        """Report a step's result to the trial as :meth:`actions` does (``rewards=False``:
        but for its rewards, which the caller recorded)."""
        self._emit(result, last=False, rewards=rewards)

    def failed(self, error: Exception) -> None:
        if self._port is not None:
            self._port.failed(_describe(error))

    def actions(self, action_set: ActionSet, last: bool) -> None:
        env, port = self._env, self._port
        if env is None or port is None or self._closed:
            return
        acting = self.acting
        unavailable = action_set.unavailable_actors
        actions: dict[str, Any] = {}
        spectators = self._spectators
        for index, agent in enumerate(self._agents):
            if spectators[index] or (acting is not None and agent not in acting):
                continue
            content = action_set.actions[index]
            if isinstance(content, LabAction):
                actions[agent] = content.value
            elif unavailable and index in unavailable:
                actions[agent] = None
            else:
                try:
                    actions[agent] = decode_action(content, self._action_codecs[index]).value
                except Exception as error:
                    port.failed(f"bad action from [{agent}]: {_describe(error)}")
                    return
        try:
            result = env.step(actions)
        except Exception as error:
            port.failed(_describe(error))
            return
        self._emit(result, last)

    def _emit(self, result: StepResult, last: bool, rewards: bool = True) -> None:
        port = self._port
        if port is None:  # ended while the environment stepped
            return
        if rewards:
            for agent, value in result.rewards.items():
                value = float(value)
                port.reward(Reward(-1, agent, value, [RewardSource("env", value, 1.0)]))
        self.acting = result.acting
        final = result.done or last
        if final and not last:
            port.last()
        port.observations(self.observation_set(result))
        if final:
            port.last_ack()

    def observation_set(self, result: StepResult) -> ObservationSet:
        """Every actor's observation of a result, as the engine routes them."""
        contents = [self.agent_observation(result, index) for index in range(len(self._agents))]
        return ObservationSet(contents, list(range(len(contents))), -1, now_ns())

    def agent_observation(self, result: StepResult, index: int) -> LabObservation:
        """What actor ``index`` observes of a result (spectators see the first agent's view)."""
        if self._spectators[index]:  # they take part in every tick (pacing, feedback); their action is ignored
            return LabObservation(
                result.observations.get(self._watched), self._observation_codecs[index], result.frame, info=result.info
            )
        agent = self._agents[index]
        terminated = result.terminated.get(agent, False)
        truncated = result.truncated.get(agent, False)
        acting = result.acting
        masks = result.action_masks
        return LabObservation(
            result.observations.get(agent),
            self._observation_codecs[index],
            result.frame,
            acting is not None and agent not in acting,
            (terminated or truncated) and not result.done,
            terminated,
            truncated,
            result.info,
            masks.get(agent) if masks else None,
        )

    def message(self, message: Message) -> None:
        handler = getattr(self._env, "on_message", None)
        if handler is not None:
            handler(message.sender_name, message.payload)

    def end(self, details: str | None) -> None:
        if self._closed:
            return
        self._closed = True
        self.first_result = None
        env, self._env, self._port = self._env, None, None  # an ended trial is kept a while: keep it light
        if env is not None:
            try:
                env.close()
            except Exception:
                log.exception("Closing the environment of trial [%s] failed", self._trial_id)


class InProcessActor(ActorConnection):
    """An :class:`Actor` playing one slot of one trial."""

    def __init__(self, registry: Mapping[str, Actor], trial_id: str) -> None:
        self._registry = registry
        self._trial_id = trial_id
        self._actor: Actor | None = None
        self._port: ActorPort | None = None
        self._observation_codec: Codec | None = None
        self._action_codec: Codec | None = None
        self._wants_mask = False
        self._pending: asyncio.Task[None] | None = None
        self._closed = False
        self._wants_rewards = True
        self._loop: asyncio.AbstractEventLoop | None = None

    async def init(self, init: ActorInit, port: ActorPort) -> None:
        template: Actor = _pick(self._registry, init.impl_name, "actor")
        try:
            config = ActorConfig.from_bytes(init.config)
        except ValueError as error:
            raise InitError(str(error)) from error
        spec = config.spec
        if spec is None:
            raise InitError(
                f"actor [{init.actor_name}] has no spaces in its config: cogment_jupyter actors need the "
                "agent's observation and action spaces (start trials with the Lab, or put them in the config)"
            )
        self._observation_codec = codec_for(spec.observation_space)
        self._action_codec = codec_for(spec.action_space)
        actor = template.fork()
        self._port = port
        self._loop = asyncio.get_running_loop()
        context = TrialContext(
            self._trial_id,
            config.seed,
            config.config,
            config.render,
            init.actor_name,
            self._send_reward,
            self._send_message,
        )
        try:
            actor.reset(init.actor_name, spec, context)
        except Exception as error:
            raise InitError(f"reset failed: {_describe(error)}") from error
        self._wants_mask = _accepts_action_mask(actor.act)
        self._wants_rewards = type(actor).on_reward is not Actor.on_reward
        self._actor = actor

    def _on_loop(self, function: Any, *args: Any) -> None:
        if self._closed:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)

    def _send_reward(
        self, value: float, to: str | Sequence[str], confidence: float = 1.0, user_data: Any = None
    ) -> None:
        """Reward other actors for the current tick (thread-safe)."""
        port = self._port
        if port is None:  # the trial is over (a widget may still be clicked)
            return
        for receiver in [to] if isinstance(to, str) else to:
            source = RewardSource("", float(value), float(confidence), user_data)
            self._on_loop(port.reward, Reward(-1, receiver, float(value), [source]))

    def _send_message(self, payload: Any, to: str | Sequence[str]) -> None:
        """Message other actors or the environment (thread-safe)."""
        port = self._port
        if port is None:
            return
        for receiver in [to] if isinstance(to, str) else to:
            self._on_loop(port.message, Message(-1, "", receiver, payload))

    def observation(self, observation: Observation, rewards: Sequence[Reward], last: bool) -> None:
        actor, port = self._actor, self._port
        if actor is None or port is None or self._closed:
            return
        try:
            if self._wants_rewards:
                for reward in rewards:
                    actor.on_reward(reward.value, reward.tick_id, reward.sources)
            content = observation.content
            lab = (
                content
                if isinstance(content, LabObservation)
                else decode_observation(content, self._observation_codec, self._action_codec)
            )
            if last:
                actor.on_ending(lab.value, lab.frame)
                port.last_ack()
                return
            tick = observation.tick_id
            if lab.inactive or lab.dead:
                port.action(Action(tick, LabAction(None, self._action_codec), now_ns()))
                return
            if self._wants_mask and lab.action_mask is not None:
                result = actor.act(lab.value, lab.frame, action_mask=lab.action_mask)  # type: ignore[call-arg]
            else:
                result = actor.act(lab.value, lab.frame)
        except Exception as error:
            port.failed(_describe(error))
            return
        if hasattr(type(result), "__await__"):  # an async act (a person, a remote model)
            self.answer_later(result, tick)
        else:
            port.action(Action(tick, LabAction(result, self._action_codec), now_ns()))

    # -- what a fused loop reads and calls (``transport.fused``) ---------------------------

    @property
    def actor(self) -> Actor | None:
        """This trial's actor (a fork of the served one)."""
        return self._actor

    @property
    def action_codec(self) -> Codec | None:
        return self._action_codec

    @property
    def wants_mask(self) -> bool:
        return self._wants_mask

    @property
    def wants_rewards(self) -> bool:
        return self._wants_rewards

    def answer_later(self, pending: Any, tick: int) -> None:
        """Send the action of tick ``tick`` once the awaitable ``act`` returned is done."""
        self._pending = asyncio.get_running_loop().create_task(self._act_later(pending, tick))

    def failed(self, error: Exception) -> None:
        if self._port is not None:
            self._port.failed(_describe(error))

    async def _act_later(self, pending: Any, tick: int) -> None:
        port = self._port
        assert port is not None
        try:
            value = await pending
        except asyncio.CancelledError:
            raise
        except Exception as error:
            port.failed(_describe(error))
            return
        if not self._closed:
            port.action(Action(tick, LabAction(value, self._action_codec), now_ns()))

    def message(self, message: Message) -> None:
        if self._actor is not None:
            try:
                self._actor.on_message(message.sender_name, message.payload)
            except Exception:
                log.exception("Actor on_message failed")

    def end(self, details: str | None) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pending is not None:
            self._pending.cancel()
        actor, self._actor, self._port = self._actor, None, None  # an ended trial is kept a while: keep it light
        if actor is not None:
            try:
                actor.end()
            except Exception:
                log.exception("Actor end() failed")


@dataclass
class InProcessServices:
    """What this process serves at one address: the factory uses it instead of gRPC."""

    environments: dict[str, Environment] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)
    datalog_factory: Any = None  # Callable[[str], DatalogConnection] | None

    def environment(self, trial_id: str, implementation: str = "") -> EnvironmentConnection | None:
        """In-process when this implementation is one of ours; None lets gRPC reach the others."""
        if not self.environments or (implementation and implementation not in self.environments):
            return None
        return InProcessEnvironment(self.environments, trial_id)

    def actor(self, trial_id: str, implementation: str = "") -> ActorConnection | None:
        if not self.actors or (implementation and implementation not in self.actors):
            return None
        return InProcessActor(self.actors, trial_id)

    def datalog(self, trial_id: str) -> DatalogConnection | None:
        return self.datalog_factory(trial_id) if self.datalog_factory is not None else None


__all__ = ["AgentSpec", "InProcessActor", "InProcessEnvironment", "InProcessServices"]
