"""Engine components backed by Python objects living in this process (no gRPC, no protobuf).

``adapters.base.Environment`` / ``Actor`` objects answer from inside the engine's calls, so a
trial whose parts are all here runs without a single context switch per tick. Payloads are
``LabObservation`` / ``LabAction`` objects; bytes only appear when a peer is remote.

What an in-process component is asked in a tick is decided here once, for both tick loops:
what each actor observes of a step (:meth:`InProcessEnvironment.observe`), how an actor is
asked to act and what it may answer (:meth:`InProcessActor.act_on`), which answers the
environment steps on (:meth:`InProcessEnvironment.step`).

A trial whose actors must answer within a ``response_timeout`` cannot let a synchronous
``act`` or ``step`` hold the event loop (the timeout could not fire, nor any other trial
run): the components of such a trial make those calls on a thread of their own
(:class:`_OffLoop`) and report back to the loop. Other trials call them inline, the fast path.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import inspect
import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult, TrialContext, agents_mismatch
from cogment_jupyter.adapters.codec import Codec, ValueOutsideSpaceError, codec_for
from cogment_jupyter.adapters.frame_size import FrameSize, frame_size
from cogment_jupyter.adapters.payload_formats import OURS, payload_format
from cogment_jupyter.adapters.payloads import (
    LabAction,
    LabObservation,
    bare_observation,
)
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
    TrialActor,
    now_ns,
)
from cogment_jupyter.engine.ticks import is_awaitable
from cogment_jupyter.transport.fused import offer
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig

if TYPE_CHECKING:
    from cogment_jupyter.engine.trial import TickLease

log = logging.getLogger(__name__)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class ActionOutsideSpace(ValueError):
    """An actor answered with a value its action space does not hold (an error of that actor)."""


class AnswerLater(Exception):
    """An actor answered with an awaitable (an ``async`` act): its action comes when it is done."""

    def __init__(self, pending: Any) -> None:
        super().__init__("the action is awaited")
        self.pending = pending


class _OffLoop:
    """Runs one component's synchronous calls in order on a thread of its own, and hands
    what they report to the event loop (see the module doc). The thread is a daemon: a call
    that never returns must not keep the process from exiting."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.get_running_loop()
        self._calls: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def run(self, call: Callable[..., Any], *args: Any) -> None:
        self._calls.put((call, args))

    async def wait(self, call: Callable[..., Any], *args: Any) -> Any:
        """The result of ``call(*args)``, made on the component's thread."""
        done: asyncio.Future[Any] = self.loop.create_future()

        def call_and_report() -> None:
            try:
                result = call(*args)
            except BaseException as error:  # handed to the awaiting coroutine
                self.post(_settle, done, None, error)
            else:
                self.post(_settle, done, result, None)

        self.run(call_and_report)
        return await done

    def post(self, call: Callable[..., Any], *args: Any) -> None:
        """Call ``call(*args)`` on the event loop (from the component's thread)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self.loop.call_soon_threadsafe(call, *args)

    def close(self, last: Callable[[], Any] | None = None) -> None:
        """After the calls already queued (and ``last``), the thread ends."""
        if last is not None:
            self.run(last)
        self._calls.put(None)

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            call, args = item
            try:
                call(*args)
            except Exception:
                log.exception("An in-process component's call failed off the event loop")


def _last_call(off_loop: _OffLoop | None, call: Callable[..., Any], component: Any) -> None:
    """A component's last call (its close, ``call(component)``): on its own thread after the
    call it may be in, then that thread ends; at once for a component called inline."""
    if off_loop is not None:
        off_loop.close(functools.partial(call, component))
    else:
        call(component)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if not future.done():
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


@functools.lru_cache(maxsize=256)
def _function_accepts_action_mask(function: Any) -> bool:
    return "action_mask" in inspect.signature(function).parameters


def _accepts_action_mask(act: Any) -> bool:
    """Whether ``act`` takes an ``action_mask`` argument (read once per actor class: reading a
    signature costs more than a short trial's tick)."""
    try:
        return _function_accepts_action_mask(getattr(act, "__func__", act))
    except TypeError:  # an unhashable callable
        return "action_mask" in inspect.signature(act).parameters


@functools.lru_cache(maxsize=256)
def _function_is_async(function: Any) -> bool:
    return inspect.iscoroutinefunction(function)


def _is_async(act: Any) -> bool:
    """Whether ``act`` is an ``async def`` (read once per function: every trial asks)."""
    try:
        return _function_is_async(getattr(act, "__func__", act))
    except TypeError:  # an unhashable callable
        return inspect.iscoroutinefunction(act)


@functools.lru_cache(maxsize=256)
def _checks_alike(actor_codec: Codec, environment_codec: Codec) -> bool:
    """``actor_codec.checks_as(environment_codec)``, asked once per pair (every trial asks;
    codecs are shared, and comparing a Box's bounds costs more than a short trial's tick)."""
    return actor_codec.checks_as(environment_codec)


def _chosen(registry: Mapping[str, Any], name: str) -> Any:
    """The implementation ``name`` of ``registry`` (the first one when empty, as the SDK
    does), or None when it serves none by that name."""
    return registry.get(name) if name else next(iter(registry.values()), None)


def _pick(registry: Mapping[str, Any], name: str, kind: str) -> Any:
    """:func:`_chosen`, or an :class:`InitError` saying what is served instead."""
    found = _chosen(registry, name)
    if found is None:
        if not registry:
            raise InitError(f"No {kind} implementation is served here")
        raise InitError(f"Unknown {kind} implementation [{name}]; served: {sorted(registry)}")
    return found


@dataclass(frozen=True, slots=True)
class _EnvironmentPlan:
    """What an environment template's trials with the same actors and config (seeds apart)
    share: who plays and who watches, the codecs, the frame size. Made once, the first time
    such a trial starts (:attr:`InProcessServices.environment_plans`)."""

    template: Environment
    specs: Mapping[str, AgentSpec]
    payload_format: Any
    agents: list[str]
    spectators: list[bool]
    #: (index, agent) of every actor that is an agent of the environment (not a spectator)
    players: list[tuple[int, str]]
    watched: str
    observation_codecs: list[Codec]
    action_codecs: list[Codec]
    #: (agent, observation codec) by actor index, when there is no spectator
    views: list[tuple[str, Codec]] | None
    #: the size the trial's frames are brought to (None: as rendered)
    frame_size: FrameSize | None

    @classmethod
    def make(cls, template: Environment, config: EnvConfig, actors: Sequence[TrialActor]) -> _EnvironmentPlan:
        try:
            formats = payload_format(config.format)
            specs = template.agent_specs
        except Exception as error:
            raise InitError(_describe(error)) from error
        names = [actor.name for actor in actors]
        watching = [actor.actor_class == SPECTATOR for actor in actors]
        agents = [name for name, spectator in zip(names, watching, strict=True) if not spectator]
        if problem := agents_mismatch(agents, specs, unknown="unknown", missing="without an actor"):
            raise InitError(
                f"the trial's actors {agents} must be exactly the environment's agents {list(specs)}{problem}"
            )
        # spectators (feedback givers, observers) see what the first agent sees
        watched = agents[0] if agents else next(iter(specs))
        seen = [specs[watched if spectator else a] for a, spectator in zip(names, watching, strict=True)]
        observation_codecs = [codec_for(spec.observation_space) for spec in seen]
        plain = not any(watching) and formats is OURS  # (bare observations are ours)
        return cls(
            template,
            specs,
            formats,
            names,
            watching,
            [(index, name) for index, name in enumerate(names) if not watching[index]],
            watched,
            observation_codecs,
            [codec_for(spec.action_space) for spec in seen],
            list(zip(names, observation_codecs, strict=True)) if plain else None,
            frame_size(config.render_width, config.render_height)
            or frame_size(template.render_width, template.render_height),
        )


#: environment plans kept at most per host (see InProcessServices.environment_plans)
_MAX_PLANS = 64


def _plan_of(
    plans: dict[tuple[Any, ...], _EnvironmentPlan] | None,
    template: Environment,
    config: EnvConfig,
    actors: Sequence[TrialActor],
) -> _EnvironmentPlan:
    """The plan of a trial of ``template``: one of ``plans`` (its host's), if a trial of the same
    was made (the plan's lists are shared: never changed); none: made for it."""
    if plans is None:
        return _EnvironmentPlan.make(template, config, actors)
    if len(actors) == 1:  # (most trials: no list to make)
        actor = actors[0]
        key: tuple[Any, ...] = (
            id(template),
            config.format,
            config.render_width,
            config.render_height,
            (actor.name, actor.actor_class),
        )
    else:
        key = (
            id(template),
            config.format,
            config.render_width,
            config.render_height,
            *[(actor.name, actor.actor_class) for actor in actors],
        )
    plan = plans.get(key)
    if plan is None or plan.template is not template or plan.specs is not template.agent_specs:
        plan = _EnvironmentPlan.make(template, config, actors)
        if len(plans) >= _MAX_PLANS:
            plans.clear()
        plans[key] = plan
    return plan


@dataclass(frozen=True, slots=True)
class EnvironmentSetup:
    """What an environment's init makes of its ``EnvInit`` but its seed: the implementation
    picked, the config parsed, the plan. Made per trial by :meth:`InProcessEnvironment.init`,
    or once for the trials of a batch, each then started with its seed
    (:meth:`InProcessEnvironment.start`)."""

    template: Environment
    #: the config, its seed apart (each trial's own, or this one's for a trial's own setup)
    config: EnvConfig
    plan: _EnvironmentPlan

    @classmethod
    def make(
        cls,
        registry: Mapping[str, Environment],
        implementation: str,
        config: bytes | None,
        actors: Sequence[TrialActor],
        plans: dict[tuple[Any, ...], _EnvironmentPlan] | None = None,
    ) -> EnvironmentSetup:
        """Raises :class:`InitError` saying what is wrong."""
        template: Environment = _pick(registry, implementation, "environment")
        try:
            parsed = EnvConfig.from_bytes(config)
        except Exception as error:
            raise InitError(_describe(error)) from error
        return cls(template, parsed, _plan_of(plans, template, parsed, actors))


def _own(value: Any) -> Any:
    """A trial's own copy of a config's JSON value (a component may change what it is given)."""
    return copy.deepcopy(value) if value else type(value)()


class InProcessEnvironment(EnvironmentConnection):
    """An :class:`Environment` template, forked for one trial."""

    def __init__(
        self,
        registry: Mapping[str, Environment],
        trial_id: str,
        plans: dict[tuple[Any, ...], _EnvironmentPlan] | None = None,
    ) -> None:
        """``plans``: those of the trials' host, shared by its connections (none: made per trial)."""
        self._registry = registry
        self._trial_id = trial_id
        self._plans = plans
        self._env: Environment | None = None
        self._port: EnvironmentPort | None = None
        self._agents: list[str] = []
        self._observation_codecs: list[Codec] = []
        self._action_codecs: list[Codec] = []
        self.acting: list[str] | None = None  # the agents the last result asked to act
        self._spectators: list[bool] = []
        self._players: list[tuple[int, str]] = []
        self._views: list[tuple[str, Codec]] | None = None
        self._watched = ""
        self._closed = False
        self._off_loop: _OffLoop | None = None
        self._frame_size: FrameSize | None = None
        #: the trial's payload format (ours unless a Cogment Lab service takes part)
        self.payload_format = OURS

    async def init(self, init: EnvInit, port: EnvironmentPort) -> None:
        setup = EnvironmentSetup.make(self._registry, init.impl_name, init.config, init.actors_in_trial, self._plans)
        if init.response_timeout <= 0:
            self.start(setup, setup.config.seed, port)
            return
        env, context, options = self._begin(setup, setup.config.seed)
        self._off_loop = _OffLoop(f"env-{self._trial_id}")
        try:
            result = await self._off_loop.wait(env.reset, context, options)
        except Exception as error:
            raise self._reset_failed(env, error) from error
        self._started(result, port)

    def start(self, setup: EnvironmentSetup, seed: int | None, port: EnvironmentPort) -> None:
        """:meth:`init` of a trial whose setup is made (once for a batch), with its ``seed``, inline."""
        env, context, options = self._begin(setup, seed)
        try:
            result = env.reset(context, options)
        except Exception as error:
            raise self._reset_failed(env, error) from error
        self._started(result, port)

    def _started(self, result: StepResult, port: EnvironmentPort) -> None:
        """The reset's ``result``, reported to the trial's ``port`` from now on."""
        self._port = port
        self._emit(result, last=False)

    def _begin(
        self, setup: EnvironmentSetup, seed: int | None
    ) -> tuple[Environment, TrialContext, dict[str, Any] | None]:
        """The trial's environment (forked), its context and its reset's options."""
        plan, config = setup.plan, setup.config
        self.payload_format = plan.payload_format
        self._agents = plan.agents
        self._spectators = plan.spectators
        self._players = plan.players
        self._watched = plan.watched
        self._observation_codecs = plan.observation_codecs
        self._views = plan.views
        self._action_codecs = plan.action_codecs
        self._frame_size = plan.frame_size
        self._env = env = setup.template.fork()
        context = TrialContext(
            self._trial_id,
            seed,
            _own(config.config),
            config.render,
            render_width=config.render_width,
            render_height=config.render_height,
        )
        return env, context, _own(config.options)

    def _reset_failed(self, env: Environment, error: Exception) -> InitError:
        self._close_env(env)
        return InitError(f"reset failed: {_describe(error)}")

    # -- the rules of a tick (both loops) --------------------------------------------------

    def observe(self, result: StepResult) -> list[LabObservation]:
        """What each actor observes of a step's result, by actor index."""
        observations = self.bare_observations(result)
        if observations is not None:
            return observations
        if result.frame is not None and self._frame_size is not None:
            result.frame = self._frame_size.fit(result.frame)
        if len(self._agents) == 1:  # (a single agent's reset: its info holds the seed)
            return [self._agent_observation(result, 0)]
        return [self._agent_observation(result, index) for index in range(len(self._agents))]

    def bare_observations(self, result: StepResult) -> list[LabObservation] | None:
        """:meth:`observe` of most steps, where each agent observes its value and nothing else
        (no frame, info or mask, every agent asked to act, none whose episode is over): bare
        observations of each actor's codec; None for any other step."""
        views = self._views
        if views is None or result.frame is not None or result.acting is not None or result.info or result.action_masks:
            return None
        values = result.observations
        if len(views) == 1:  # (most trials; on Python 3.11 a comprehension costs more than the rest)
            agent, codec = views[0]
            if result.terminated.get(agent) or result.truncated.get(agent):
                return None
            return [bare_observation(values.get(agent), codec)]
        if True in result.terminated.values() or True in result.truncated.values():
            return None
        return [bare_observation(values.get(agent), codec) for agent, codec in views]

    def step(self, values: Sequence[Any]) -> StepResult:
        """Step the environment on the actors' answers (by actor index): each agent it asked
        to act gets its actor's answer; spectators and the agents not asked give nothing."""
        env = self._env
        if env is None:
            raise RuntimeError("the trial has ended")
        acting = self.acting
        players = self._players
        if acting is None:
            if len(players) == 1:  # (as in observe)
                index, agent = players[0]
                actions = {agent: values[index]}
            else:
                actions = {agent: values[index] for index, agent in players}
        else:
            actions = {agent: values[index] for index, agent in players if agent in acting}
        result = env.step(actions)
        self.acting = result.acting
        return result

    def plain_stepper(self, action_codec: Codec | None) -> Callable[[Any], tuple[Any, Any, StepResult | None]] | None:
        """:meth:`step` and :meth:`bare_observations` in one call and without their objects,
        for a loop whose one actor checked its answers with ``action_codec``: the
        environment's ``plain_step`` (``Gymnasium.plain_step``), which takes that actor's
        answer as it is and gives ``(value, reward, None)`` for a step whose observation is
        bare (the actor's reward its only one), ``(None, None, result)`` for any other; None
        when the environment has no such port or its observations are never bare here, or
        when its agent's action space holds other values than ``action_codec``'s (it checks
        them then: see ``Codec.checks_as``)."""
        plain_step = getattr(self._env, "plain_step", None)
        if (
            plain_step is None
            or action_codec is None
            or self._views is None
            or self.acting is not None
            or self._players != [(0, self._agents[0])]
            or not _checks_alike(action_codec, self._action_codecs[0])
        ):
            return None
        return plain_step

    def _agent_observation(self, result: StepResult, index: int) -> LabObservation:
        make = self.payload_format.observation
        if self._spectators[index]:  # they take part in every tick (pacing, feedback); their action is ignored
            return make(
                result.observations.get(self._watched), self._observation_codecs[index], result.frame, info=result.info
            )
        agent = self._agents[index]
        terminated = result.terminated.get(agent, False)
        truncated = result.truncated.get(agent, False)
        acting = result.acting
        masks = result.action_masks
        return make(
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

    # -- the engine's loop -----------------------------------------------------------------

    def actions(self, action_set: ActionSet, last: bool) -> None:
        port = self._port
        if self._env is None or port is None or self._closed:
            return
        values: list[Any] = [None] * len(self._agents)
        unavailable = action_set.unavailable_actors
        acting = self.acting
        for index, agent in self._players:
            if acting is not None and agent not in acting:
                continue  # not asked: not decoded
            content = action_set.actions[index]
            if isinstance(content, LabAction):
                values[index] = content.value
            elif not (unavailable and index in unavailable):
                try:
                    values[index] = self.payload_format.decode_action(content, self._action_codecs[index]).value
                except Exception as error:
                    port.failed(f"bad action from [{agent}]: {_describe(error)}")
                    return
        if self._off_loop is not None:
            self._off_loop.run(self._step_off_loop, values, last)
            return
        try:
            result = self.step(values)
        except Exception as error:
            port.failed(_describe(error))
            return
        self._emit(result, last)

    def _step_off_loop(self, values: list[Any], last: bool) -> None:
        assert self._off_loop is not None
        try:
            result = self.step(values)
        except Exception as error:
            self._off_loop.post(self.failed, error)
            return
        self._off_loop.post(self._emit, result, last)

    def _emit(self, result: StepResult, last: bool, rewards: bool = True) -> None:
        port = self._port
        if port is None:  # ended while the environment stepped
            return
        if rewards:
            for agent, value in result.rewards.items():
                value = float(value)
                port.reward(Reward(-1, agent, value, [RewardSource("env", value, 1.0)]))
        final = result.done or last
        if final and not last:
            port.last()
        port.observations(self.observation_set(result))
        if final:
            port.last_ack()

    def observation_set(self, result: StepResult) -> ObservationSet:
        """Every actor's observation of a result, as the engine routes them."""
        contents = self.observe(result)
        return ObservationSet(contents, [0] if len(contents) == 1 else list(range(len(contents))), -1, now_ns())

    def message(self, message: Message) -> None:
        handler = getattr(self._env, "on_message", None)
        if handler is None:
            return
        if self._off_loop is not None:
            self._off_loop.run(handler, message.sender_name, message.payload)
        else:
            handler(message.sender_name, message.payload)

    def end(self, details: str | None) -> None:
        if self._closed:
            return
        self._closed = True
        env, self._env, self._port = self._env, None, None  # an ended trial is kept a while: keep it light
        if env is not None:
            _last_call(self._off_loop, self._close_env, env)

    def _close_env(self, env: Environment) -> None:
        try:
            env.close()
        except Exception:
            log.exception("Closing the environment of trial [%s] failed", self._trial_id)

    # -- a fused loop (``transport.fused``) ------------------------------------------------

    def fused_loop(self, lease: TickLease) -> FusedLoop | None:
        return offer(lease, self, InProcessActor)

    @property
    def observation_codecs(self) -> list[Codec]:
        """The codec of each actor's observations, by actor index."""
        return self._observation_codecs

    @property
    def inline(self) -> bool:
        """Whether the environment answers from inside the engine's calls (not off the loop)."""
        return self._env is not None and self._off_loop is None and not self._closed

    def emit(self, result: StepResult, rewards: bool = True) -> None:
        """Report a step's result to the trial as :meth:`actions` does (``rewards=False``:
        but for its rewards, which the caller recorded)."""
        self._emit(result, last=False, rewards=rewards)

    def failed(self, error: Exception) -> None:
        if self._port is not None:
            self._port.failed(_describe(error))


@dataclass(frozen=True, slots=True)
class ActorSetup:
    """What an actor's init makes of its ``ActorInit`` but its seed: the implementation picked,
    the config parsed, the spaces' codecs. Made per trial by :meth:`InProcessActor.init`, or
    once for the trials of a batch, each then started with its seed (:meth:`InProcessActor.start`)."""

    template: Actor
    name: str
    #: the config, its seed apart (each trial's own, or this one's for a trial's own setup)
    config: ActorConfig
    format: Any
    spec: AgentSpec
    observation_codec: Codec
    action_codec: Codec
    spectator: bool

    @classmethod
    def make(
        cls, registry: Mapping[str, Actor], implementation: str, name: str, actor_class: str, config: bytes | None
    ) -> ActorSetup:
        """Raises :class:`InitError` saying what is wrong."""
        template: Actor = _pick(registry, implementation, "actor")
        try:
            parsed = ActorConfig.from_bytes(config)
            formats = payload_format(parsed.format)
        except ValueError as error:
            raise InitError(str(error)) from error
        spec = parsed.spec
        if spec is None:
            raise InitError(
                f"actor [{name}] has no spaces in its config: cogment_jupyter actors need the "
                "agent's observation and action spaces (start trials with the Lab, or put them in the config)"
            )
        return cls(
            template,
            name,
            parsed,
            formats,
            spec,
            codec_for(spec.observation_space),
            codec_for(spec.action_space),
            actor_class == SPECTATOR,
        )


def serves(registry: Mapping[str, Any], implementation: str, template: Any) -> bool:
    """Whether ``registry`` still picks ``template`` for ``implementation`` (a setup made for a
    batch is used only while what it picked is what a trial's init would pick)."""
    return _chosen(registry, implementation) is template


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
        self._off_loop: _OffLoop | None = None
        #: the latest tick whose observation was sent (off the loop, older ones are not acted on)
        self._latest_tick = -1
        self._spectator = False
        self._format = OURS

    async def init(self, init: ActorInit, port: ActorPort) -> None:
        setup = ActorSetup.make(self._registry, init.impl_name, init.actor_name, init.actor_class, init.config)
        self.start(setup, setup.config.seed, port)
        if init.response_timeout > 0:
            self._off_loop = _OffLoop(f"actor-{init.actor_name}-{self._trial_id}")

    def start(self, setup: ActorSetup, seed: int | None, port: ActorPort) -> None:
        """:meth:`init` of a trial whose setup is made (once for a batch), with its ``seed``, inline."""
        self._format = setup.format
        self._observation_codec = setup.observation_codec
        self._action_codec = action_codec = setup.action_codec
        self._validate = action_codec.validate
        actor = setup.template.fork()
        self._port = port
        self._loop = asyncio.get_running_loop()
        config, name = setup.config, setup.name
        context = TrialContext(
            self._trial_id, seed, _own(config.config), config.render, name, self._send_reward, self._send_message
        )
        try:
            actor.reset(name, setup.spec, context)
        except Exception as error:
            raise InitError(f"reset failed: {_describe(error)}") from error
        self._wants_mask = _accepts_action_mask(actor.act)
        self._wants_rewards = type(actor).on_reward is not Actor.on_reward
        self._spectator = setup.spectator
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

    # -- the rules of a tick (both loops) --------------------------------------------------

    def deliver_rewards(self, rewards: Sequence[Reward]) -> None:
        """The rewards given before an observation (to an actor that takes them)."""
        if self._wants_rewards:
            actor = self._actor
            for reward in rewards:
                actor.on_reward(reward.value, reward.tick_id, reward.sources)  # type: ignore[union-attr]

    def act_on(self, observation: LabObservation) -> Any:
        """The actor's answer to ``observation``: None for an agent not asked to act this tick
        (inactive) or whose episode is over (dead); the action mask is passed to an actor
        whose ``act`` takes one. An answer outside the action space raises
        :class:`ActionOutsideSpace`; an awaitable answer raises :class:`AnswerLater` (its
        value is checked when it is done, :meth:`answer`)."""
        if not observation.asks_action:
            return None
        actor = self._actor
        if self._wants_mask and observation.action_mask is not None:
            value = actor.act(observation.value, observation.frame, action_mask=observation.action_mask)  # type: ignore[union-attr, call-arg]
        else:
            value = actor.act(observation.value, observation.frame)  # type: ignore[union-attr]
        if value is not None and not self._spectator:  # (most answers: a call less than _accept)
            try:
                return self._validate(value, "action")
            except ValueOutsideSpaceError:
                pass  # (_accept tells an awaitable from a wrong value)
        return self._accept(value)

    def plain_answers(self) -> tuple[Callable[..., Any], Callable[..., Any], Callable[[Any], Any]] | None:
        """What :meth:`act_on` does with a bare observation (asked to act, no frame or mask),
        for a loop that asks the actor every tick without an observation object: ``act(value,
        None)``, then ``check(answer, "action")``, and where that raises ``ValueOutsideSpaceError``,
        ``accept(answer)`` (which raises :class:`ActionOutsideSpace` or :class:`AnswerLater`).
        None for a spectator (its answers are never checked)."""
        actor = self._actor
        if actor is None or self._spectator:
            return None
        return actor.act, self._validate, self._accept

    def _accept(self, value: Any) -> Any:
        """``value`` as the action space holds it. ``None`` is no value of a space: an agent
        asked to act must answer. An awaitable is no value either: it is asked for only once
        a value is refused (most answers are values). A spectator's answer is no action."""
        if self._spectator:  # it watches: its answer is never sent on
            if is_awaitable(value):
                raise AnswerLater(value)
            return value
        try:
            if value is None:
                raise ValueOutsideSpaceError(f"action None is outside {self._action_codec.space}: return an action")  # type: ignore[union-attr]
            return self._validate(value, "action")
        except ValueOutsideSpaceError as error:
            if is_awaitable(value):
                raise AnswerLater(value) from None
            raise ActionOutsideSpace(str(error)) from None

    def answer(self, value: Any, tick: int) -> None:
        """Send the action of tick ``tick``."""
        port = self._port
        if port is not None and not self._closed:
            port.action(Action(tick, self._format.action(value, self._action_codec), now_ns()))

    def report(self, error: Exception, tick: int) -> None:
        """What :meth:`act_on` raised for tick ``tick``: an awaitable answer is awaited (then
        sent); a value outside the action space is refused (an error of this actor); anything
        else is a failure of the actor."""
        port = self._port
        if port is None or self._closed:
            return
        if isinstance(error, AnswerLater):  # an async act (a person, a remote model)
            self._pending = asyncio.get_running_loop().create_task(self._act_later(error.pending, tick))
        elif isinstance(error, ActionOutsideSpace):
            port.refused(tick, str(error))
        else:
            port.failed(_describe(error))

    async def _act_later(self, pending: Any, tick: int) -> None:
        try:
            value = self._accept(await pending)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.report(error, tick)
            return
        self.answer(value, tick)

    # -- the engine's loop -----------------------------------------------------------------

    def observation(self, observation: Observation, rewards: Sequence[Reward], last: bool) -> None:
        if self._actor is None or self._port is None or self._closed:
            return
        if self._off_loop is not None:
            self._latest_tick = observation.tick_id
            self._off_loop.run(self._observe, observation, rewards, last)
        else:
            self._observe(observation, rewards, last)

    def _observe(self, observation: Observation, rewards: Sequence[Reward], last: bool) -> None:
        """Rewards, then the observation: ``on_ending`` if it is the last, else ``act``
        (off the loop, only on the latest observation: a slow actor skips the ticks it missed)."""
        actor, off_loop = self._actor, self._off_loop
        if actor is None or self._closed:
            return
        tick = observation.tick_id
        try:
            self.deliver_rewards(rewards)
            content = observation.content
            lab = (
                content
                if isinstance(content, LabObservation)
                else self._format.decode_observation(content, self._observation_codec, self._action_codec)
            )
            if last:
                actor.on_ending(lab.value, lab.frame)
                self._on_loop(self._last_ack)
                return
            if off_loop is not None and tick < self._latest_tick:
                return
            value = self.act_on(lab)
        except Exception as error:
            self._on_loop(self.report, error, tick)
            return
        self._on_loop(self.answer, value, tick)

    def _last_ack(self) -> None:
        if self._port is not None:
            self._port.last_ack()

    def message(self, message: Message) -> None:
        if self._actor is None:
            return
        if self._off_loop is not None:
            self._off_loop.run(self._on_message, self._actor, message)
        else:
            self._on_message(self._actor, message)

    @staticmethod
    def _on_message(actor: Actor, message: Message) -> None:
        try:
            actor.on_message(message.sender_name, message.payload)
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
            _last_call(self._off_loop, self._end_actor, actor)

    @staticmethod
    def _end_actor(actor: Actor) -> None:
        try:
            actor.end()
        except Exception:
            log.exception("Actor end() failed")

    # -- a fused loop (``transport.fused``) ------------------------------------------------

    @property
    def fusable(self) -> bool:
        """Whether a fused loop may call this actor: a synchronous ``act`` answered inline."""
        actor = self._actor
        return actor is not None and self._off_loop is None and not self._closed and not _is_async(actor.act)

    @property
    def wants_rewards(self) -> bool:
        return self._wants_rewards

    def action_payload(self, value: Any) -> LabAction:
        """An answer as the engine carries it."""
        return self._format.action(value, self._action_codec)

    @property
    def action_codec(self) -> Codec | None:
        return self._action_codec


@dataclass
class InProcessServices:
    """What this process serves at one address: the factory uses it instead of gRPC."""

    environments: dict[str, Environment] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)
    datalog_factory: Any = None  # Callable[[str], DatalogConnection] | None
    #: what the trials of an environment template share, made once for all of them (by
    #: template, config and actors: a trial of other actors or another template has its own)
    environment_plans: dict[tuple[Any, ...], _EnvironmentPlan] = field(default_factory=dict, repr=False)

    def environment(self, trial_id: str, implementation: str = "") -> EnvironmentConnection | None:
        """In-process when this implementation is one of ours; None lets gRPC reach the others."""
        if not self.environments or (implementation and implementation not in self.environments):
            return None
        return InProcessEnvironment(self.environments, trial_id, self.environment_plans)

    def actor(self, trial_id: str, implementation: str = "") -> ActorConnection | None:
        if not self.actors or (implementation and implementation not in self.actors):
            return None
        return InProcessActor(self.actors, trial_id)

    def datalog(self, trial_id: str) -> DatalogConnection | None:
        return self.datalog_factory(trial_id) if self.datalog_factory is not None else None


__all__ = ["ActorSetup", "AgentSpec", "EnvironmentSetup", "InProcessActor", "InProcessEnvironment", "InProcessServices"]
