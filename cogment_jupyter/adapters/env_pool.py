"""Templates of third-party envs (Gymnasium, PettingZoo) that forks make and reuse per trial.

The object users build is a template: it reads the spaces once (so ``agent_specs`` works
before any trial) and every trial runs on a ``fork()`` that takes an env on its first reset.
A finished trial's env goes back to a pool shared by the template and its forks: making an
env (``gym.make``) costs as much as a short episode, while
``reset(seed=...)`` puts a used env in the same state as a new one.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from cogment_jupyter.adapters.base import AgentSpec, Environment, TrialContext
from cogment_jupyter.adapters.frame_size import frame_size
from cogment_jupyter.engine.ids import new_seed

#: Idle envs kept per template and render mode for later trials.
POOL_SIZE = 32


class SharedPool:
    """What a template and its forks share: the spaces, read once, and the idle envs."""

    __slots__ = ("idle", "lock", "metadata", "specs", "validate")

    def __init__(self, specs: dict[str, AgentSpec] | None = None, metadata: dict[str, Any] | None = None):
        self.lock = threading.Lock()
        self.specs = specs
        self.metadata = metadata
        self.idle: dict[bool, list[Any]] = {False: [], True: []}
        self.validate: Callable[..., Any] | None = None  # an action validator, made once

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (to serve from another process) without the lock and the live envs."""
        return (SharedPool, (self.specs, self.metadata))

    def take(self, rendering: bool) -> Any:
        with self.lock:
            pool = self.idle[rendering]
            return pool.pop() if pool else None

    def give(self, env: Any, rendering: bool) -> None:
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


class PooledEnvironment(Environment):
    """Spaces read once, per-trial envs from a shared pool, recorded seeds.

    Subclasses make envs (``_make``) and read their agents' spaces (``_read_specs``).
    """

    render: bool
    reuse: bool
    reset_options: dict[str, Any] | None

    def _init_pool(
        self,
        render: bool,
        reset_options: Mapping[str, Any] | None,
        reuse: bool,
        render_width: int | None = None,
        render_height: int | None = None,
    ) -> None:
        size = frame_size(render_width, render_height)  # (checks them)
        self.render_width = size.width if size else 0
        self.render_height = size.height if size else 0
        self.render = render
        self.reset_options = dict(reset_options) if reset_options else None
        self.reuse = reuse
        self.seed: int | None = None  # the seed of the current trial (set by reset)
        self.env: Any = None  # the env of this trial (forks only)
        self._shared = SharedPool()
        self._is_fork = False
        self._broken = False
        self._rendering = False

    @abstractmethod
    def _make(self, render: bool) -> Any: ...

    @abstractmethod
    def _read_specs(self, env: Any) -> dict[str, AgentSpec]: ...

    def _probe(self) -> None:
        """Read spaces and metadata from one env, kept to serve the first trial."""
        shared = self._shared
        with shared.lock:
            if shared.specs is not None:
                return
            env = self._make(self.render)
            shared.metadata = dict(getattr(env, "metadata", None) or {})
            shared.idle[self.render].append(env)
            shared.specs = self._read_specs(env)

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

    def env_convention(self, method: str) -> Any:
        """What the third-party env's own ``method()`` returns (Gymnasium's
        ``get_keys_to_action``, ALE's ``get_action_meanings``), or None when it has no such method."""
        shared = self._shared
        self._probe()
        env = shared.take(self.render) or self._make(self.render)
        try:
            for candidate in (env, getattr(env, "unwrapped", None)):
                found = getattr(candidate, method, None)
                if callable(found):
                    return found()
            return None
        finally:
            shared.give(env, self.render)

    def fork(self) -> PooledEnvironment:
        """A fresh instance for one trial; its env is taken at its first ``reset``."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.env = None
        clone.seed = None
        clone._is_fork = True
        return clone

    def _begin(self, context: TrialContext, options: Mapping[str, Any] | None) -> tuple[Any, int, Any]:
        """The trial's env (rendering if asked), its seed (fresh unless given) and reset options."""
        rendering = self.render or context.render
        if self.env is None or rendering != self._rendering:
            self._release()
            env = self._shared.take(rendering) if self.reuse else None
            self.env = env if env is not None else self._make(rendering)
            self._rendering = rendering
            self._broken = False
        self.seed = seed = context.seed if context.seed is not None else new_seed()
        opts = {**(self.reset_options or {}), **(options or {})} or None
        return self.env, seed, opts

    def _release(self) -> None:
        env, self.env = self.env, None
        if env is None:
            return
        if self.reuse and not self._broken:
            self._shared.give(env, self._rendering)
        else:
            env.close()

    def close(self) -> None:
        """End of a trial: the env goes back to the template's pool (or is closed when
        ``reuse=False`` or it broke). On the template itself, also close the idle envs."""
        self._release()
        if not self._is_fork:
            self._shared.drain()

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (to serve it from another process): the live env stays here."""
        state = dict(self.__dict__)
        state["env"] = None
        return state
