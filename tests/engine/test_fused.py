"""The fused tick loop records exactly what the engine's tick loop records.

Every scenario runs twice with the same seeds, on a lab whose in-process trials take the
fused loop and on one whose trials all run on the engine's loop. The datastore's rows (every
column but the timestamps), the handle's outcome and every call the environment and the
actors received must be the same. The scenarios cover the plain ticks, each way the fused
loop hands a trial to the engine, every space of the adapters' catalogue, a PettingZoo
Parallel game (every agent rewarded at every step) and concurrent cancellations.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.engine.records import TrialState
from cogment_jupyter.lab.servers import fused_ticks_default
from tests.adapters.spaces_cases import SPACES
from tests.waiting import wait_for

#: (these tests run both loops themselves: the engine-loop pass of the suite has nothing to add)
pytestmark = pytest.mark.skipif(not fused_ticks_default(), reason="compares both tick loops itself")

#: every call a recorded component received, by trial id
CALLS: dict[str, list[Any]] = defaultdict(list)


def plain(value: Any) -> Any:
    """A comparable form of what a component was given (arrays with their dtype and shape)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.item())
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return (type(value).__name__, [plain(item) for item in value])
    return value


class Recorded(Environment):
    """An environment that writes down every call it gets (and what the wrapped one answered)."""

    def __init__(self, inner: Environment) -> None:
        self.inner = inner
        self.trial = ""

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return self.inner.agent_specs

    def fork(self) -> Environment:
        return Recorded(self.inner.fork())

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        self.trial = context.trial_id
        CALLS[self.trial].append(("reset", context.seed, plain(options)))
        return self.inner.reset(context, options)

    def step(self, actions: Any) -> StepResult:
        CALLS[self.trial].append(("step", plain(dict(actions))))
        return self.inner.step(actions)

    def close(self) -> None:
        CALLS[self.trial].append(("close",))
        self.inner.close()


class RecordedActor(Actor):
    """An actor that writes down every call it gets, and answers with the wrapped actor."""

    def __init__(self, inner: Actor) -> None:
        self.inner = inner
        self.trial = ""

    def fork(self) -> Actor:
        return RecordedActor(self.inner.fork())

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.trial = context.trial_id
        self.agent = agent
        CALLS[self.trial].append(("actor reset", agent, context.seed))
        self.inner.reset(agent, spec, context)

    def act(self, observation: Any, frame: Any = None, action_mask: Any = None) -> Any:
        CALLS[self.trial].append(("act", self.agent, plain(observation), plain(frame), plain(action_mask)))
        if action_mask is not None and "action_mask" in getattr(self.inner.act, "__code__", _NO_CODE).co_varnames:
            return self.inner.act(observation, frame, action_mask=action_mask)
        return self.inner.act(observation, frame)

    def on_reward(self, value: float, tick_id: int, sources: list[Any]) -> None:
        CALLS[self.trial].append(("reward", self.agent, value, tick_id, [(s.sender_name, s.value) for s in sources]))
        self.inner.on_reward(value, tick_id, sources)

    def on_ending(self, observation: Any, frame: Any = None) -> None:
        CALLS[self.trial].append(("ending", self.agent, plain(observation)))

    def end(self) -> None:
        CALLS[self.trial].append(("end", self.agent))


_NO_CODE = (lambda: None).__code__


class Scripted(Actor):
    """Random CartPole pushes, and at tick ``at`` one of: a reward and a message through
    the context, an exception, an action outside the space, an awaitable action."""

    def __init__(self, what: str = "", at: int = 3) -> None:
        self.what = what
        self.at = at

    def fork(self) -> Actor:
        return Scripted(self.what, self.at)

    def reset(self, agent, spec, context) -> None:
        self.context = context
        self.tick = 0
        self.rng = actors.Random(seed=context.seed)
        self.rng.reset(agent, spec, context)

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
        pass  # (recorded by RecordedActor: an actor that takes rewards)


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


class Echo(Environment):
    """One agent acting in ``space`` and observing its own last action: every kind of value
    through both loops, recorded (five steps, rewarded by the step's number). A PettingZoo
    observation with an action mask is observed afresh each step, the agent acting in Discrete(9)."""

    def __init__(self, space: gym.Space) -> None:
        self.space = space
        self.masked = isinstance(space, gym.spaces.Dict) and "action_mask" in space.spaces
        self.action_space = gym.spaces.Discrete(9) if self.masked else space

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"gym": AgentSpec(self.space, self.action_space)}

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        self.space.seed(context.seed)
        self.t = 0
        return StepResult({"gym": self._observation(None)})

    def _observation(self, action: Any) -> Any:
        if self.masked or action is None:
            value = self.space.sample()
            if self.masked:
                value["action_mask"][:] = 1
            return value
        return action

    def step(self, actions: Any) -> StepResult:
        self.t += 1
        return StepResult({"gym": self._observation(actions["gym"])}, {"gym": float(self.t)}, done=self.t >= 5)


class Converted(Environment):
    """Observations of a float32 Box that are not always of its exact type (float64, a list),
    or nothing at all, or (``bad_at``) not of the space: the recording shortcuts' other paths."""

    space = gym.spaces.Box(-100, 100, (4,), np.float32)

    def __init__(self, bad_at: int | None = None) -> None:
        self.bad_at = bad_at

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"gym": AgentSpec(self.space, gym.spaces.Discrete(2))}

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        self.t = 0
        return StepResult({"gym": np.zeros(4, np.float32)})

    def step(self, actions: Any) -> StepResult:
        self.t = t = self.t + 1
        kinds = [
            np.full(4, t, np.float32),
            np.full(4, t, np.float64),  # converted
            [float(t)] * 4,  # converted
            None,  # nothing observed
            np.full((2, 2), t, np.float32) if t == self.bad_at else np.full(4, -t, np.float32),
        ]
        return StepResult({"gym": kinds[t % len(kinds)]}, {"gym": -0.0 if t % 2 else 1.0}, done=t >= 12)


MIXED_SPECS = {
    "cart": AgentSpec(gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Discrete(3)),
    "dial": AgentSpec(gym.spaces.Discrete(7, start=-3), gym.spaces.Box(-1, 1, (2,), np.float64)),
}


class Mixed(Environment):
    """Two agents of different spaces (a Box and a Discrete observation, a Discrete and a Box
    action), both rewarded at some steps, one at others."""

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return MIXED_SPECS

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        self.t = 0
        self.buffer = np.zeros(3, np.float32)  # (reused: written in place every step)
        return StepResult({"cart": self.buffer, "dial": 0})

    def step(self, actions: Any) -> StepResult:
        self.t = t = self.t + 1
        self.buffer[:] = (actions["cart"], actions["dial"][0], t / 100)
        rewards = {"cart": float(t), "dial": 0.5} if t % 3 else {"dial": 2.0}
        return StepResult({"cart": self.buffer, "dial": t % 7 - 3}, rewards, done=t >= 30)


class Breaking(gym.Env):
    """CartPole's spaces; its step raises at the third step (a Gymnasium env stepped through
    the plain port, which a recorded wrapper would hide)."""

    observation_space = gym.spaces.Box(-1, 1, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(4, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.t == 3:
            raise RuntimeError("the step broke")
        return np.full(4, self.t / 10, np.float32), 1.0, False, False, {}


def serve(lab: Lab) -> Lab:
    lab.serve_env("cartpole", Recorded(envs.Gymnasium("CartPole-v1")))
    lab.serve_env("gymnasium", envs.Gymnasium("CartPole-v1"))  # (not wrapped: stepped through its plain port)
    lab.serve_env("breaking", envs.Gymnasium(Breaking))
    lab.serve_env("gymnasium-rendered", envs.Gymnasium("CartPole-v1", render=True))
    lab.serve_env("rendered", Recorded(envs.Gymnasium("CartPole-v1", render=True)))
    lab.serve_env("ttt", Recorded(envs.PettingZooAEC("classic/tictactoe-v3")))
    lab.serve_env("rps", Recorded(envs.PettingZooParallel("classic/rps-v2")))
    lab.serve_env("reused", Recorded(envs.Gymnasium(ReusedBuffer)))
    lab.serve_env("masked", Recorded(envs.Gymnasium(Masked)))
    lab.serve_actor("random", RecordedActor(actors.Random()))
    for what in ("plain", "reward", "raise", "outside", "await"):
        lab.serve_actor(what, RecordedActor(Scripted(what)))
    lab.serve_env("converted", Converted())
    lab.serve_env("unencodable", Converted(bad_at=9))
    lab.serve_env("mixed", Recorded(Mixed()))
    for name, space in SPACES.items():
        lab.serve_env(f"echo-{name}", Echo(space))
    return lab


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    with (
        Lab(datastore=tmp_path_factory.mktemp("fused") / "store", fused_ticks=True) as fused,
        Lab(datastore=tmp_path_factory.mktemp("engine") / "store", fused_ticks=False) as engine,
    ):
        yield {True: serve(fused), False: serve(engine)}


def _run(lab: Lab, env: str, actor: str, **options: Any):
    handle = lab.start_trial(env, actor, seed=11, **options).wait(60)
    trial = lab.orchestrator.trials[handle.id]
    rows = lab.datastore.samples(handle.id).drop_columns(["timestamp"]).to_pylist()
    return trial, (handle.state, handle.tick, handle.errors, rows, CALLS.pop(handle.id, []))


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
    "simultaneous game, every agent rewarded": ("rps", "random", {}),
    "observation buffer reused": ("reused", "random", {}),
    "masks, dict observations, array actions": ("masked", "random", {}),
    "a spectator beside the agent": ("cartpole", "plain", {"spectators": {"watcher": "random"}}),
    "observations converted or missing": ("converted", "random", {}),
    "an observation outside its space": ("unencodable", "random", {}),
    "two agents of different spaces": ("mixed", {"cart": "random", "dial": "random"}, {}),
}

#: the scenarios of a Gymnasium env stepped through its plain port (Gymnasium.plain_step)
PLAIN_PORT = " (plain port)"
for _scenario in (
    "plain episode",
    "random actor",
    "max steps",
    "reward and message from an actor",
    "actor raises",
    "action outside the space",
    "awaitable action",
):
    SCENARIOS[_scenario + PLAIN_PORT] = ("gymnasium", *SCENARIOS[_scenario][1:])
SCENARIOS["a step raises" + PLAIN_PORT] = ("breaking", "plain", {})
SCENARIOS["rendered frames" + PLAIN_PORT] = ("gymnasium-rendered", "random", {"max_steps": 3})

#: scenarios whose every tick but the last runs fused (or but the last two at max steps)
FULLY_FUSED = {
    "plain episode",
    "random actor",
    "max steps",
    "rendered frames",
    "turn-based game",
    "simultaneous game, every agent rewarded",
    "observation buffer reused",
    "masks, dict observations, array actions",
    "a spectator beside the agent",
    "observations converted or missing",
    "two agents of different spaces",
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_fused_loop_records_what_the_engine_records(labs, scenario):
    env, actor, options = SCENARIOS[scenario]
    fused_trial, fused = _run(labs[True], env, actor, **options)
    engine_trial, engine = _run(labs[False], env, actor, **options)
    assert not engine_trial.fused
    assert fused_trial.fused
    assert fused == engine
    state, tick, errors, rows, calls = fused
    assert state == "ENDED" and rows[-1]["state"] == TrialState.ENDED
    assert any(call[0] == "act" for call in calls) and calls[-1][0] in ("close", "end")
    if scenario == "a step raises" + PLAIN_PORT:
        assert errors == ["environment [env]: RuntimeError: the step broke"] and fused_trial.fused_ticks == 2
    scenario = scenario.removesuffix(PLAIN_PORT)
    if scenario in FULLY_FUSED:
        assert fused_trial.fused_ticks == options.get("max_steps", tick) and errors == []
    if scenario in ("actor raises", "action outside the space"):
        assert errors and fused_trial.fused_ticks == 3  # the tick where it happened is the engine's
    if scenario == "an observation outside its space":  # recorded missing, with the reason, by the engine
        assert fused_trial.fused_ticks == 9 and any("Payload not recorded" in e for row in rows for e in row["events"])


def test_an_unrecorded_trial_steps_through_the_plain_port_as_the_engine_steps_it(labs):
    outcomes = {}
    for fused in (True, False):
        handle = labs[fused].start_trial("gymnasium", "plain", seed=11, datalog=False).wait(60)
        trial = labs[fused].orchestrator.trials[handle.id]
        outcomes[fused] = (handle.state, handle.tick, handle.errors, CALLS.pop(handle.id, []))
        assert trial.fused == fused and trial.fused_ticks == (handle.tick if fused else 0)
    assert outcomes[True] == outcomes[False]
    assert outcomes[True][:3] == ("ENDED", outcomes[True][1], []) and outcomes[True][1] > 5


@pytest.mark.parametrize("space", list(SPACES))
def test_every_space_is_recorded_alike_by_both_loops(labs, space):
    fused_trial, fused = _run(labs[True], f"echo-{space}", "random")
    _, engine = _run(labs[False], f"echo-{space}", "random")
    assert fused == engine
    state, tick, errors, _, _ = fused
    assert (state, tick, errors) == ("ENDED", 5, [])
    assert fused_trial.fused_ticks == 5
    steps = labs[True].steps(fused_trial.id)
    assert steps["action"].notna().sum() == 5  # every answer recorded, none silently missing


@pytest.mark.parametrize("fused", [True, False])
def test_concurrent_trials_cancelled_end_with_their_open_tick_recorded(labs, fused):
    lab = labs[fused]

    def balance(observation):  # keeps the pole up for thousands of steps, slowly
        time.sleep(0.0002)
        return int(observation[2] + observation[3] > 0)

    lab.serve_actor("balance", balance)
    lab.serve_env("long", envs.Gymnasium("CartPole-v1", max_episode_steps=100_000))
    handles = [lab.start_trial("long", "balance", seed=seed) for seed in range(6)]
    wait_for(lambda: all(handle.tick >= 30 for handle in handles), 60, "every trial past tick 30")
    assert all(handle.state == "RUNNING" for handle in handles)
    hard = handles[1::2]
    for handle in handles:
        handle.cancel(hard=handle in hard)
    for handle in handles:
        handle.wait(30)
    for handle in handles:
        trial = lab.orchestrator.trials[handle.id]
        assert trial.fused is fused and handle.state == "ENDED"
        rows = lab.datastore.samples(handle.id).to_pylist()
        assert [row["tick_id"] for row in rows] == list(range(len(rows)))
        assert rows[-1]["state"] == TrialState.ENDED
        events = [event for row in rows for event in row["events"]]
        if handle in hard:
            assert any("Forced termination" in event for event in rows[-1]["events"]) and handle.errors == []
        else:
            assert "End requested" in events and rows[-1]["actions"] == [None] and handle.errors == []
            assert trial.fused_ticks < handle.tick if fused else trial.fused_ticks == 0


@pytest.mark.parametrize("max_steps", [0, 5])  # 5: the fused loop hands its last tick to the engine
@pytest.mark.parametrize("fused", [True, False])
def test_an_environment_reusing_its_observation_array_is_recorded_as_it_was(labs, fused, max_steps):
    lab = labs[fused]
    handle = lab.start_trial("reused", "random", seed=2, max_steps=max_steps).wait(60)
    CALLS.pop(handle.id, None)
    observations = np.stack(lab.steps(handle.id)["observation"].to_list())
    actions = lab.get_trial_data(handle.id)["gym"].actions
    assert observations[:, 0].tolist() == list(range(handle.tick + 1))  # not each the last value
    assert observations[1:, 1].tolist() == np.cumsum(actions).tolist()
