"""Any Gymnasium environment as a single-agent lab environment (agent ``"gym"``).

The object users build is a template: it reads the spaces once (so ``agent_specs`` works
before any trial) and every trial runs on a ``fork()`` that makes its own gym env on first
``reset``. The per-step path is ``env.step`` plus building one ``StepResult``: no encoding.
"""

from __future__ import annotations

import difflib
import importlib
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym

from cogment_jupyter.adapters.base import AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.adapters.codec import ValueOutsideSpaceError, codec_for
from cogment_jupyter.adapters.spaces import SpaceFormatError

__all__ = ["AGENT", "Gymnasium", "resolve_env_id"]

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


def _fresh_seed() -> int:
    return secrets.randbits(31)


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


#: Idle gym envs kept per template and render mode for later trials.
POOL_SIZE = 32


class _Shared:
    """What a template and its forks share: the spaces, read once, and the idle gym envs of
    finished trials (and the one made to read the spaces), handed to later trials.

    ``gym.make`` costs ~200 us for CartPole, as much as a whole random episode, while a
    ``reset(seed=...)`` puts a used env in the same state as a new one.
    """

    __slots__ = ("idle", "lock", "metadata", "specs", "validate")

    def __init__(self, specs: dict[str, AgentSpec] | None = None, metadata: dict[str, Any] | None = None):
        self.lock = threading.Lock()
        self.specs = specs
        self.metadata = metadata
        self.idle: dict[bool, list[gym.Env]] = {False: [], True: []}
        self.validate: Callable[..., Any] | None = None  # the action validator, made once

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (to serve from another process) without the lock and the live envs."""
        return (_Shared, (self.specs, self.metadata))

    def take(self, rendering: bool) -> gym.Env | None:
        with self.lock:
            pool = self.idle[rendering]
            return pool.pop() if pool else None

    def give(self, env: gym.Env, rendering: bool) -> None:
        with self.lock:
            pool = self.idle[rendering]
            if len(pool) < POOL_SIZE:
                pool.append(env)
                return
        env.close()

    def drain(self) -> None:
        with self.lock:
            envs = self.idle[False] + self.idle[True]
            self.idle = {False: [], True: []}
        for env in envs:
            env.close()


class Gymnasium(Environment):
    """A Gymnasium env by id (``"CartPole-v1"``, ``"module:Id-v0"``) or factory callable.

    ``render=True`` makes the env with ``render_mode="rgb_array"`` and attaches a frame to
    every step; a trial whose context asks for rendering gets frames too. Each trial is
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
        elif not callable(env_id):
            raise TypeError(f"env_id must be a Gymnasium id or a callable returning a gym.Env, got {env_id!r}")
        self.env_id = env_id
        self.registration = registration
        self.render = bool(render or mode == "rgb_array")
        self.reset_options = dict(reset_options) if reset_options else None
        self.max_episode_steps = max_episode_steps
        self.seed: int | None = None  # the seed of the current trial (set by reset)
        self.env: gym.Env | None = None  # the gym env of this trial (forks only)
        self._shared = _Shared()
        self.reuse = reuse
        self._is_fork = False
        self._broken = False
        self._rendering = False
        self._validate: Callable[..., Any] | None = None

    # -- construction -----------------------------------------------------------------------

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

    def _probe(self) -> None:
        """Read spaces and metadata from one env, kept to serve the first trial."""
        shared = self._shared
        with shared.lock:
            if shared.specs is not None:
                return
            env = self._make(self.render)
            shared.metadata = dict(env.metadata or {})
            shared.idle[self.render].append(env)
            shared.specs = {AGENT: AgentSpec(env.observation_space, env.action_space)}

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        if self._shared.specs is None:
            self._probe()
        return self._shared.specs  # type: ignore[return-value]

    @property
    def metadata(self) -> dict[str, Any]:
        if self._shared.metadata is None:
            self._probe()
        return self._shared.metadata  # type: ignore[return-value]

    @property
    def render_fps(self) -> float | None:  # type: ignore[override]
        fps = self.metadata.get("render_fps")
        return float(fps) if fps else None

    def fork(self) -> Gymnasium:
        """A fresh instance for one trial; its gym env is made at its first ``reset``."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)  # not copy.copy: __getstate__ drops the shared pool
        clone.env = None
        clone.seed = None
        clone._is_fork = True
        return clone

    # -- trial ------------------------------------------------------------------------------

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        rendering = self.render or context.render
        if self.env is None or rendering != self._rendering:
            self._release()
            env = self._shared.take(rendering) if self.reuse else None
            self.env = env if env is not None else self._make(rendering)
            self._rendering = rendering
            self._broken = False
        env = self.env
        if self._validate is None:
            shared = self._shared
            if shared.validate is None:
                shared.validate = _Validator(self.agent_specs[AGENT].action_space).validate
            self._validate = shared.validate
        self.seed = seed = context.seed if context.seed is not None else _fresh_seed()
        opts = {**(self.reset_options or {}), **(options or {})} or None
        obs, info = env.reset(seed=seed, options=opts)
        info = dict(info)
        info["seed"] = seed
        mask = info.get("action_mask")
        return StepResult(
            {AGENT: obs},
            info=info,
            frame=env.render() if rendering else None,
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
        action = self._validate(action, "action")  # type: ignore[misc]
        try:
            obs, reward, terminated, truncated, info = env.step(action)
        except BaseException:
            self._broken = True  # never hand a half-stepped env to another trial
            raise
        terminated = bool(terminated)
        truncated = bool(truncated)
        mask = info.get("action_mask") if info else None
        return StepResult(
            {AGENT: obs},
            {AGENT: float(reward)},
            {AGENT: terminated},
            {AGENT: truncated},
            info,
            None,
            terminated or truncated,
            env.render() if self._rendering else None,
            {AGENT: mask} if mask is not None else {},
        )

    def _release(self) -> None:
        env, self.env = self.env, None
        if env is None:
            return
        if self.reuse and not self._broken:
            self._shared.give(env, self._rendering)
        else:
            env.close()

    def close(self) -> None:
        """End of a trial: the gym env goes back to the template's pool (or is closed when
        ``reuse=False``). On the template itself, also close the idle envs."""
        self._release()
        if not self._is_fork:
            self._shared.drain()

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (to serve it from another process): live envs and locks stay here."""
        state = dict(self.__dict__)
        state["env"] = None
        state["_shared"] = _Shared(self._shared.specs, self._shared.metadata)
        return state

    def __repr__(self) -> str:
        name = self.env_id if isinstance(self.env_id, str) else getattr(self.env_id, "__name__", repr(self.env_id))
        return f"Gymnasium({name!r}{', render=True' if self.render else ''})"
