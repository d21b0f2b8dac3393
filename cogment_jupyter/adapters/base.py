"""The Gymnasium-style contracts every in-kernel environment and actor follows.

The lab turns these objects into engine components (``transport.inprocess``) or serves
them over Cogment gRPC; the objects themselves never see Cogment messages. Values are plain
Python/numpy values shaped by the agent's gymnasium spaces.

Environments are multi-agent by nature (a single-agent Gymnasium env has one agent, named
``"gym"`` as in Cogment Lab). ``step`` receives the actions of the agents that were asked to
act (``StepResult.acting``), which is how turn-based (PettingZoo AEC) games fit the same
contract as simultaneous ones.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """The spaces an agent sees and acts in."""

    observation_space: gym.Space
    action_space: gym.Space


def agents_mismatch(names: Iterable[str], specs: Mapping[str, Any], unknown: str, missing: str) -> str:
    """What keeps ``names`` from being exactly the agents of ``specs``, for an error message:
    ``"; <unknown>: [...]"`` and ``"; <missing>: [...]"`` as they apply ("" when they match)."""
    names = list(names)
    extra = [name for name in names if name not in specs]
    absent = [agent for agent in specs if agent not in names]
    return (f"; {unknown}: {extra}" if extra else "") + (f"; {missing}: {absent}" if absent else "")


@dataclass(slots=True)
class StepResult:
    """What an environment returns from ``reset`` and ``step``.

    ``observations`` has an entry for every agent (``None`` for an agent that observes
    nothing this tick). ``acting`` lists the agents whose action is wanted next (default:
    all agents); the others receive their observation flagged inactive and answer ``None``.
    ``done`` ends the trial after these observations.
    """

    observations: dict[str, Any]
    rewards: dict[str, float] = field(default_factory=dict)
    terminated: dict[str, bool] = field(default_factory=dict)
    truncated: dict[str, bool] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    acting: list[str] | None = None
    done: bool = False
    frame: np.ndarray | None = None
    action_masks: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrialContext:
    """What a component knows about the trial it runs in, and how it talks to the others.

    ``send_reward(value, to, confidence=1.0, user_data=None)`` gives other actors a reward
    for the current tick (``to``: a name, ``"*"``, ``"class.*"`` or a list of those);
    ``send_message(payload, to)`` sends them (or the environment, by its name ``"env"``) a
    message. Both are thread-safe (widget callbacks may call them) and are ``None`` where
    the component cannot send (e.g. an environment). ``render_width`` / ``render_height``: the
    frame size the trial asked for (0: not asked); the lab resamples frames to it itself.
    """

    trial_id: str
    seed: int | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    render: bool = False
    agent: str = ""
    send_reward: Callable[..., None] | None = None
    send_message: Callable[..., None] | None = None
    render_width: int = 0
    render_height: int = 0


class Environment(ABC):
    """A (multi-agent) environment. The served object is a template: every trial runs on
    its own ``fork()``, so concurrent trials never share state."""

    #: Rendering frames per second the environment was designed for (play widget default).
    render_fps: float | None = None
    #: The size its frames are brought to unless a trial asks for another (0: as rendered; one
    #: side alone keeps the aspect ratio).
    render_width: int = 0
    render_height: int = 0

    @property
    @abstractmethod
    def agent_specs(self) -> dict[str, AgentSpec]:
        """Every agent's spaces, in a stable order (defines the trial's actor order)."""

    @abstractmethod
    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult: ...

    @abstractmethod
    def step(self, actions: Mapping[str, Any]) -> StepResult: ...

    def fork(self) -> Environment:
        """A fresh instance for one trial (default: a deep copy of this template)."""
        return copy.deepcopy(self)

    def close(self) -> None:
        """Release resources at the end of a trial."""


class Actor(ABC):
    """A decision maker for one agent slot. ``act`` may be ``async`` (humans, remote models).

    The served object is shared by every trial it plays in (so a model trained in the
    notebook acts with its latest weights); ``fork()`` returns the object used for one
    trial: ``self`` by default, a copy with its own random generator for stochastic actors.
    """

    def fork(self) -> Actor:
        return self

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        """Called at the start of every trial the actor takes part in."""

    @abstractmethod
    def act(self, observation: Any, frame: np.ndarray | None = None) -> Any: ...

    def on_reward(self, value: float, tick_id: int, sources: list[Any]) -> None:
        """A reward for a past tick (environment rewards and human feedback alike)."""

    def on_message(self, sender: str, payload: Any) -> None: ...

    def on_ending(self, observation: Any, frame: np.ndarray | None = None) -> None:
        """The final observation of the trial."""

    def end(self) -> None:
        """The trial is over."""
