"""The fused tick loop records exactly what the engine's tick loop records.

Every scenario runs twice with the same seeds, once on the fused loop and once with it
turned off, and the datastore's rows (every column but the timestamps), the handle's
outcome and what the actors were told must be the same. The scenarios cover the plain
ticks and each way the fused loop hands a trial to the engine.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.base import Actor
from cogment_jupyter.engine import trial as trial_module


class Scripted(Actor):
    """Random CartPole pushes, and at tick ``at`` one of: a reward and a message through
    the context, an exception, an action outside the space, an awaitable action."""

    def __init__(self, what: str = "", at: int = 3) -> None:
        self.what = what
        self.at = at
        self.told: list[tuple[float, int]] = []

    def fork(self) -> Actor:
        return Scripted(self.what, self.at)

    def reset(self, agent, spec, context) -> None:
        self.context = context
        self.tick = 0
        self.rng = actors.Random(seed=context.seed)
        self.rng.reset(agent, spec, context)
        Scripted.last = self

    def act(self, observation: Any, frame: Any = None) -> Any:
        tick, self.tick = self.tick, self.tick + 1
        action = self.rng.act(observation)
        if tick == self.at:
            if self.what == "reward":
                self.context.send_reward(2.5, "gym", confidence=0.5, user_data="well done")
                self.context.send_message("hello", "env")
            elif self.what == "raise":
                raise RuntimeError("boom")
            elif self.what == "outside":
                return 7
            elif self.what == "await":
                return asyncio.sleep(0, result=action)
        return action

    def on_reward(self, value: float, tick_id: int, sources: list[Any]) -> None:
        self.told.append((value, tick_id))


class ReusedBuffer(gym.Env):
    """Writes every observation into the same array, as many hand-written environments do."""

    observation_space = gym.spaces.Box(0, 100, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.buffer = np.zeros(2, np.float32)
        return self.buffer, {}

    def step(self, action):
        self.buffer += (1, action)
        return self.buffer, 1.0, self.buffer[0] >= 30, False, {}


class Masked(gym.Env):
    """Dict observations, an action mask in ``info`` and array actions: the fused loop's
    other recording paths (values encoded at once, masks passed to the actor, arrays copied)."""

    observation_space = gym.spaces.Dict(
        {"position": gym.spaces.Box(-50, 50, (2,), np.float32), "step": gym.spaces.Discrete(100)}
    )
    action_space = gym.spaces.MultiDiscrete([3, 2])

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.position = np.zeros(2, np.float32)
        self.t = 0
        return self._observation(), {"action_mask": self._mask()}

    def _observation(self):
        return {"position": self.position.copy(), "step": self.t}

    def _mask(self):
        return (np.array([1, self.t % 2, 1], np.int8), np.array([1, 1], np.int8))

    def step(self, action):
        self.t += 1
        self.position += np.asarray(action, np.float32) - (1, 0.5)
        info = {"action_mask": self._mask()} if self.t % 3 else {}  # some ticks are bare
        return self._observation(), float(action[0]), self.t >= 12, False, info


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(datastore=tmp_path_factory.mktemp("fused") / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_env("rendered", envs.Gymnasium("CartPole-v1", render=True))
        lab.serve_env("ttt", envs.PettingZooAEC("classic/tictactoe-v3"))
        lab.serve_env("reused", envs.Gymnasium(ReusedBuffer))
        lab.serve_env("masked", envs.Gymnasium(Masked))
        lab.serve_actor("random", actors.Random())
        for what in ("plain", "reward", "raise", "outside", "await"):
            lab.serve_actor(what, Scripted(what))
        yield lab


def _run(lab: Lab, monkeypatch: pytest.MonkeyPatch, fused: bool, env: str, actor: str, **options: Any):
    monkeypatch.setattr(trial_module, "FUSED_TICKS", fused)
    handle = lab.start_trial(env, actor, seed=11, **options).wait(60)
    trial = lab.orchestrator.trials[handle.id]
    rows = lab.datastore.samples(handle.id).drop_columns(["timestamp"]).to_pylist()
    told = list(Scripted.last.told) if actor in ("plain", "reward", "raise", "outside", "await") else None
    return trial, (handle.state, handle.tick, handle.errors, rows, told)


SCENARIOS = {
    "plain episode": ("cartpole", "plain", {}),
    "random actor": ("cartpole", "random", {}),
    "max steps": ("cartpole", "plain", {"max_steps": 5}),
    "rendered frames": ("rendered", "random", {"max_steps": 3}),
    "reward and message from an actor": ("cartpole", "reward", {}),
    "actor raises": ("cartpole", "raise", {}),
    "action outside the space": ("cartpole", "outside", {}),
    "awaitable action": ("cartpole", "await", {}),
    "turn-based game": ("ttt", "random", {}),
    "observation buffer reused": ("reused", "random", {}),
    "masks, dict observations, array actions": ("masked", "random", {}),
}


FULLY_FUSED = {
    "plain episode",
    "random actor",
    "max steps",
    "rendered frames",
    "observation buffer reused",
    "masks, dict observations, array actions",
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_fused_loop_records_what_the_engine_records(lab, monkeypatch, scenario):
    env, actor, options = SCENARIOS[scenario]
    fused_trial, fused = _run(lab, monkeypatch, True, env, actor, **options)
    engine_trial, engine = _run(lab, monkeypatch, False, env, actor, **options)
    assert not engine_trial.fused
    assert fused_trial.fused
    if env == "ttt":  # both players are rewarded at every step: the engine routes that, from the first tick
        assert fused_trial.fused_ticks == 0
    assert fused == engine
    state, tick, errors, rows, _ = fused
    assert state == "ENDED" and rows[-1]["state"] == trial_module.TrialState.ENDED
    if scenario in FULLY_FUSED:  # the loop recorded every tick but the final one, or but the last two at max steps
        assert fused_trial.fused_ticks == options.get("max_steps", tick) and errors == []
    if scenario in ("actor raises", "action outside the space"):
        assert errors and fused_trial.fused_ticks == 3  # the tick where it happened is the engine's


def test_a_cancelled_fused_trial_ends_with_its_open_tick_recorded(lab):
    def balance(observation):  # keeps the pole up for thousands of steps, slowly
        time.sleep(0.0002)
        return int(observation[2] + observation[3] > 0)

    lab.serve_actor("balance", balance)
    lab.serve_env("long", envs.Gymnasium("CartPole-v1", max_episode_steps=100_000))
    handle = lab.start_trial("long", "balance", seed=3)
    deadline = time.monotonic() + 30
    while handle.tick < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handle.state == "RUNNING"
    handle.cancel()
    handle.wait(30)
    assert lab.orchestrator.trials[handle.id].fused and handle.state == "ENDED"
    rows = lab.datastore.samples(handle.id).to_pylist()
    assert [row["tick_id"] for row in rows] == list(range(len(rows)))
    assert rows[-1]["state"] == trial_module.TrialState.ENDED
    assert any("Forced termination" in event for event in rows[-1]["events"])


def test_a_soft_end_of_a_fused_trial_goes_through_the_engine(lab):
    lab.serve_actor("steady", lambda observation: (time.sleep(0.0002), int(observation[2] + observation[3] > 0))[1])
    lab.serve_env("steady-long", envs.Gymnasium("CartPole-v1", max_episode_steps=100_000))
    handle = lab.start_trial("steady-long", "steady", seed=4)
    deadline = time.monotonic() + 30
    while handle.tick < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    handle.cancel(hard=False)
    handle.wait(30)
    trial = lab.orchestrator.trials[handle.id]
    assert trial.fused and 50 <= trial.fused_ticks < handle.tick and handle.errors == []
    rows = lab.datastore.samples(handle.id).to_pylist()
    assert [row["tick_id"] for row in rows] == list(range(handle.tick + 1))
    requested = [row["tick_id"] for row in rows if "End requested" in row["events"]]
    assert requested == [trial.fused_ticks]  # the tick it arrived in, then the engine's soft end
    assert rows[-1]["state"] == trial_module.TrialState.ENDED and rows[-1]["actions"] == [None]


@pytest.mark.parametrize("max_steps", [0, 5])  # 5: the fused loop hands its last tick to the engine
@pytest.mark.parametrize("fused", [True, False])
def test_an_environment_reusing_its_observation_array_is_recorded_as_it_was(lab, monkeypatch, fused, max_steps):
    monkeypatch.setattr(trial_module, "FUSED_TICKS", fused)
    handle = lab.start_trial("reused", "random", seed=2, max_steps=max_steps).wait(60)
    observations = np.stack(lab.steps(handle.id)["observation"].to_list())
    actions = lab.get_trial_data(handle.id)["gym"].actions
    assert observations[:, 0].tolist() == list(range(handle.tick + 1))  # not each the last value
    assert observations[1:, 1].tolist() == np.cumsum(actions).tolist()
