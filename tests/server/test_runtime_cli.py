"""``cogment-jupyter services runtime`` on its own (no Jupyter server), and discovery's verdicts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cogment_jupyter.access import private_directory
from cogment_jupyter.shared_runtime import (
    NO_SHARED_ENV,
    RUNTIME_ENV,
    SERVER_RUNTIME_ENV,
    orchestrator_answers,
    pid_alive,
    probe_shared_runtime,
    shared_lab_arguments,
)
from tests.server.harness import wait_for


def start_runtime(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "cogment_jupyter.cli", "services", "runtime", *extra]
    log = open(tmp_path / "runtime.log", "ab")  # noqa: SIM115  closed with the process
    return subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        raise


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (RUNTIME_ENV, SERVER_RUNTIME_ENV, NO_SHARED_ENV, "JPY_PARENT_PID"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    runtime_file = tmp_path / "runtime.json"
    process = start_runtime(
        tmp_path,
        "--datastore",
        str(tmp_path / "store"),
        "--runtime_file",
        str(runtime_file),
        "--status_file",
        str(tmp_path / "status"),
    )
    try:
        wait_for(runtime_file.exists, 60, "the runtime file")
        yield process, runtime_file
    finally:
        stop(process)


def test_runtime_file_status_file_and_clean_stop(tmp_path: Path, runtime) -> None:
    process, runtime_file = runtime
    document = json.loads(runtime_file.read_text())
    assert document["pid"] == process.pid
    private = str(private_directory()).replace("/", "%2F")
    assert document["orchestrator"].startswith(f"grpc://unix:{private}%2F{process.pid}-runtime-orchestrator")
    assert document["datastore"].startswith(f"grpc://unix:{private}%2F{process.pid}-runtime-datastore")
    assert document["datastore_file"] == str(tmp_path / "store" / "trials.sqlite3")
    assert set(document["versions"]) >= {"cogment", "cogment_jupyter"}
    assert abs(document["started_at"] - time.time()) < 120
    assert oct(runtime_file.stat().st_mode & 0o777) == "0o600"
    assert orchestrator_answers(document["orchestrator"], timeout=10) is None
    assert (tmp_path / "status").read_text() == "IR"
    assert stop(process) == 0
    assert (tmp_path / "status").read_text() == "IRT"
    assert not runtime_file.exists()


def test_a_lab_attached_through_the_override_records_in_process(
    tmp_path: Path, runtime, clean_env: pytest.MonkeyPatch
) -> None:
    """``COGMENT_JUPYTER_RUNTIME`` names a hand-started runtime; its trials log to its own datastore."""
    from cogment_jupyter import Lab, actors, envs
    from cogment_jupyter.datastore import Datastore

    _, runtime_file = runtime
    clean_env.setenv(RUNTIME_ENV, str(runtime_file))
    found = probe_shared_runtime()
    assert found.runtime is not None and found.runtime.source == RUNTIME_ENV and found.runtime.server_pid is None
    arguments = shared_lab_arguments()
    assert arguments == {
        "orchestrator": found.runtime.orchestrator,
        "datalog": found.runtime.datastore,
        "datastore": str(tmp_path / "store"),
        "model_registry": found.runtime.model_registry,
    }
    assert found.runtime.model_registry.startswith("grpc://unix:")  # private, as the rest
    with Lab(**arguments) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        handle = lab.start_trial("cartpole", "random", seed=3)
        handle.wait(60)
    with Datastore(tmp_path / "store") as store:

        def ended() -> bool:
            trials = store.trials(state="ENDED")
            return handle.id in set(trials["trial_id"])

        wait_for(ended, 30, "the trial recorded by the runtime")
        assert len(store.steps(handle.id)) > 0


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_runtime(tmp_path, "--datastore", str(tmp_path / "store"), "--orchestrator_port", str(port))
        assert process.wait(60) != 0
    log = (tmp_path / "runtime.log").read_text()
    assert f"127.0.0.1:{port}" in log and "in use" in log


def test_runtime_exits_when_its_parent_is_gone(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    runtime_file = tmp_path / "runtime.json"
    process = start_runtime(
        tmp_path,
        "--datastore",
        str(tmp_path / "store"),
        "--runtime_file",
        str(runtime_file),
        "--parent_pid",
        str(parent.pid),
    )
    try:
        wait_for(runtime_file.exists, 60, "the runtime file")
        parent.kill()
        parent.wait(5)
        assert process.wait(15) == 0
        assert not runtime_file.exists()
    finally:
        parent.kill()
        stop(process)


def test_discovery_verdicts(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    assert probe_shared_runtime().runtime is None
    assert "not started by a Jupyter server" in probe_shared_runtime().reason
    assert shared_lab_arguments() is None

    clean_env.setenv(RUNTIME_ENV, str(tmp_path / "missing.json"))
    assert "does not exist" in probe_shared_runtime().reason
    (tmp_path / "garbage.json").write_text("{not json")
    clean_env.setenv(RUNTIME_ENV, str(tmp_path / "garbage.json"))
    assert "not JSON" in probe_shared_runtime().reason
    (tmp_path / "foreign.json").write_text('{"hello": 1}')
    clean_env.setenv(RUNTIME_ENV, str(tmp_path / "foreign.json"))
    assert "not a cogment_jupyter runtime file" in probe_shared_runtime().reason

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    assert not pid_alive(dead.pid)
    stale = {
        "pid": dead.pid,
        "server_pid": dead.pid,
        "orchestrator": "grpc://127.0.0.1:1",
        "datastore": "grpc://127.0.0.1:2",
        "datastore_file": str(tmp_path / "store" / "trials.sqlite3"),
    }
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    clean_env.delenv(RUNTIME_ENV)
    clean_env.setenv(SERVER_RUNTIME_ENV, str(tmp_path / "stale.json"))
    assert f"Jupyter server (pid {dead.pid}) is gone" in probe_shared_runtime().reason

    stale["server_pid"] = os.getpid()  # a live "server" whose orchestrator does not answer
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    assert "does not answer" in probe_shared_runtime(timeout=0.5).reason

    clean_env.setenv(NO_SHARED_ENV, "1")
    assert probe_shared_runtime().reason == f"disabled by {NO_SHARED_ENV}"
