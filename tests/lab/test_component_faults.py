"""What a trial does when an in-process component misbehaves (issue 17, points 2 and 3).

A synchronous ``act`` or ``step`` that blocks must not freeze the lab: with a
``response_timeout``, the timeout holds and other trials go on meanwhile. An action outside
the actor's action space is an error of that actor: the trial ends saying which actor, tick,
value and space (or an optional actor's default action is used, and the record says why),
and the value never reaches the environment. Every test runs on both tick loops.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.lab.servers import fused_ticks_default
from tests.waiting import wait_for

#: how long the blocking calls below block (a real sleep): far longer than any timeout here
BLOCK = 5.0

#: what the components below saw, by trial id: the actions the environment was given, when
#: it was closed, whether its step blocked and when that step returned; when a blocked act returned
GIVEN: dict[str, list[Any]] = {}
CLOSED: dict[str, float] = {}
BLOCKED: set[str] = set()
UNBLOCKED: dict[str, float] = {}
WOKE: list[float] = []


class Counting(Environment):
    """One agent in Discrete(2), ``length`` steps; keeps every action it is given. At tick
    ``block_at`` its step sleeps ``BLOCK`` s (a synchronous call that blocks)."""

    def __init__(self, length: int = 6, block_at: int = -1) -> None:
        self.length = length
        self.block_at = block_at
        self.stepped = threading.Event()

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"gym": AgentSpec(gym.spaces.Box(0, 100, (1,), np.float32), gym.spaces.Discrete(2))}

    def fork(self) -> Environment:
        return Counting(self.length, self.block_at)

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        self.trial = context.trial_id
        self.t = 0
        GIVEN[self.trial] = []
        return StepResult({"gym": np.zeros(1, np.float32)})

    def step(self, actions: Any) -> StepResult:
        GIVEN[self.trial].append(actions["gym"])
        if self.t == self.block_at:
            BLOCKED.add(self.trial)
            time.sleep(BLOCK)
            UNBLOCKED[self.trial] = time.monotonic()
        self.t += 1
        return StepResult({"gym": np.full(1, self.t, np.float32)}, {"gym": 1.0}, done=self.t >= self.length)

    def close(self) -> None:
        CLOSED[self.trial] = time.monotonic()


class Sleepy(Actor):
    """Answers 1, but at tick ``at`` sleeps ``BLOCK`` s first (a synchronous act that blocks)."""

    def __init__(self, at: int = 0) -> None:
        self.at = at

    def fork(self) -> Actor:
        return Sleepy(self.at)

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.tick = 0

    def act(self, observation: Any, frame: Any = None) -> Any:
        tick, self.tick = self.tick, self.tick + 1
        if tick == self.at:
            time.sleep(BLOCK)
            WOKE.append(time.monotonic())
        return 1


class Answers(Actor):
    """Answers 0, except ``value`` at tick ``at``."""

    def __init__(self, value: Any, at: int) -> None:
        self.value = value
        self.at = at

    def fork(self) -> Actor:
        return Answers(self.value, self.at)

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.tick = 0

    def act(self, observation: Any, frame: Any = None) -> Any:
        tick, self.tick = self.tick, self.tick + 1
        return self.value if tick == self.at else 0


@pytest.fixture(
    scope="module",
    params=[True, False] if fused_ticks_default() else [False],  # (the engine-loop pass: that loop only)
    ids=["fused loop", "engine loop"] if fused_ticks_default() else ["engine loop"],
)
def lab(request, tmp_path_factory):
    with Lab(datastore=tmp_path_factory.mktemp("faults") / "store", fused_ticks=request.param) as lab:
        lab.serve_env("counting", Counting())
        lab.serve_env("counting-long", Counting(length=20))
        lab.serve_env("stuck-step", Counting(length=6, block_at=2))
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("sleepy", Sleepy(at=0))
        lab.serve_actor("sleepy-later", Sleepy(at=1))
        lab.serve_actor("zero", actors.Constant(0))
        lab.serve_actor("random", actors.Random())
        yield lab


def _wait_until_awake(since: int) -> None:
    """The blocked call returned (so that no test leaves a thread sleeping behind it)."""
    wait_for(lambda: len(WOKE) > since, BLOCK + 30, "the blocked act to return")


# -- point 2: a blocking synchronous component --------------------------------------------


def test_a_blocking_act_ends_its_trial_at_the_timeout_while_another_trial_runs(lab):
    woke = len(WOKE)
    stuck = lab.start_trial("counting", "sleepy", response_timeout=0.5)
    other = lab.start_trial("cartpole", "random", seed=1)
    stuck.wait(BLOCK + 30)
    other.wait(BLOCK + 30)
    # both ended while the act was still asleep: the timeout held, and the lab went on
    assert len(WOKE) == woke
    assert stuck.state == "ENDED" and other.state == "ENDED" and other.errors == [] and other.tick > 5
    details = lab.orchestrator.trials[stuck.id].end_details
    assert details == "Action processing requirement failure [Required actors [gym] unavailable at tick [0]]"
    assert GIVEN[stuck.id] == []  # the environment never stepped
    _wait_until_awake(woke)
    assert stuck.state == "ENDED" and lab.steps(stuck.id)["tick"].tolist() == [0]  # the late answer is dropped


def test_an_optional_actor_that_blocks_gets_its_default_action_and_the_trial_goes_on(lab):
    woke = len(WOKE)
    handle = lab.start_trial(
        "counting-long", "sleepy-later", response_timeout=0.5, optional=["gym"], default_actions={"gym": 0}
    )
    handle.wait(BLOCK + 60)
    assert handle.state == "ENDED" and handle.errors == [] and handle.tick == 20
    assert len(WOKE) == woke + 1  # it outlasted the blocked call, which no one waited for
    statuses = lab.steps(handle.id)["action_status"].tolist()
    assert statuses[0] == "normal" and statuses[1] == "default" and statuses[-2] == "normal"
    given = GIVEN[handle.id]
    assert given[0] == 1 and given[1] == 0  # tick 1: the default action, not the late answer


def test_a_blocking_step_does_not_stall_other_trials_and_a_cancel_ends_it_at_once(lab):
    stuck = lab.start_trial("stuck-step", "zero", response_timeout=5.0)
    wait_for(lambda: stuck.id in BLOCKED, 30, "the environment to block")
    others = lab.run_trials(3, "cartpole", "random", progress=False)
    assert [h.state for h in others] == ["ENDED"] * 3 and all(h.tick > 5 for h in others)
    assert stuck.id not in UNBLOCKED  # the others ran while the step was blocked
    assert stuck.state == "RUNNING"
    stuck.cancel()
    stuck.wait(BLOCK)
    assert stuck.state == "ENDED" and stuck.id not in UNBLOCKED  # ended while still blocked
    wait_for(lambda: stuck.id in CLOSED, BLOCK + 30, "the environment to be closed")
    assert CLOSED[stuck.id] >= UNBLOCKED[stuck.id]  # closed once its step returned, not during it


# -- point 3: an action outside the actor's space ----------------------------------------

BAD_VALUES = {
    "7": 7,
    "-1": -1,
    "'abc'": "abc",
    "None": None,
    "an array": np.array([1, 0]),
    "0.5": 0.5,
    "a dict": {"action": 1},
}


@pytest.mark.parametrize("name", list(BAD_VALUES))
def test_an_action_outside_the_space_ends_the_trial_naming_actor_tick_value_and_space(lab, name):
    value = BAD_VALUES[name]
    lab.serve_actor(f"bad-{name}", Answers(value, at=2))
    handle = lab.start_trial("counting", f"bad-{name}").wait(30)
    error = f"actor [gym] acted outside its action space at tick [2]: action {value!r} is outside Discrete(2)"
    assert handle.state == "ENDED" and len(handle.errors) == 1 and handle.errors[0].startswith(error)
    assert lab.orchestrator.trials[handle.id].end_details.startswith("A" + error[1:])
    assert GIVEN[handle.id] == [0, 0]  # the value never reached the environment
    steps = lab.steps(handle.id)
    assert steps["tick"].tolist() == [0, 1, 2]
    last = steps.iloc[-1]
    assert last["action"] is None or last["action"] is pd_na()  # no action recorded at tick 2 ...
    assert any(error[1:] in event for event in last["events"])  # ... and the record says why


def test_an_optional_actor_acting_outside_its_space_gets_its_default_action_and_the_record_says_why(lab):
    lab.serve_actor("bad-once", Answers(7, at=2))
    handle = lab.start_trial("counting", "bad-once", optional=["gym"], default_actions={"gym": 1}).wait(30)
    assert handle.state == "ENDED" and handle.errors == [] and handle.tick == 6
    assert GIVEN[handle.id] == [0, 0, 1, 0, 0, 0]  # the default at tick 2, never 7
    steps = lab.steps(handle.id)
    tick2 = steps[steps["tick"] == 2].iloc[0]
    assert tick2["action"] == 1 and tick2["action_status"] == "default"
    assert tick2["events"] == [
        "Default action used: actor [gym] acted outside its action space at tick [2]: action 7 is outside "
        "Discrete(2): expected an int in [0, 1]. Return one of those ints (an index, not a one-hot vector or a float)."
    ]


def pd_na() -> Any:
    import pandas as pd

    return pd.NA
