"""Built-in actors: Random, Constant, Policy (any callable) and Torch (optional torch).

Action masks: an actor whose ``uses_action_mask`` is true takes ``act(observation, frame,
action_mask=...)``; the runtime passes the environment's mask for the agent there. An
observation that is a dict with an ``"action_mask"`` entry (PettingZoo style) is honoured
too, so masked games work whether or not the runtime forwards masks.
"""

from __future__ import annotations

import copy
import inspect
import random
import weakref
import zlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from cogment_jupyter.adapters.base import Actor, AgentSpec, TrialContext
from cogment_jupyter.adapters.codec import SpaceFormatError, codec_for

__all__ = ["Constant", "Policy", "Random", "Torch"]

_M64 = (1 << 64) - 1


def _mix(*parts: int) -> int:
    """A 64-bit seed from integers (splitmix64 steps): deterministic across processes, and cheap."""
    return _mixed(0x9E3779B97F4A7C15, parts)


def _mixed(h: int, parts: tuple[int, ...]) -> int:
    """``h`` mixed with ``parts``, one splitmix64 step each (see :func:`_mix`)."""
    for p in parts:
        h = ((h ^ (p & _M64)) * 0xBF58476D1CE4E5B9) & _M64
        h = ((h ^ (h >> 31)) * 0x94D049BB133111EB) & _M64
        h ^= h >> 29
    return h


#: the mixing state after the first part of a trial's seed (1) and of an actor's own (2)
_TRIAL_SEEDED, _OWN_SEEDED = _mix(1), _mix(2)
#: agent name -> its key in seeds (a crc32), for the agents seen lately
_agent_keys: dict[str, int] = {}


def derive_seed(own: int | None, context_seed: int | None, agent: str, fork_index: int) -> int | None:
    """The 64-bit seed of one actor in one trial (``None``: unseeded, draw fresh entropy).

    A trial with a seed gets the same one whenever it is replayed (whatever the fork order);
    ``own`` alone (``Random(seed=s)``) gives the same sequence of trials.
    """
    if context_seed is None and own is None:
        return None
    agent_key = _agent_keys.get(agent)
    if agent_key is None:
        if len(_agent_keys) >= 1024:
            _agent_keys.clear()
        agent_key = _agent_keys[agent] = zlib.crc32(agent.encode())
    if context_seed is not None:
        return _mixed(_TRIAL_SEEDED, (context_seed, agent_key, 0 if own is None else own + 1))
    return _mixed(_OWN_SEEDED, (own, fork_index, agent_key))  # type: ignore[arg-type]


def _mask_from(observation: Any, action_mask: Any, mask_key: str | None) -> Any:
    if action_mask is None and mask_key is not None and isinstance(observation, Mapping):
        return observation.get(mask_key)
    return action_mask


def _mask_key(spec: AgentSpec) -> str | None:
    obs = spec.observation_space
    return "action_mask" if isinstance(obs, gym.spaces.Dict) and "action_mask" in obs.spaces else None


def _seeded_space(space: gym.Space, seed: int) -> gym.Space:
    own = copy.deepcopy(space)
    own.seed(seed)
    return own


def _integer_range(space: gym.Space) -> tuple[int, int]:
    """(lowest action, how many) of a discrete space whose actions a :class:`Random` actor
    draws as integers; (0, 0) for the others (drawn by a seeded copy of the space)."""
    if isinstance(space, gym.spaces.Discrete) and int(space.n) <= 1 << 32:
        return int(space.start), int(space.n)
    return 0, 0


#: how a :class:`Random` actor draws the actions of an agent's spec, by spec (the trials of a
#: batch share theirs, so each trial's reset only seeds): (spec, lowest, how many, mask key)
_drawings: dict[int, tuple[AgentSpec, int, int, str | None]] = {}


def _drawing_of(spec: AgentSpec) -> tuple[AgentSpec, int, int, str | None]:
    """(``spec``, its :func:`_integer_range`, its :func:`_mask_key`), worked out once per spec
    (an entry holds its spec: its id is not reused while the entry is kept)."""
    drawing = _drawings.get(id(spec))
    if drawing is None or drawing[0] is not spec:
        if len(_drawings) >= 256:
            _drawings.clear()
        drawing = _drawings[id(spec)] = (spec, *_integer_range(spec.action_space), _mask_key(spec))
    return drawing


class _Seeded(Actor):
    """An actor with its own random state per trial: ``fork()``, then ``reset`` seeds it."""

    uses_action_mask: ClassVar[bool] = True

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._forks = 0
        self._fork_index = 0
        # Unseeded trials share this stream: seeding a generator per trial costs as much as a
        # short episode (docs/decisions/hot-path-costs.md), and there is nothing to reproduce.
        self._entropy = random.Random()
        self.trial_seed: int | None = None
        self._rng: np.random.Generator | None = None

    def fork(self) -> Actor:
        child = object.__new__(type(self))
        child.__dict__.update(self.__dict__)
        child._fork_index = self._forks
        self._forks += 1
        return child

    def _reseed(self, agent: str, context: TrialContext) -> None:
        self.trial_seed = derive_seed(self.seed, context.seed, agent, self._fork_index)
        self._rng = None

    def _seed_value(self) -> int:
        """This trial's seed, or fresh entropy for an unseeded trial."""
        return self._entropy.getrandbits(64) if self.trial_seed is None else self.trial_seed

    def _stream(self) -> Callable[[], float]:
        """``random()`` of this trial's Python generator."""
        return self._entropy.random if self.trial_seed is None else random.Random(self.trial_seed).random

    @property
    def rng(self) -> np.random.Generator:
        """This trial's numpy generator (made on first use: making one costs as much as a short episode)."""
        if self._rng is None:
            self._rng = np.random.default_rng(self._seed_value())
        return self._rng


class Random(_Seeded):
    """Uniform random actions from the agent's action space, honouring action masks.

    Discrete actions without a mask come from Python's ``random`` (a tenth of the cost of
    ``action_space.sample()``); other spaces and masked draws use a seeded copy of the
    space's ``sample``. See :func:`derive_seed` for reproducibility.
    """

    def __init__(self, seed: int | None = None, action_space: gym.Space | None = None) -> None:
        super().__init__(seed)
        self._action_space: gym.Space | None = None
        self._space: gym.Space | None = None  # seeded copy, made when first needed
        self._mask_key: str | None = None
        self._random: Callable[[], float] | None = None
        self._lo = self._n = 0
        if action_space is not None:
            self.trial_seed = self.seed
            self._setup(action_space, *_integer_range(action_space))

    def _setup(self, space: gym.Space, lo: int, n: int) -> None:
        """Act in ``space``; ``lo``, ``n``: its range when its actions are drawn as integers
        (:func:`_integer_range`)."""
        self._action_space = space
        self._space = None
        self._lo, self._n = lo, n
        self._random = self._stream() if n else None

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self._reseed(agent, context)
        _, lo, n, self._mask_key = _drawing_of(spec)
        self._setup(spec.action_space, lo, n)

    def act(self, observation: Any, frame: np.ndarray | None = None, action_mask: Any = None) -> Any:
        if self._n and action_mask is None and self._mask_key is None:
            return self._lo + int(self._random() * self._n)  # type: ignore[misc]
        space = self._space
        if space is None:
            if self._action_space is None:
                raise RuntimeError("Random.act() before reset(): pass action_space=... to use it on its own")
            space = self._space = _seeded_space(self._action_space, self._seed_value())
        mask = _mask_from(observation, action_mask, self._mask_key)
        if mask is None:
            return space.sample()
        if isinstance(space, gym.spaces.MultiDiscrete):
            return space.sample(mask=tuple(np.asarray(m, dtype=np.int8) for m in mask))
        return space.sample(mask=np.asarray(mask, dtype=np.int8))


class _FollowsModel:
    """An actor acting with the latest iteration of a model in a model registry.

    The registry's iterations are loaded in the background (``model_registry.follow``); the
    actor takes the newest one before each action, so new iterations are picked up between
    ticks. Until the first one is loaded the actor waits for it (``wait`` seconds at most).
    """

    model: str | None
    registry: str | None

    def _init_model(self, model: str | None, registry: str | None, wait: float) -> None:
        if model is not None and (not isinstance(model, str) or not model):
            raise ValueError(f"model= takes the name of a model in the registry, got {model!r}")
        self.model = model
        self.registry = registry
        self.wait = float(wait)
        self._spool_dir: str | None = None
        self._latest: Any = None
        self._seen = 0
        self._seen_from: Any = None
        self._adopted: Any = None
        #: the iteration this actor acts with (None before the first one)
        self.iteration: int | None = None

    def bind_registry(self, endpoint: str, spool_dir: str | None = None) -> None:
        """Where ``model`` lives, when not given (the lab serving the actor says)."""
        if self.registry is None:
            self.registry = endpoint
        self._spool_dir = spool_dir

    def _follow(self) -> None:
        """Start (or join) the background follower of the model, on the running loop."""
        if self.model is None:
            return
        if self.registry is None:
            raise ValueError(
                f"this actor follows model {self.model!r} but knows no model registry: serve it from a lab "
                "(lab.serve_actor), or give registry='grpc://HOST:PORT'"
            )
        from cogment_jupyter.model_registry.follow import LatestModel

        if self._latest is None or not self._latest.alive:  # (a follower stops with its lab's loop)
            self._latest = LatestModel.follow(self.registry, self.model, self._spool_dir)

    def _refresh(self) -> bool:
        """Take a newer iteration if one was loaded; whether the actor has one to act with."""
        latest = self._latest
        if latest.version != self._seen or latest is not self._seen_from:
            if not latest.alive:
                self._follow()
                latest = self._latest
            version, info, value = latest.snapshot()
            if info is not None and info is not self._adopted:
                self._adopt(value)
                self._adopted, self.iteration = info, info.version_number
            if info is not None:
                self._seen, self._seen_from = version, latest
        return self.iteration is not None

    async def _act_when_loaded(self, *args: Any, **kwargs: Any) -> Any:
        await self._latest.await_first(self.wait)
        self._refresh()
        return self._act(*args, **kwargs)

    def _adopt(self, value: Any) -> None:
        raise NotImplementedError

    def _act(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        """Sent to another process without its follower (that process follows on its own)."""
        state = dict(self.__dict__)
        state.update(_latest=None, _seen=0, _seen_from=None, _adopted=None, iteration=None)
        return state


class Constant(Actor):
    """Always the same action (checked against the action space when a trial starts)."""

    def __init__(self, action: Any) -> None:
        self.action = np.array(action) if isinstance(action, list) else action

    def fork(self) -> Actor:
        return copy.copy(self)  # reset stores the action converted for this trial's space

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


class Policy(_FollowsModel, Actor):
    """Any callable ``observation -> action`` (function, lambda, closure, bound method, or an
    ``async def`` for policies that wait on something).

    With ``model="name"`` the callable takes ``(observation, weights)``: ``weights`` is the
    latest iteration of that model in the lab's model registry, as ``lab.models.load`` gives it
    (an array, a dict of arrays, bytes...), and a newer iteration is used from the next tick on.
    """

    def __init__(
        self, fn: Callable[..., Any], *, model: str | None = None, registry: str | None = None, wait: float = 60.0
    ) -> None:
        if not callable(fn):
            raise TypeError(f"Policy needs a callable observation -> action, got {fn!r}")
        self.fn = fn
        self._init_model(model, registry, wait)
        self.weights: Any = None
        if inspect.iscoroutinefunction(fn):
            self.act = self._act_async  # type: ignore[method-assign]
        elif model is not None:
            self.act = self._act_following  # type: ignore[method-assign]

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self._follow()

    def act(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        return self.fn(observation)

    def _act_following(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        if not self._refresh():
            return self._act_when_loaded(observation)
        return self.fn(observation, self.weights)

    def _act(self, observation: Any) -> Any:
        return self.fn(observation, self.weights)

    def _adopt(self, value: Any) -> None:
        self.weights = value

    async def _act_async(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        if self.model is None:
            return await self.fn(observation)
        if not self._refresh():
            await self._latest.await_first(self.wait)
            self._refresh()
        return await self.fn(observation, self.weights)

    def __repr__(self) -> str:
        following = f", model={self.model!r}" if self.model else ""
        return f"Policy({getattr(self.fn, '__qualname__', self.fn)!r}{following})"


def as_actor(actor: Actor | Callable[[Any], Any], caller: str) -> Actor:
    """An actor as given, or a plain callable ``observation -> action`` as a :class:`Policy`
    (``caller`` names the function that was given something else, in the error)."""
    if isinstance(actor, Actor):
        return actor
    if not callable(actor):
        raise TypeError(f"{caller}() takes an Actor or a callable, got {type(actor).__name__}")
    return Policy(actor)


_MODES = ("greedy", "epsilon", "boltzmann")
#: module -> (follower, version) last loaded into it: forks of one actor share their module
_LOADED: weakref.WeakKeyDictionary[Any, tuple[int, int]] = weakref.WeakKeyDictionary()


class Torch(_FollowsModel, _Seeded):
    """A ``torch.nn.Module`` as an actor: it is called on the observation (batch of one) and
    its output read as Q-values/logits for Discrete actions, or as the action itself for Box.

    ``model="name"`` acts with the latest iteration of that model in the lab's model registry,
    a newer one from the next tick on: published modules come back as TorchScript, so no module
    is needed (``Torch(model="teacher")``); give one to load each iteration's weights into it
    (``Torch(QNet(), model="teacher")``: needed when only a state dict was published).

    ``mode``: ``"greedy"`` (argmax), ``"epsilon"`` (a random action with probability
    ``epsilon``), ``"boltzmann"`` (sample ``softmax(output / temperature)``). The module is used
    live, never copied or moved, so training it in the notebook changes what the actor does
    at once; calls run under ``torch.no_grad()`` and leave its train/eval mode alone.
    Observations go to ``device`` (``None``: the device of the module's parameters).
    """

    def __init__(
        self,
        module: Any = None,
        mode: str = "greedy",
        *,
        model: str | None = None,
        registry: str | None = None,
        wait: float = 60.0,
        epsilon: float = 0.0,
        temperature: float = 1.0,
        device: str | None = "cpu",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}: use one of {_MODES}")
        if module is None and model is None:
            raise TypeError("Torch needs a torch.nn.Module, or model='name' to act with a model of the registry")
        if module is not None and not callable(module):
            raise TypeError(f"Torch needs a torch.nn.Module (or any tensor -> tensor callable), got {module!r}")
        self._init_model(model, registry, wait)
        self.module = module
        self._given_module = module
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
            raise ValueError("mode='boltzmann' needs a Discrete action space; use 'greedy' or 'epsilon' for Box")
        self._reseed(agent, context)
        self._space = _seeded_space(space, _mix(self._seed_value(), 1))
        self._mask_key = _mask_key(spec)
        self._follow()

    def _adopt(self, value: Any) -> None:
        """A new iteration: the module itself (TorchScript), or weights for the given module."""
        if self._given_module is None:
            if not callable(value):
                raise ValueError(
                    f"iteration of model {self.model!r} holds weights only (a state dict): give the module to load "
                    f"them into, actors.Torch(YourNet(), model={self.model!r})"
                )
            self.module = value
            return
        if _LOADED.get(self._given_module) == (id(self._latest), self._latest.version):
            return  # another trial's actor already loaded this iteration into the shared module
        state = value.state_dict() if hasattr(value, "state_dict") else value
        self._given_module.load_state_dict(state)
        _LOADED[self._given_module] = (id(self._latest), self._latest.version)

    def _tensor(self, x: Any) -> Any:
        torch = self._torch
        if isinstance(x, Mapping):
            return {k: self._tensor(v) for k, v in x.items() if k != self._mask_key}
        if isinstance(x, tuple):
            return tuple(self._tensor(v) for v in x)
        a = np.asarray(x)
        t = torch.as_tensor(a, dtype=torch.float32 if a.dtype.kind in "fbiu" else None)
        device = self.device
        if device is None:  # follow the module, wherever training moved it
            first = next(iter(getattr(self.module, "parameters", tuple)()), None)
            device = None if first is None else first.device
        if device is not None:
            t = t.to(device)
        return t.unsqueeze(0)

    def act(self, observation: Any, frame: np.ndarray | None = None, action_mask: Any = None) -> Any:
        if self._latest is not None and not self._refresh():
            return self._act_when_loaded(observation, frame, action_mask)
        return self._act(observation, frame, action_mask)

    def _act(self, observation: Any, frame: np.ndarray | None = None, action_mask: Any = None) -> Any:
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
            raise ValueError(f"the module returned {logits.size} values for {space}: its output needs {space.n} units")
        if mask is not None:
            logits = np.where(np.asarray(mask).reshape(-1) != 0, logits, -np.inf)
        if self.mode == "boltzmann":
            z = logits / self.temperature
            z = np.exp(z - z.max())
            return int(space.start) + int(self.rng.choice(space.n, p=z / z.sum()))
        return int(space.start) + int(np.argmax(logits))

    def __repr__(self) -> str:
        following = f", model={self.model!r}" if self.model else ""
        return f"Torch({type(self.module).__name__}, mode={self.mode!r}{following})"
