"""The magics in a real kernel, and a lab attached to an orchestrator in another process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.lab import remote as remote_module
from tests.transport.test_cli_and_hooks import free_port


def run_notebook(cells: list[str], cwd) -> list[str]:
    """Execute cells in a fresh ipykernel; the text each cell printed or displayed."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    texts = []
    for cell in notebook.cells:
        parts = []
        for output in cell.outputs:
            if output.output_type == "stream":
                parts.append(output.text)
            elif "data" in output:
                parts.append(output.data.get("text/plain", ""))
        texts.append("".join(parts))
    return texts


def test_magics_launch_status_and_stop_in_a_kernel(tmp_path):
    outputs = run_notebook(
        [
            "%load_ext cogment_jupyter",
            "try:\n    %cogment status\nexcept Exception as e:\n    print(type(e).__name__, e)",
            "%cogment launch --datastore trials",
            "from cogment_jupyter import Lab, envs, actors\n"
            "assert Lab.current() is lab\n"
            "lab.serve_env('cartpole', envs.Gymnasium('CartPole-v1'))\n"
            "lab.serve_actor('random', actors.Random())\n"
            "handle = lab.start_trial('cartpole', 'random')\n"
            "print('started', handle.id)",
            "handle.wait(30); print('ticks', handle.tick, 'rows', len(lab.steps(handle.id)))",
            "%cogment status",
            "%cogment stop",
            "%cogment stop",
        ],
        tmp_path,
    )
    assert "LabNotLaunched" in outputs[1] and "%cogment launch" in outputs[1]
    assert "Cogment lab ready in" in outputs[2]
    ticks, rows = (int(x) for x in outputs[4].split()[1::2])
    assert rows == ticks + 1
    assert "cartpole" in outputs[5] and "ENDED" in outputs[5] and "embedded" in outputs[5]
    assert outputs[6].strip() == "Cogment lab stopped."
    assert outputs[7].strip() == "No Cogment lab is running."
    assert (tmp_path / "trials" / "trials.sqlite3").exists()


@pytest.fixture
def remote_orchestrator():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cogment_jupyter.cli",
            "orchestrator",
            f"--lifecycle_port={port}",
            f"--actor_port={port}",
            "--log_level=error",
        ]
    )
    yield f"grpc://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    process.wait(10)


def attached_lab(orchestrator: str, datastore, timeout: float = 30.0) -> Lab:
    """A lab attached to an orchestrator that may still be starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Lab(datastore=datastore, orchestrator=orchestrator)
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_lab_attached_to_another_orchestrator(remote_orchestrator, tmp_path):
    with attached_lab(remote_orchestrator, tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        handle = lab.start_trial("cartpole", "random", seed=4).wait(60)
        assert handle.state == "ENDED" and handle.errors == []
        assert len(lab.steps(handle.id)) == handle.tick + 1
        assert "attached" in repr(lab.status())


def test_an_unrecorded_trial_on_another_orchestrator_does_not_wait_for_its_record(remote_orchestrator, tmp_path):
    with attached_lab(remote_orchestrator, tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        handle = lab.start_trial("cartpole", "random", seed=4, max_steps=3, datalog=False)
        handle.wait(10)  # the record it would wait for never comes: no 30 s wait
        assert handle.state == "ENDED" and handle.errors == [] and handle.tick == 4
        assert handle.id not in set(lab.trials()["trial_id"])


def test_a_shared_trial_recorded_in_another_datastore_says_where(remote_orchestrator, tmp_path):
    """A runtime started by hand in another directory records there: the handle says so, as soon
    as that datastore holds the trial (no waiting for a record that cannot come)."""
    with Lab(datastore=tmp_path / "runtime") as runtime_store:
        deadline = time.monotonic() + 30
        while True:
            try:
                endpoint = runtime_store.datastore_endpoint
                lab = Lab(tmp_path / "kernel", shared=remote_orchestrator, shared_datalog=endpoint)
                break
            except ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with lab:
            lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"), process=True)  # not all in the kernel: shared
            lab.serve_actor("random", actors.Random())
            # its record is elsewhere: known once that datastore holds it, long before STORED_TIMEOUT
            handle = lab.start_trial("cartpole", "random", seed=4, max_steps=3).wait(remote_module.STORED_TIMEOUT / 2)
            assert handle.remote and handle.state == "ENDED" and len(handle.errors) == 1
            assert "not in this lab's datastore" in handle.errors[0]
            assert runtime_store.datastore_endpoint in handle.errors[0]
        assert handle.id in set(runtime_store.trials(scope="all")["trial_id"])
