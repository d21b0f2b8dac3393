"""What the tests serve with ``cogment-jupyter serve``, as a user's own module would hold it."""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np

from cogment_jupyter import envs

ROUNDS = 20


class Duet(envs.Environment):
    """Two players; each sees [tick, left's last action, right's last action] and is rewarded its action."""

    specs: ClassVar[dict[str, envs.AgentSpec]] = {
        name: envs.AgentSpec(gym.spaces.Box(-np.inf, np.inf, (3,), np.float64), gym.spaces.Discrete(2))
        for name in ("left", "right")
    }

    @property
    def agent_specs(self) -> dict[str, envs.AgentSpec]:
        return self.specs

    def reset(self, context, options=None) -> envs.StepResult:
        self.tick = 0
        return envs.StepResult(dict.fromkeys(self.specs, np.zeros(3)))

    def step(self, actions) -> envs.StepResult:
        self.tick += 1
        seen = np.array([self.tick, actions["left"], actions["right"]], dtype=np.float64)
        done = self.tick >= ROUNDS
        return envs.StepResult(
            {"left": seen, "right": seen.copy()},
            rewards={name: float(action) for name, action in actions.items()},
            terminated=dict.fromkeys(self.specs, done),
            done=done,
        )

    def fork(self) -> Duet:
        return Duet()


def make_duet() -> Duet:
    return Duet()


def alternating():
    """An actor factory returning a plain policy: 1 on odd ticks."""
    return lambda observation: int(observation[0]) % 2


CARTPOLE = "CartPole-v1"
