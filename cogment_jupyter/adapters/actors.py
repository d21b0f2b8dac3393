"""Built-in actors: Random, Constant, Policy (any callable) and Torch (optional torch).

Action masks: an actor whose ``uses_action_mask`` is true takes ``act(observation, frame,
action_mask=...)``; the runtime passes the environment's mask for the agent there. An
observation that is a dict with an ``"action_mask"`` entry (PettingZoo style) is honoured
too, so masked games work whether or not the runtime forwards masks.
"""

from __future__ import annotations

import copy
import inspect
import zlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from cogment_jupyter.adapters.base import Actor, AgentSpec, TrialContext
from cogment_jupyter.adapters.codec import SpaceFormatError, codec_for

__all__ = ["Constant", "Policy", "Random", "Torch"]

_BATCH = 256


def _seed_sequence(
    own: int | None, context_seed: int | None, agent: str, fork_index: int
) -> np.random.SeedSequence:
    """Seeded trials are reproducible whatever the fork order; unseeded ones all differ."""
    agent_key = zlib.crc32(agent.encode())
    if context_seed is not None:
        return np.random.SeedSequence(
            [context_seed & 0xFFFFFFFFFFFFFFFF, agent_key, 0 if own is None else own + 1]
        )
    if own is not None:
        return np.random.SeedSequence([own, fork_index, agent_key])
    return np.random.SeedSequence()


def _mask_from(observation: Any, action_mask: Any, mask_key: str | None) -> Any:
    if action_mask is None and mask_key is not None and isinstance(observation, Mapping):
        return observation.get(mask_key)
    return action_mask


def _mask_key(spec: AgentSpec) -> str | None:
    obs = spec.observation_space
    return "action_mask" if isinstance(obs, gym.spaces.Dict) and "action_mask" in obs.spaces else None


class _Seeded(Actor):
    """An actor with its own random generator per trial (``fork()``)."""

    uses_action_mask: ClassVar[bool] = True

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._forks = 0
        self._fork_index = 0
        self.rng = np.random.default_rng(seed)

    def fork(self) -> Actor:
        child = copy.copy(self)
        child._fork_index = self._forks
        self._forks += 1
        return child


class Random(_Seeded):
    """Uniform random actions from the agent's action space, honouring action masks.

    ``Random(seed=s)`` replays the same actions for the same sequence of trials; a trial
    with a seed gets the same actions whenever it is replayed. Discrete actions are drawn
    in batches (a list pop per step: cheaper than ``action_space.sample()``).
    """

    def __init__(self, seed: int | None = None, action_space: gym.Space | None = None) -> None:
        super().__init__(seed)
        self._space: gym.Space | None = None
        self._mask_key: str | None = None
        self._buf: list[int] = []
        self._i = 0
        self._lo = self._hi = 0
        if action_space is not None:
            self._setup(action_space, np.random.SeedSequence(seed))

    def _setup(self, space: gym.Space, ss: np.random.SeedSequence) -> None:
        rng_ss, space_ss = ss.spawn(2)
        self.rng = np.random.default_rng(rng_ss)
        self._space = copy.deepcopy(space)
        self._space.seed(int(space_ss.generate_state(1)[0]))
        self._buf, self._i = [], 0
        if isinstance(space, gym.spaces.Discrete):
            self._lo = int(space.start)
            self._hi = self._lo + int(space.n)
        else:
            self._lo = self._hi = 0

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self._setup(spec.action_space, _seed_sequence(self.seed, context.seed, agent, self._fork_index))
        self._mask_key = _mask_key(spec)

    def act(self, observation: Any, frame: np.ndarray | None = None, action_mask: Any = None) -> Any:
        if action_mask is None and self._mask_key is None and self._hi:
            i = self._i
            if i >= len(self._buf):
                self._buf = self.rng.integers(self._lo, self._hi, _BATCH).tolist()
                i = 0
            self._i = i + 1
            return self._buf[i]
        space = self._space
        if space is None:
            raise RuntimeError("Random.act() before reset(): pass action_space=... to use it on its own")
        mask = _mask_from(observation, action_mask, self._mask_key)
        if mask is None:
            return space.sample()
        if isinstance(space, gym.spaces.MultiDiscrete):
            return space.sample(mask=tuple(np.asarray(m, dtype=np.int8) for m in mask))
        return space.sample(mask=np.asarray(mask, dtype=np.int8))


class Constant(Actor):
    """Always the same action (checked against the action space when a trial starts)."""

    def __init__(self, action: Any) -> None:
        self.action = np.array(action) if isinstance(action, list) else action

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        try:
            validate = codec_for(spec.action_space).validate
        except SpaceFormatError:
            return
        self.action = validate(self.action, f"Constant action of agent {agent!r}")

    def act(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        return self.action

    def __repr__(self) -> str:
        return f"Constant({self.action!r})"


class Policy(Actor):
    """Any callable ``observation -> action`` (function, lambda, closure, bound method, or an
    ``async def`` for policies that wait on something)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Policy needs a callable observation -> action, got {fn!r}")
        self.fn = fn
        if inspect.iscoroutinefunction(fn):
            self.act = self._act_async  # type: ignore[method-assign]

    def act(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        return self.fn(observation)

    async def _act_async(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        return await self.fn(observation)

    def __repr__(self) -> str:
        return f"Policy({getattr(self.fn, '__qualname__', self.fn)!r})"


_MODES = ("greedy", "epsilon", "boltzmann")


class Torch(_Seeded):
    """A ``torch.nn.Module`` as an actor: it is called on the observation (batch of one) and
    its output read as Q-values/logits for Discrete actions, or as the action itself for Box.

    ``mode``: ``"greedy"`` (argmax), ``"epsilon"`` (a random action with probability
    ``epsilon``), ``"boltzmann"`` (sample ``softmax(output / temperature)``). The module is used
    live, never copied or moved, so training it in the notebook changes what the actor does
    at once; calls run under ``torch.no_grad()`` and leave its train/eval mode alone.
    """

    def __init__(
        self,
        module: Any,
        mode: str = "greedy",
        *,
        epsilon: float = 0.0,
        temperature: float = 1.0,
        device: str | None = "cpu",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}: use one of {_MODES}")
        if not callable(module):
            raise TypeError(
                f"Torch needs a torch.nn.Module (or any tensor -> tensor callable), got {module!r}"
            )
        self.module = module
        self.mode = mode
        self.set_epsilon(epsilon)
        self.set_temperature(temperature)
        self.device = device
        self._space: gym.Space | None = None
        self._mask_key: str | None = None
        self._torch: Any = None

    def set_epsilon(self, epsilon: float) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        self.epsilon = float(epsilon)

    def set_temperature(self, temperature: float) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature} (use mode='greedy' for 0)")
        self.temperature = float(temperature)

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        try:
            import torch
        except ImportError as e:
            raise ImportError("the Torch actor needs PyTorch: pip install torch") from e
        self._torch = torch
        space = spec.action_space
        if not isinstance(space, gym.spaces.Discrete | gym.spaces.Box):
            raise ValueError(f"the Torch actor supports Discrete and Box action spaces, not {space}")
        if isinstance(space, gym.spaces.Box) and self.mode == "boltzmann":
            raise ValueError(
                "mode='boltzmann' needs a Discrete action space; use 'greedy' or 'epsilon' for Box"
            )
        rng_ss, space_ss = _seed_sequence(self.seed, context.seed, agent, self._fork_index).spawn(2)
        self.rng = np.random.default_rng(rng_ss)
        self._space = copy.deepcopy(space)
        self._space.seed(int(space_ss.generate_state(1)[0]))
        self._mask_key = _mask_key(spec)

    def _tensor(self, x: Any) -> Any:
        torch = self._torch
        if isinstance(x, Mapping):
            return {k: self._tensor(v) for k, v in x.items() if k != self._mask_key}
        if isinstance(x, tuple):
            return tuple(self._tensor(v) for v in x)
        a = np.asarray(x)
        t = torch.as_tensor(a, dtype=torch.float32 if a.dtype.kind in "fbiu" else None)
        if self.device is not None:
            t = t.to(self.device)
        return t.unsqueeze(0)

    def act(self, observation: Any, frame: np.ndarray | None = None, action_mask: Any = None) -> Any:
        space = self._space
        if space is None:
            raise RuntimeError("Torch.act() before reset(): the runtime calls reset() when a trial starts")
        mask = _mask_from(observation, action_mask, self._mask_key)
        obs = observation
        if self._mask_key is not None and isinstance(observation, Mapping) and "observation" in observation:
            obs = observation["observation"]  # PettingZoo style {"observation", "action_mask"}
        if self.mode == "epsilon" and self.epsilon > 0 and self.rng.random() < self.epsilon:
            if mask is not None and isinstance(space, gym.spaces.Discrete):
                return space.sample(mask=np.asarray(mask, dtype=np.int8))
            return space.sample()
        with self._torch.no_grad():
            out = self.module(self._tensor(obs))
        if isinstance(out, tuple | list):
            out = out[0]
        out = out.detach().to("cpu").numpy()
        if isinstance(space, gym.spaces.Box):
            return np.clip(out.reshape(space.shape), space.low, space.high).astype(space.dtype)
        logits = out.reshape(-1).astype(np.float64)
        if logits.size != space.n:
            raise ValueError(
                f"the module returned {logits.size} values for {space}: its output needs {space.n} units"
            )
        if mask is not None:
            logits = np.where(np.asarray(mask).reshape(-1) != 0, logits, -np.inf)
        if self.mode == "boltzmann":
            z = logits / self.temperature
            z = np.exp(z - z.max())
            return int(space.start) + int(self.rng.choice(space.n, p=z / z.sum()))
        return int(space.start) + int(np.argmax(logits))

    def __repr__(self) -> str:
        return f"Torch({type(self.module).__name__}, mode={self.mode!r})"
