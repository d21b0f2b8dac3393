"""Fixtures: one real jupyter server with the extension for the session, and a Lab of this
test process attached to its shared runtime (serving CartPole, a random actor and an endless
environment to it over gRPC)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.shared_runtime import read_runtime_file
from tests.server.harness import JupyterServer, running_server, wait_for


class Endless(Environment):
    """Never ends by itself: for terminate tests."""

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"player": AgentSpec(gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Discrete(2))}

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        return StepResult(observations={"player": np.zeros(2, np.float32)})

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        return StepResult(observations={"player": np.zeros(2, np.float32)}, rewards={"player": 1.0})


class Slow(Actor):
    """Acts every 20 ms without blocking the lab's loop (an endless trial must not spin)."""

    async def act(self, observation: Any, frame: Any = None) -> int:
        await asyncio.sleep(0.02)
        return 0


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with running_server(tmp_path_factory.mktemp("jupyter")) as jupyter:
        jupyter.wait_running()
        yield jupyter


def discovery_path(server: JupyterServer) -> Path:
    return Path(server.status()["discovery_file"])


@pytest.fixture(scope="module")
def shared_lab(server: JupyterServer):
    """``Lab(**lab_arguments)`` of the server's runtime, in this process (per module: other test
    modules must not find it as ``Lab.current()``)."""
    from cogment_jupyter import Lab, actors, envs

    runtime = read_runtime_file(discovery_path(server))
    lab = Lab(**runtime.lab_arguments())
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
    lab.serve_env("endless", Endless())
    lab.serve_actor("random", actors.Random())
    lab.serve_actor("slow", Slow())
    yield lab
    lab.close()


def recorded(server: JupyterServer, trial_id: str, state: str = "ENDED", timeout: float = 30.0) -> dict[str, Any]:
    """The REST view of a trial once the shared datastore has it in ``state``."""

    def check() -> dict[str, Any] | None:
        reply = server.request("GET", f"/cogment/api/trials/{trial_id}")
        if reply.status != 200:
            return None
        document = reply.json()
        trial = document["trial"]
        return document if trial is not None and trial["state"] == state else None

    return wait_for(check, timeout, f"trial {trial_id} recorded as {state}")
