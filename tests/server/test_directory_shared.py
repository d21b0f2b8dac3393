"""A kernel's lab with a directory, sharing a runtime that knows no directory: its discovery
endpoints are resolved by the lab before the shared orchestrator runs the trial."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cogment_jupyter import Lab, envs
from cogment_jupyter.directory.service import DirectoryServer
from cogment_jupyter.lab.loop_thread import LoopThread
from cogment_jupyter.shared_runtime import read_runtime_file
from tests.server.conftest import discovery_path, recorded
from tests.server.harness import JupyterServer


def lean(observation: np.ndarray) -> int:
    return int(observation[2] + observation[3] > 0)


def test_a_shared_lab_resolves_discovery_endpoints_itself(server: JupyterServer, tmp_path: Path) -> None:
    loop = LoopThread("directory")
    directory = DirectoryServer()
    loop.run(directory.start())
    try:
        with Lab(datastore=tmp_path / "elsewhere", directory=directory.endpoint) as coach:
            coach.serve_actor("lean", lean)
            arguments = read_runtime_file(discovery_path(server)).lab_arguments()
            shared = {"shared": arguments["orchestrator"], "shared_datalog": arguments["datalog"]}  # as %cogment launch
            with Lab(datastore=arguments["datastore"], **shared, directory=directory.endpoint) as student:
                assert student.mode == "shared"
                student.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
                student.serve_remote("coach", "cogment://discover/actor?__implementation=lean")
                handle = student.start_trial("cartpole", "coach", seed=2, max_steps=25)
                handle.wait(60)
                assert handle.remote and not handle.errors, handle.errors
                # the shared runtime ran and recorded it, with the endpoint the directory gave
                trial = recorded(server, handle.id)["trial"]
                assert trial["state"] == "ENDED"
                steps = student.steps(handle.id)
                actions = [int(a) for a in steps["action"].dropna()]
                assert actions == [lean(np.asarray(o)) for o in steps["observation"]][: len(actions)]
    finally:
        loop.run(directory.stop(0))
        loop.stop()
