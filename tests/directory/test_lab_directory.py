"""A lab configured with a directory registers what it serves; another lab finds it there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from cogment.directory import ServiceType

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.directory.service import DirectoryServer
from tests.directory.conftest import FAST, sdk_directory


@pytest.fixture
def directory_endpoint(tmp_path: Path):
    """A directory on its own loop thread (the labs below block their caller)."""
    from cogment_jupyter.lab.loop_thread import LoopThread

    runtime = LoopThread("directory")
    server = DirectoryServer(None, FAST)
    runtime.run(server.start())
    yield server.endpoint
    runtime.run(server.stop(0))
    runtime.stop()


def inquire(endpoint: str, service_type: ServiceType, properties: dict[str, str]) -> list[str]:
    async def ask() -> list[str]:
        return [url for url, _ in await sdk_directory(endpoint).inquire_by_type(service_type, properties)]

    return asyncio.run(ask())


def lean(observation: np.ndarray) -> int:
    return int(observation[2] + observation[3] > 0)


def test_a_lab_registers_what_it_serves_and_another_finds_it(directory_endpoint: str, tmp_path: Path) -> None:
    with Lab(datastore=tmp_path / "a", directory=directory_endpoint) as teacher:
        teacher.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        teacher.serve_actor("lean", lean)
        teacher.serve_actor("lean-proc", lean, process=True)
        assert inquire(directory_endpoint, ServiceType.ACTOR, {"__implementation": "lean"}) == [teacher.endpoint]
        assert inquire(directory_endpoint, ServiceType.ENVIRONMENT, {"__implementation": "cartpole"}) == [
            teacher.endpoint
        ]
        assert teacher.endpoint.startswith("grpc://127.0.0.1:")  # a lab in a directory serves over TCP
        assert inquire(directory_endpoint, ServiceType.ACTOR, {"__implementation": "lean-proc"}) == [
            teacher.endpoint_of("lean-proc")
        ]
        assert inquire(directory_endpoint, ServiceType.LIFE_CYCLE, {}) == [teacher.endpoint]
        assert inquire(directory_endpoint, ServiceType.DATALOG, {}) == [teacher.datastore_endpoint]
        teacher.models.store("policy", np.array([0.0, 0.0, 1.0, 1.0]))  # the lab's registry registers when started
        assert inquire(directory_endpoint, ServiceType.MODEL_REG, {}) == [teacher.models.endpoint]

        with Lab(datastore=tmp_path / "b", directory=directory_endpoint) as student:
            student.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
            student.serve_remote("coach", "cogment://discover/actor?__implementation=lean")
            student.serve_remote("coach-proc", "cogment://discover?__implementation=lean-proc")
            for actor in ("coach", "coach-proc"):
                handle = student.start_trial("cartpole", actor, seed=5, max_steps=30)
                handle.wait(60)
                assert handle.state == "ENDED" and not handle.errors, (actor, handle.errors)
                steps = student.steps(handle.id)
                expected = [lean(np.asarray(o)) for o in steps["observation"]][: len(steps["action"].dropna())]
                assert [int(a) for a in steps["action"].dropna()] == expected
            # an unknown name fails the trial with the upstream reason
            student.serve_remote("nobody", "cogment://discover/actor?__implementation=nobody")
            failed = student.start_trial("cartpole", "nobody")
            failed.wait(30)
            assert failed.errors and "No service found in directory" in failed.errors[0]

        teacher.stop_service("lean")
        assert inquire(directory_endpoint, ServiceType.ACTOR, {"__implementation": "lean"}) == []
    # closing the lab takes back everything it registered
    assert inquire(directory_endpoint, ServiceType.ENVIRONMENT, {}) == []
    assert inquire(directory_endpoint, ServiceType.LIFE_CYCLE, {}) == []


def test_serve_remote_needs_a_directory_for_discovery(tmp_path: Path) -> None:
    with Lab(datastore=None) as lab:
        with pytest.raises(ValueError, match="found through a directory, and this lab has none"):
            lab.serve_remote("x", "cogment://discover/actor?__implementation=x")
        with pytest.raises(ValueError, match="needs a 'grpc://HOST:PORT' or 'cogment://discover"):
            lab.serve_remote("x", "cogment://client")
        with pytest.raises(Exception, match="no model registry"):
            lab.serve_actor("follower", actors.Policy(lambda o, w: 0, model="m"))
