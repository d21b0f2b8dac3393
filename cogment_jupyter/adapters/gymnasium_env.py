"""Any Gymnasium environment as a single-agent lab environment (agent ``"gym"``).

The object users build is a template: it reads the spaces once (so ``agent_specs`` works
before any trial) and every trial runs on a ``fork()`` that makes its own gym env on first
``reset``. The per-step path is ``env.step`` plus building one ``StepResult``, no encoding;
a loop that checked the action itself steps through :meth:`Gymnasium.plain_step`, which
builds none for most steps.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym

from cogment_jupyter.adapters.base import AgentSpec, StepResult, TrialContext
from cogment_jupyter.adapters.codec import ValueOutsideSpaceError, codec_for
from cogment_jupyter.adapters.env_pool import PooledEnvironment
from cogment_jupyter.adapters.spaces import SpaceFormatError

__all__ = ["AGENT", "Gymnasium", "resolve_env_id"]

_new = object.__new__

#: The name of the single agent of a Gymnasium environment (as in Cogment Lab).
AGENT = "gym"


def resolve_env_id(env_id: str) -> str:
    """``env_id`` if Gymnasium can make it (importing ``module`` of ``"module:Id"`` first),
    else a ValueError naming the closest registered ids."""
    module, sep, name = env_id.rpartition(":")
    if sep:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ValueError(
                f"cannot import {module!r} to register {name!r} ({e}); install it or fix the 'module:Id' form"
            ) from e
    try:
        gym.spec(name)
    except gym.error.Error as e:
        ids = list(gym.registry)
        lowered = {i.lower(): i for i in ids}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=5, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(lowered[c]) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown Gymnasium environment id {env_id!r} ({e}).{hint} Environments registered by "
            "another package need registration='package' or the 'package:Id' form."
        ) from None
    return env_id


class _Validator:
    """Checks actions with the codec's fast validator, or ``space.contains`` for spaces the
    codec does not support (they still run in-process, they just cannot be recorded)."""

    def __init__(self, space: gym.Space) -> None:
        try:
            self.validate = codec_for(space).validate
        except SpaceFormatError:
            self.space = space
            self.validate = self._contains

    def _contains(self, value: Any, what: str = "value") -> Any:
        if self.space.contains(value):
            return value
        raise ValueOutsideSpaceError(f"{what} {value!r} is outside {self.space}: return a value of that space")


class Gymnasium(PooledEnvironment):
    """A Gymnasium env by id (``"CartPole-v1"``, ``"module:Id-v0"``) or factory callable.

    ``render=True`` makes the env with ``render_mode="rgb_array"`` and attaches a frame to
    every step; a trial whose context asks for rendering gets frames too. ``render_width`` /
    ``render_height`` resample them to that size (one alone keeps the aspect ratio) unless a
    trial asks for another. Each trial is
    reset with ``TrialContext.seed`` or, if ``None``, a fresh random seed, reported as
    ``info["seed"]`` of the reset (so trials differ by default and every one can be replayed).

    Concurrent trials never share a gym env. A finished trial's env is reset and reused by a
    later trial (``gym.make`` costs as much as a short episode); ``reuse=False`` makes a new
    one for every trial, for envs whose ``reset`` does not clear all their state.
    """

    def __init__(
        self,
        env_id: str | Callable[..., gym.Env],
        *,
        make_kwargs: Mapping[str, Any] | None = None,
        registration: str | None = None,
        render: bool = False,
        reset_options: Mapping[str, Any] | None = None,
        max_episode_steps: int | None = None,
        reuse: bool = True,
        render_width: int | None = None,
        render_height: int | None = None,
    ) -> None:
        self.make_kwargs = dict(make_kwargs or {})
        mode = self.make_kwargs.pop("render_mode", None)
        if mode not in (None, "rgb_array"):
            raise ValueError(
                f"render_mode={mode!r} is not supported: frames are read as arrays; use render=True "
                "(render_mode='rgb_array') and watch them in the notebook"
            )
        if registration is not None:
            importlib.import_module(registration)
        if isinstance(env_id, str):
            resolve_env_id(env_id)
            max_episode_steps = self._step_limit(max_episode_steps)
        elif not callable(env_id):
            raise TypeError(f"env_id must be a Gymnasium id or a callable returning a gym.Env, got {env_id!r}")
        self.env_id = env_id
        self.registration = registration
        self.max_episode_steps = max_episode_steps
        self._init_pool(bool(render or mode == "rgb_array"), reset_options, reuse, render_width, render_height)
        self._validate: Callable[..., Any] | None = None

    # -- construction -----------------------------------------------------------------------

    def _step_limit(self, max_episode_steps: int | None) -> int | None:
        """The time limit, given as the argument or, as Cogment Lab passes it, in ``make_kwargs``
        (``gym.make`` takes it once)."""
        in_kwargs = self.make_kwargs.pop("max_episode_steps", None)
        if in_kwargs is not None and max_episode_steps is not None and in_kwargs != max_episode_steps:
            raise ValueError(
                f"max_episode_steps={max_episode_steps} and make_kwargs={{'max_episode_steps': {in_kwargs}}} "
                "disagree: give the time limit once"
            )
        return max_episode_steps if max_episode_steps is not None else in_kwargs

    def _make(self, render: bool) -> gym.Env:
        kwargs = dict(self.make_kwargs)
        if render:
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # headless pygame
            kwargs["render_mode"] = "rgb_array"
        if isinstance(self.env_id, str):
            return gym.make(self.env_id, max_episode_steps=self.max_episode_steps, **kwargs)
        env = self.env_id(**kwargs)
        if not isinstance(env, gym.Env):
            raise TypeError(f"the factory {self.env_id!r} returned {type(env).__name__}, not a gymnasium.Env")
        if self.max_episode_steps is not None:
            env = gym.wrappers.TimeLimit(env, self.max_episode_steps)
        return env

    def _read_specs(self, env: gym.Env) -> dict[str, AgentSpec]:
        return {AGENT: AgentSpec(env.observation_space, env.action_space)}

    # -- trial ------------------------------------------------------------------------------

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        env, seed, opts = self._begin(context, options)
        if self._validate is None:
            shared = self._shared
            if shared.validate is None:
                shared.validate = _Validator(self.agent_specs[AGENT].action_space).validate
            self._validate = shared.validate
        obs, info = env.reset(seed=seed, options=opts)
        info = dict(info)
        info["seed"] = seed
        mask = info.get("action_mask")
        return StepResult(
            {AGENT: obs},
            info=info,
            frame=env.render() if self._rendering else None,
            action_masks={AGENT: mask} if mask is not None else {},
        )

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        env = self.env
        if env is None:
            raise RuntimeError("Gymnasium.step() before reset(): the trial must reset the environment first")
        try:
            action = actions[AGENT]
        except KeyError:
            raise ValueError(
                f"no action for agent {AGENT!r} (got {list(actions)}): a Gymnasium env has one agent "
                f"named {AGENT!r}; map your actor to it"
            ) from None
        if action is None:
            raise ValueError(
                f"agent {AGENT!r} sent no action: a Gymnasium env needs one every step (is the actor "
                "unavailable? give the slot a default action)"
            )
        obs, reward, result = self.plain_step(self._validate(action, "action"))  # type: ignore[misc]
        return self._result(obs, reward, False, False, {}) if result is None else result

    def plain_step(self, action: Any) -> tuple[Any, float, StepResult | None]:
        """:meth:`step` for a caller that checked ``action`` against an action space equal to
        this env's (the one check of it: see ``Codec.checks_as``), and most steps without a
        :class:`StepResult`: ``(observation, reward, None)`` for a step whose observation is
        its value alone (no info, frame or mask, the episode goes on), ``(None, None,
        result)`` for any other. Called only after :meth:`reset` (the trial's env exists)."""
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except BaseException:
            self._broken = True  # never hand a half-stepped env to another trial
            raise
        if info or terminated or truncated or self._rendering:
            return None, None, self._result(obs, float(reward), terminated, truncated, info)
        return obs, float(reward), None

    def _result(self, obs: Any, reward: float, terminated: Any, truncated: Any, info: Any) -> StepResult:
        """The :class:`StepResult` of one ``env.step``."""
        if terminated.__class__ is not bool:
            terminated = bool(terminated)
        if truncated.__class__ is not bool:
            truncated = bool(truncated)
        mask = info.get("action_mask") if info else None
        # (made as StepResult(...) would be, a quarter cheaper: one per step)
        result = _new(StepResult)
        result.observations = {AGENT: obs}
        result.rewards = {AGENT: reward}
        result.terminated = {AGENT: terminated}
        result.truncated = {AGENT: truncated}
        result.info = info
        result.acting = None
        result.done = terminated or truncated
        result.frame = self.env.render() if self._rendering else None
        result.action_masks = {AGENT: mask} if mask is not None else {}
        return result

    def __repr__(self) -> str:
        name = self.env_id if isinstance(self.env_id, str) else getattr(self.env_id, "__name__", repr(self.env_id))
        return f"Gymnasium({name!r}{', render=True' if self.render else ''})"
