"""Two-participant conversions of any environment (Cogment Lab's observer and teacher).

``Teacher(env)`` adds a ``teacher`` agent whose action is ``{"active": 0|1, "action": a}``:
while ``active`` its action replaces the agent's (an intervention), and the frame gets a red
border. Every step's ``info["intervention"]`` records who, proposed and executed actions, so
interventions show in the recorded data. ``Observer(env)`` adds an ``observer`` agent that
sees the agent's observation and its last action, and whose own actions are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from cogment_jupyter.adapters.base import AgentSpec, Environment, StepResult, TrialContext

#: width in pixels of the border painted while the teacher is in control
BORDER = 5
RED = np.array([220, 30, 30], dtype=np.uint8)


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of an action (numpy values to Python ones) for ``info``."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _bordered(frame: np.ndarray | None) -> np.ndarray | None:
    if frame is None or frame.ndim != 3 or min(frame.shape[:2]) <= 2 * BORDER:
        return frame
    out = frame.copy()
    out[:BORDER], out[-BORDER:], out[:, :BORDER], out[:, -BORDER:] = RED, RED, RED, RED
    return out


class _Conversion(Environment):
    """Wraps an environment and adds one participant next to one of its agents."""

    def __init__(self, env: Environment, agent: str | None, name: str) -> None:
        specs = env.agent_specs
        self.env = env
        self.agent = agent or next(iter(specs))
        if self.agent not in specs:
            raise ValueError(
                f"{type(self).__name__}: the environment has no agent {self.agent!r}; agents: {list(specs)}"
            )
        if name in specs:
            raise ValueError(
                f"{type(self).__name__}: {name!r} is already an agent of the environment; pick another name"
            )
        self.name = name
        self.render_fps = env.render_fps
        self.render_width, self.render_height = env.render_width, env.render_height

    def fork(self) -> _Conversion:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.env = self.env.fork()
        return clone

    def close(self) -> None:
        self.env.close()


class Teacher(_Conversion):
    """``Teacher(envs.Gymnasium("LunarLander-v3", render=True))``: agents ``gym`` and ``teacher``."""

    def __init__(self, env: Environment, agent: str | None = None, teacher: str = "teacher") -> None:
        super().__init__(env, agent, teacher)
        spec = env.agent_specs[self.agent]
        self._teacher_spec = AgentSpec(
            spec.observation_space,
            gym.spaces.Dict({"active": gym.spaces.Discrete(2), "action": spec.action_space}),
        )

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {**self.env.agent_specs, self.name: self._teacher_spec}

    def _with_teacher(self, result: StepResult, intervention: dict[str, Any] | None) -> StepResult:
        result.observations[self.name] = result.observations.get(self.agent)
        if self.agent in result.rewards:  # the teacher is scored with the agent it supervises
            result.rewards = {**result.rewards, self.name: result.rewards[self.agent]}
        if result.acting is not None and self.agent in result.acting:
            result.acting = [*result.acting, self.name]
        if intervention is not None:
            result.info = {**result.info, "intervention": intervention}
            if intervention["active"]:
                result.frame = _bordered(result.frame)
        return result

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        return self._with_teacher(self.env.reset(context, options), None)

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        actions = dict(actions)
        proposed = actions.get(self.agent)
        command = actions.pop(self.name, None) or {}
        active = bool(command.get("active", 0))
        executed = command.get("action") if active else proposed
        if self.agent in actions or active:
            actions[self.agent] = executed
        result = self.env.step(actions)
        record = {
            "teacher": self.name,
            "active": active,
            "proposed": _plain(proposed),
            "executed": _plain(executed),
        }
        return self._with_teacher(result, record)


class Observer(_Conversion):
    """``Observer(env)``: an ``observer`` that sees the agent's observation and last action."""

    def __init__(self, env: Environment, agent: str | None = None, observer: str = "observer") -> None:
        super().__init__(env, agent, observer)
        spec = env.agent_specs[self.agent]
        self._observer_spec = AgentSpec(
            gym.spaces.Dict({"observation": spec.observation_space, "action": spec.action_space}),
            gym.spaces.Discrete(1),
        )
        self._last_action: Any = None

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {**self.env.agent_specs, self.name: self._observer_spec}

    def _with_observer(self, result: StepResult) -> StepResult:
        action_space = self.env.agent_specs[self.agent].action_space
        last = self._last_action if self._last_action is not None else _zero(action_space)
        result.observations[self.name] = {"observation": result.observations.get(self.agent), "action": last}
        return result

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        self._last_action = None
        return self._with_observer(self.env.reset(context, options))

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        actions = {k: v for k, v in actions.items() if k != self.name}
        if self.agent in actions:
            self._last_action = actions[self.agent]
        return self._with_observer(self.env.step(actions))


def _zero(space: gym.Space) -> Any:
    """A neutral value of a space, for 'no action yet'."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.start)
    sample = space.sample()
    if isinstance(sample, np.ndarray):
        return np.zeros_like(sample)
    return sample
