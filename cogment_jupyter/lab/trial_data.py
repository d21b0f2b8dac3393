"""Per-agent numpy arrays of a recorded trial, compatible with Cogment Lab's ``TrialData``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

from cogment_jupyter.adapters.payloads import decode_action, decode_observation
from cogment_jupyter.adapters.trial_codec import TrialCodec


@dataclass
class TrialData:
    """One agent's transitions. With T transitions (the ticks where the agent acted):

    ``observations[t]`` the observation it acted on, ``actions[t]`` its action, ``rewards[t]``
    the reward for that action, ``next_observations[t]`` what it observed next,
    ``terminated[t]`` / ``truncated[t]`` the flags of that next observation, ``done[t]``
    1.0 on the last transition (as Cogment Lab), ``info[t]`` the environment's info dict, and
    ``last_observation`` the final observation with a leading axis of 1.
    """

    observations: Any = None
    actions: Any = None
    rewards: np.ndarray | None = None
    done: np.ndarray | None = None
    next_observations: Any = None
    last_observation: Any = None
    terminated: np.ndarray | None = None
    truncated: np.ndarray | None = None
    info: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return 0 if self.rewards is None else len(self.rewards)


def stack(space: gym.Space, values: Sequence[Any]) -> Any:
    """Stack values of ``space`` along a new first axis, the way Cogment Lab shapes them."""
    if isinstance(space, gym.spaces.Dict):
        return {key: stack(sub, [v[key] for v in values]) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return {i: stack(sub, [v[i] for v in values]) for i, sub in enumerate(space.spaces)}
    if isinstance(space, gym.spaces.Discrete):
        return np.asarray(values, dtype=np.int64).reshape(len(values))
    if isinstance(space, gym.spaces.Text):
        return np.asarray(values, dtype=f"<U{max(space.max_length, 1)}")
    dtype = getattr(space, "dtype", None)
    shape = getattr(space, "shape", None) or ()
    if not values:
        return np.empty((0, *shape), dtype=dtype)
    return np.stack([np.asarray(v, dtype=dtype) for v in values])


def agent_trial_data(steps: pd.DataFrame, codec: TrialCodec, agent: str) -> TrialData:
    """``TrialData`` of one agent from a trial's raw (undecoded) steps frame."""
    rows = steps[steps["actor"] == agent].sort_values("tick")
    agent_codecs = codec[agent]
    observations = [
        decode_observation(b if isinstance(b, bytes) else None, agent_codecs.observation) for b in rows["observation"]
    ]
    actions = [
        decode_action(b, agent_codecs.action).value if isinstance(b, bytes) and b else None for b in rows["action"]
    ]
    rewards = rows["reward"].to_numpy(dtype=np.float32, na_value=0.0)
    acted = [
        i
        for i in range(len(observations) - 1)
        if actions[i] is not None and observations[i].value is not None and not observations[i].inactive
    ]
    if not observations:
        raise ValueError(f"agent {agent!r} has no recorded observation in this trial")
    space_obs = agent_codecs.observation.space
    space_act = agent_codecs.action.space
    nexts = [_next_observed(observations, i) for i in acted]
    done = np.zeros(len(acted), dtype=np.float32)
    if len(acted):
        done[-1] = 1.0
    final = observations[-1] if observations[-1].value is not None else observations[_last_observed(observations)]
    return TrialData(
        observations=stack(space_obs, [observations[i].value for i in acted]),
        actions=stack(space_act, [actions[i] for i in acted]),
        rewards=rewards[acted] if len(acted) else np.zeros(0, np.float32),
        done=done,
        next_observations=stack(space_obs, [observations[j].value for j in nexts]),
        last_observation=stack(space_obs, [final.value]),
        terminated=np.asarray([observations[j].terminated for j in nexts], dtype=bool),
        truncated=np.asarray([observations[j].truncated for j in nexts], dtype=bool),
        info=[observations[j].info or {} for j in nexts],
    )


def _next_observed(observations: Sequence[Any], i: int) -> int:
    for j in range(i + 1, len(observations)):
        if observations[j].value is not None:
            return j
    return i


def _last_observed(observations: Sequence[Any]) -> int:
    for j in range(len(observations) - 1, -1, -1):
        if observations[j].value is not None:
            return j
    raise ValueError("no observation was recorded")


def concatenate(parts: Sequence[TrialData]) -> TrialData:
    """Join several trials' data along the first axis (``last_observation`` of the last one)."""
    if not parts:
        raise ValueError("concatenate() needs at least one TrialData")
    joined = TrialData()
    for f in fields(TrialData):
        values = [getattr(p, f.name) for p in parts]
        if f.name == "last_observation":
            setattr(joined, f.name, values[-1])
        elif f.name == "info":
            joined.info = [item for value in values for item in value]
        elif all(v is None for v in values):
            setattr(joined, f.name, None)
        else:
            setattr(joined, f.name, _concat(values))
    return joined


def _concat(values: list[Any]) -> Any:
    if isinstance(values[0], dict):
        return {key: _concat([v[key] for v in values]) for key in values[0]}
    return np.concatenate(values, axis=0)
