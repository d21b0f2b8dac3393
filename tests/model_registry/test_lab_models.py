"""``lab.models`` and the actors that follow a model: numpy and bytes paths (no torch needed)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

from cogment_jupyter import Lab, actors
from cogment_jupyter.adapters.base import AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.model_registry.follow import ModelNotAvailable
from tests.model_registry.conftest import sdk_registry
from tests.waiting import wait_for


class Ticks(Environment):
    """One agent; its observation is the tick number; it never ends by itself (max_steps does)."""

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"player": AgentSpec(gym.spaces.Box(0, 1e6, (1,), np.float64), gym.spaces.Discrete(2))}

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        self.tick = 0
        return StepResult({"player": np.array([0.0])})

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        self.tick += 1
        return StepResult({"player": np.array([float(self.tick)])}, rewards={"player": 1.0})


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    with Lab(datastore=tmp_path / "store") as made:
        made.serve_env("ticks", Ticks())
        yield made


def sign_policy(observation: Any, weights: np.ndarray) -> int:
    return int(weights[0] > 0)


def actions_of(lab: Lab, trial_id: str) -> list[int]:
    steps = lab.steps(trial_id)
    return [int(a) for a in steps["action"].dropna()]


def test_publish_store_list_and_load(lab: Lab) -> None:
    weights = np.arange(12, dtype=np.float32).reshape(3, 4)
    stored = lab.models.store("teacher", weights, {"epoch": 3})
    assert (stored.model, stored.iteration, stored.stored, stored.format) == ("teacher", 1, True, "npy")
    assert stored.properties == {"epoch": "3"}
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    assert lab.models.publish("teacher", fortran).iteration == 2
    assert lab.models.publish("teacher", fortran[:, ::2]).format == "npy"  # a strided view: copied once
    lab.models.publish("teacher", {"w": weights, "b": np.zeros(4, np.int8)})
    lab.models.publish("teacher", b"\x00raw")

    loaded = lab.models.load("teacher", 1)
    assert loaded.dtype == np.float32 and np.array_equal(loaded, weights)
    assert np.array_equal(lab.models.load("teacher", 2), fortran)
    assert np.array_equal(lab.models.load("teacher", 3), fortran[:, ::2])
    pair = lab.models.load("teacher", 4)
    assert set(pair) == {"w", "b"} and pair["b"].dtype == np.int8
    assert lab.models.load("teacher") == b"\x00raw"
    assert lab.models.load("teacher", -2)["w"].shape == (3, 4)

    iterations = lab.models.iterations("teacher")
    assert list(iterations["iteration"]) == [1, 2, 3, 4, 5]
    assert list(iterations["format"]) == ["npy", "npy", "npy", "npz", "bytes"]
    assert list(iterations["stored"]) == [True, False, False, False, False]
    assert iterations["created"].dt.tz is not None and iterations["size"].iloc[-1] == 4
    models = lab.models.list()
    assert list(models.columns) == ["model", "iterations", "latest", "format", "size", "updated", "properties"]
    row = models.set_index("model").loc["teacher"]
    assert (row["iterations"], row["latest"], row["format"]) == (5, 5, "bytes")
    assert isinstance(row["updated"], pd.Timestamp)


def test_clear_errors(lab: Lab) -> None:
    with pytest.raises(TypeError, match="cannot publish a set: publish bytes"):
        lab.models.publish("m", {1, 2})
    with pytest.raises(TypeError, match="holds Python objects"):
        lab.models.publish("m", np.array([object()]))
    with pytest.raises(ValueError, match="invalid model_id"):
        lab.models.publish("../escape", b"x")
    with pytest.raises(LookupError, match='no model "ghost" found'):
        lab.models.load("ghost")
    lab.models.store("m", b"x")
    with pytest.raises(LookupError, match='no version "9" for model "m" found'):
        lab.models.load("m", 9)
    with pytest.raises(ValueError, match="model= takes the name of a model"):
        actors.Policy(sign_policy, model="")


def test_the_sdk_sees_what_the_lab_publishes(lab: Lab) -> None:
    lab.models.store("shared", np.ones(3))

    async def read() -> tuple[bytes, dict[str, str]]:
        models = await sdk_registry(lab.models.endpoint)
        info = await models.get_iteration_info("shared", -1)
        return await models.retrieve_model("shared"), dict(info.properties)

    data, properties = asyncio.run(read())
    assert properties == {"cogment_jupyter.format": "npy"}
    assert data.startswith(b"\x93NUMPY")


def test_a_policy_follows_the_latest_iteration_between_ticks(lab: Lab) -> None:
    """The actor acts with iteration 1, iteration 2 is published mid-trial, the next tick uses it."""
    lab.models.store("switch", np.array([1.0]))  # action 1
    gate = threading.Event()

    async def policy(observation: np.ndarray, weights: np.ndarray) -> int:
        if observation[0] == 20:  # hold the trial here (without blocking the lab's loop) until told
            await asyncio.get_running_loop().run_in_executor(None, gate.wait, 30)
        return int(weights[0] > 0)

    actor = actors.Policy(policy, model="switch")
    lab.serve_actor("follower", actor)
    handle = lab.start_trial("ticks", "follower", max_steps=40)
    wait_for(lambda: handle.tick >= 20, 30, "the trial reaching tick 20")
    assert handle.tick == 20, handle.state
    lab.models.publish("switch", np.array([-1.0]))  # action 0
    lab.models.follow("switch").wait(20, newer_than=1)
    gate.set()
    handle.wait(30)
    actions = actions_of(lab, handle.id)
    assert actions[:21] == [1] * 21 and actions[21:] == [0] * (len(actions) - 21), actions
    assert actor.iteration == 2


def test_a_sync_policy_and_a_process_actor_pick_up_new_iterations(lab: Lab) -> None:
    lab.models.store("lean", np.array([1.0]))
    lab.serve_actor("here", actors.Policy(sign_policy, model="lean"))
    lab.serve_actor("there", actors.Policy(sign_policy, model="lean"), process=True)
    for name in ("here", "there"):
        handle = lab.start_trial("ticks", name, max_steps=5)
        handle.wait(60)
        assert actions_of(lab, handle.id) == [1] * 6, (name, handle.errors)
    lab.models.publish("lean", np.array([-1.0]))
    lab.models.follow("lean").wait(20, newer_than=1)
    here = lab.start_trial("ticks", "here", max_steps=5)
    here.wait(60)
    assert actions_of(lab, here.id) == [0] * 6
    # the process follows on its own: its next trials move to iteration 2 when it has loaded it
    deadline = time.monotonic() + 30
    while True:
        there = lab.start_trial("ticks", "there", max_steps=5)
        there.wait(60)
        if actions_of(lab, there.id) == [0] * 6:
            break
        assert time.monotonic() < deadline, "the process actor never picked up iteration 2"


def test_an_actor_waits_for_a_first_iteration_then_fails_clearly(lab: Lab) -> None:
    late = actors.Policy(sign_policy, model="late", wait=20)
    lab.serve_actor("late", late)
    handle = lab.start_trial("ticks", "late", max_steps=3)
    # the actor's follower asked the registry and found no such model: the trial waits at tick 0
    wait_for(lambda: lab.models.follow("late").problem, 20, "the follower finding no model 'late'")
    assert handle.tick == 0 and handle.state != "ENDED"
    lab.models.store("late", np.array([1.0]))
    handle.wait(30)
    assert actions_of(lab, handle.id) == [1] * 4

    never = actors.Policy(sign_policy, model="never", wait=0.5)
    lab.serve_actor("never", never)
    failed = lab.start_trial("ticks", "never", max_steps=3)
    failed.wait(30)
    assert failed.errors and "no iteration of model 'never'" in failed.errors[0], failed.errors
    with pytest.raises(ModelNotAvailable, match="there is no model 'never'"):
        lab.models.follow("never").wait(1.0)


def test_followers_outlive_a_closed_lab_and_a_registry_restart(tmp_path: Path) -> None:
    """Two labs of one process follow one model through one follower; the first lab closes, then
    the registry restarts on its port: the second lab's actor keeps taking new iterations."""
    import socket

    from tests.model_registry.registry_process import start_registry_process

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    registry = start_registry_process(tmp_path / "archive", port=port)
    try:
        first = Lab(datastore=tmp_path / "first", model_registry=registry.endpoint)
        with Lab(datastore=tmp_path / "second", model_registry=registry.endpoint) as second:
            for lab in (first, second):
                lab.serve_env("ticks", Ticks())
                lab.serve_actor("follower", actors.Policy(sign_policy, model="m"))
            first.models.store("m", np.array([1.0]))
            for lab in (first, second):
                handle = lab.start_trial("ticks", "follower", max_steps=3)
                handle.wait(60)
                assert actions_of(lab, handle.id) == [1] * 4
            first.close()
            second.models.publish("m", np.array([-1.0]))
            second.models.follow("m").wait(20, newer_than=1)
            handle = second.start_trial("ticks", "follower", max_steps=3)
            handle.wait(60)
            assert actions_of(second, handle.id) == [0] * 4, handle.errors

            assert registry.stop() == 0
            registry = start_registry_process(tmp_path / "archive", port=port)  # iteration 2 was not stored
            second.models.publish("m", np.array([-1.0]))  # iteration 2 again (the first was dropped)
            second.models.store("m", np.array([1.0]))  # iteration 3, once the follower is back
            second.models.follow("m").wait(30, newer_than=2)
            handle = second.start_trial("ticks", "follower", max_steps=3)
            handle.wait(60)
            assert actions_of(second, handle.id) == [1] * 4, handle.errors
    finally:
        registry.stop()
