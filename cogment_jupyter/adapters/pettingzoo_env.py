"""PettingZoo environments (AEC turn-based and Parallel) as multi-agent lab environments.

Every agent is a trial actor named as in ``possible_agents``. AEC games ask only
``agent_selection`` to act (``StepResult.acting``), the others get their observation flagged
inactive; dead steps (an agent terminated while others play on) are taken by the adapter
itself. Action masks come from a ``{"observation", "action_mask"}`` observation or from
``info["action_mask"]``. Seeds, reset options, rendering and env reuse work as in
:class:`~cogment_jupyter.adapters.gymnasium_env.Gymnasium`.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

from cogment_jupyter.adapters.base import AgentSpec, StepResult, TrialContext
from cogment_jupyter.adapters.codec import SpaceFormatError, codec_for
from cogment_jupyter.adapters.env_pool import PooledEnvironment

__all__ = ["PettingZooAEC", "PettingZooParallel"]


_FACTORY_NAMES = {"aec": "env", "parallel": "parallel_env"}


def _pettingzoo() -> Any:
    try:
        import pettingzoo
    except ImportError as error:
        raise ImportError(
            'PettingZoo environments need pettingzoo: pip install pettingzoo (or "cogment-jupyter[notebooks]")'
        ) from error
    return pettingzoo


def _registry(kind: str) -> Any:
    return getattr(_pettingzoo(), f"{kind}_registry", None)


def resolve_factory(env_fn: str | Callable[..., Any], kind: str) -> Callable[..., Any]:
    """A callable making the env, from: a callable; a registry id (``"classic/tictactoe-v3"``,
    PettingZoo >= 1.26); a module (``"pettingzoo.classic.tictactoe_v3"``, its ``env`` or
    ``parallel_env``); or a factory's dotted path (``"pettingzoo.classic.rps_v2.parallel_env"``)."""
    if callable(env_fn):
        return env_fn
    if not isinstance(env_fn, str):
        raise TypeError(f"expected a PettingZoo id, a dotted path or a callable, got {env_fn!r}")
    registry = _registry(kind)
    if registry is not None and env_fn in registry:
        return functools.partial(_pettingzoo().make, kind, env_fn)
    attr_name = _FACTORY_NAMES[kind]
    try:
        return getattr(importlib.import_module(env_fn), attr_name)
    except ImportError:
        pass
    except AttributeError:
        raise ValueError(f"module {env_fn!r} has no {attr_name}(); pass the factory's full dotted path") from None
    module, _, attr = env_fn.rpartition(".")
    try:
        factory = getattr(importlib.import_module(module), attr) if module else None
    except (ImportError, AttributeError):
        factory = None
    if callable(factory):
        return factory
    close = difflib.get_close_matches(env_fn, list(registry or ()), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(
        f"cannot find the PettingZoo {kind} env {env_fn!r}.{hint} Give a registry id ('classic/tictactoe-v3'), "
        f"a module ('pettingzoo.classic.tictactoe_v3') or a factory ('pettingzoo.classic.tictactoe_v3.{attr_name}'), "
        "and install the package it needs"
    )


def _mask(observation: Any, info: Any) -> Any:
    if isinstance(observation, Mapping) and "action_mask" in observation:
        return observation["action_mask"]
    if isinstance(info, Mapping):
        return info.get("action_mask")
    return None


class _PettingZoo(PooledEnvironment):
    """What both APIs share: construction, spaces read once, per-trial envs, seeds."""

    _kind = "aec"

    def __init__(
        self,
        env_fn: str | Callable[..., Any],
        *,
        make_kwargs: Mapping[str, Any] | None = None,
        render: bool = False,
        reset_options: Mapping[str, Any] | None = None,
        reuse: bool = True,
        render_width: int | None = None,
        render_height: int | None = None,
    ) -> None:
        self.make_kwargs = dict(make_kwargs or {})
        mode = self.make_kwargs.pop("render_mode", None)
        if mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode={mode!r} is not supported: use render=True (rgb_array frames)")
        self.env_fn = env_fn
        self._factory: Callable[..., Any] | None = resolve_factory(env_fn, self._kind)
        self._init_pool(bool(render or mode == "rgb_array"), reset_options, reuse, render_width, render_height)
        self._validators: dict[str, Callable[..., Any]] = {}

    def _make(self, render: bool) -> Any:
        kwargs = dict(self.make_kwargs)
        if render:
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
            kwargs["render_mode"] = "rgb_array"
        if self._factory is None:  # unpickled in another process
            self._factory = resolve_factory(self.env_fn, self._kind)
        return self._factory(**kwargs)

    def _read_specs(self, env: Any) -> dict[str, AgentSpec]:
        return {a: AgentSpec(env.observation_space(a), env.action_space(a)) for a in env.possible_agents}

    def _start(self, context: TrialContext, options: Mapping[str, Any] | None) -> tuple[Any, int, Any]:
        env, seed, opts = self._begin(context, options)
        if not self._validators:
            for agent, spec in self.agent_specs.items():
                try:
                    self._validators[agent] = codec_for(spec.action_space).validate
                except SpaceFormatError:
                    self._validators[agent] = lambda value, what="value": value
        return env, seed, opts

    def _check(self, agent: str, action: Any) -> Any:
        if action is None:
            raise ValueError(f"agent {agent!r} was asked to act and sent no action (is its actor unavailable?)")
        try:
            return self._validators[agent](action, f"action of {agent!r}")
        except KeyError:
            raise ValueError(f"unknown agent {agent!r}: the agents are {list(self.agent_specs)}") from None

    def _frame(self) -> Any:
        return self.env.render() if self._rendering else None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_validators"] = {}
        if isinstance(self.env_fn, str):
            state["_factory"] = None  # resolved again where it is unpickled
        return state

    def __repr__(self) -> str:
        name = self.env_fn if isinstance(self.env_fn, str) else getattr(self.env_fn, "__qualname__", self.env_fn)
        return f"{type(self).__name__}({name!r})"


class PettingZooAEC(_PettingZoo):
    """A turn-based (AEC) PettingZoo env: ``PettingZooAEC("classic/tictactoe-v3")``."""

    _kind = "aec"

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        env, seed, opts = self._start(context, options)
        env.reset(seed=seed, options=opts)
        self._done: dict[str, tuple[bool, bool]] = {}
        result = self._result({})
        result.info["seed"] = seed
        return result

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        env = self.env
        if env is None:
            raise RuntimeError("step() before reset(): the trial must reset the environment first")
        agent = env.agent_selection
        if agent not in actions:
            raise ValueError(f"it is the turn of {agent!r} but the actions are for {list(actions)}")
        env.step(self._check(agent, actions[agent]))
        rewards = {a: float(r) for a, r in env.rewards.items()}
        return self._result(rewards)

    def _skip_dead(self, rewards: dict[str, float]) -> None:
        """Take the dead steps PettingZoo requires (an agent that is done acts with None)."""
        env = self.env
        while env.agents:
            agent = env.agent_selection
            terminated, truncated = env.terminations[agent], env.truncations[agent]
            if not (terminated or truncated):
                return
            self._done[agent] = (bool(terminated), bool(truncated))
            env.step(None)
            for a, r in env.rewards.items():
                if r:
                    rewards[a] = rewards.get(a, 0.0) + float(r)

    def _result(self, rewards: dict[str, float]) -> StepResult:
        env = self.env
        observations: dict[str, Any] = dict.fromkeys(self.agent_specs)
        masks: dict[str, Any] = {}
        infos: dict[str, Any] = {}
        for agent in env.agents:  # observed before dead steps remove them: the final board stays
            if env.terminations[agent] or env.truncations[agent]:
                self._done[agent] = (bool(env.terminations[agent]), bool(env.truncations[agent]))
            obs = observations[agent] = env.observe(agent)
            info = infos[agent] = env.infos.get(agent, {})
            mask = _mask(obs, info)
            if mask is not None:
                masks[agent] = mask
        self._skip_dead(rewards)
        done = not env.agents
        return StepResult(
            observations,
            rewards,
            {a: self._done.get(a, (False, False))[0] for a in self.agent_specs},
            {a: self._done.get(a, (False, False))[1] for a in self.agent_specs},
            infos,
            [] if done else [env.agent_selection],
            done,
            self._frame(),
            masks,
        )


class PettingZooParallel(_PettingZoo):
    """A simultaneous-move PettingZoo env: ``PettingZooParallel("classic/rps-v2")``."""

    _kind = "parallel"

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        env, seed, opts = self._start(context, options)
        observations, infos = env.reset(seed=seed, options=opts)
        infos = {a: dict(i) for a, i in (infos or {}).items()}
        result = self._result(observations, {}, {}, {}, infos)
        result.info["seed"] = seed
        return result

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        env = self.env
        if env is None:
            raise RuntimeError("step() before reset(): the trial must reset the environment first")
        missing = [a for a in env.agents if a not in actions]
        if missing:
            raise ValueError(f"no action for {missing}: every live agent acts at every step")
        observations, rewards, terminations, truncations, infos = env.step(
            {a: self._check(a, actions[a]) for a in env.agents}
        )
        return self._result(observations, rewards, terminations, truncations, infos)

    def _result(
        self,
        observations: Mapping[str, Any],
        rewards: Mapping[str, Any],
        terminations: Mapping[str, Any],
        truncations: Mapping[str, Any],
        infos: Mapping[str, Any],
    ) -> StepResult:
        live = self.env.agents
        masks = {}
        for agent, obs in observations.items():
            mask = _mask(obs, infos.get(agent))
            if mask is not None:
                masks[agent] = mask
        done = not live
        return StepResult(
            {a: observations.get(a) for a in self.agent_specs},
            {a: float(r) for a, r in rewards.items()},
            {a: bool(t) for a, t in terminations.items()},
            {a: bool(t) for a, t in truncations.items()},
            dict(infos),
            [] if done else list(live),
            done,
            self._frame(),
            masks,
        )
