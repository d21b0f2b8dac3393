"""Interrupting a cell stops what it waits for: a real kernel, a real SIGINT through jupyter_client.

``run_trials`` starts no trial after the interrupt and cancels the running ones; a wait on a
trial cancels that trial. Both keep what the cancelled trials recorded, close the progress bar
and end the cell with one line, no traceback through the lab.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager, start_new_kernel

from tests.interrupt_checks import recorded_trials, summary_counts, unchanged_for
from tests.waiting import wait_for

SETUP = """
%load_ext cogment_jupyter
%cogment launch --datastore store
import time
from cogment_jupyter import envs, actors
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
lab.serve_actor("random", actors.Random())


def slow_lean(observation, calls=[0]):  # balances the pole, 20 ms a tick; says how far it got
    calls[0] += 1
    open("ticks.txt", "w").write(str(calls[0]))
    time.sleep(0.02)
    return int(observation[2] + observation[3] > 0)


lab.serve_actor("slow_lean", slow_lean)
"""


class Kernel:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.manager: KernelManager
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=str(cwd))

    def start(self, code: str) -> str:
        return self.client.execute(code)

    def outputs(self, msg_id: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The cell's outputs until the kernel is idle again."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return out
            if msg["msg_type"] in ("stream", "error"):
                out.append({"type": msg["msg_type"], **msg["content"]})
        raise AssertionError(f"the cell did not end within {timeout:.0f} s; outputs so far {out}")

    def run(self, code: str, timeout: float = 60.0) -> str:
        outputs = self.outputs(self.start(code), timeout)
        errors = [o for o in outputs if o["type"] == "error"]
        assert not errors, errors
        return "".join(o["text"] for o in outputs if o["type"] == "stream")

    def value(self, expression: str) -> Any:
        import json

        return json.loads(self.run(f"import json as _j; print(_j.dumps({expression}))").strip().splitlines()[-1])


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kernel]:
    monkeypatch.setenv("COGMENT_JUPYTER_NO_SHARED", "1")
    k = Kernel(tmp_path)
    try:
        k.run(SETUP)
        yield k
    finally:
        k.client.stop_channels()
        k.manager.shutdown_kernel(now=True)


def the_one_error(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    errors = [o for o in outputs if o["type"] == "error"]
    assert len(errors) == 1, outputs
    error = errors[0]
    assert len(error["traceback"]) == 1, error["traceback"]  # one line, no frames of the lab's code
    assert "KeyboardInterrupt" in error["traceback"][0]
    return error


@pytest.mark.timeout(240)
def test_interrupting_run_trials_stops_the_batch(kernel: Kernel) -> None:
    db = Path(kernel.value("str(lab.datastore.file)"))
    cell = kernel.start("hs = lab.run_trials(20000, 'cartpole', 'random')")
    wait_for(lambda: recorded_trials(db) > 50, 120, "the batch to record some trials")
    kernel.manager.interrupt_kernel()
    interrupted_at = time.monotonic()
    outputs = kernel.outputs(cell)
    error = the_one_error(outputs)
    assert error["evalue"].startswith("run_trials interrupted: ")
    assert " of 20,000 trials finished" in error["evalue"]
    # the count stops growing within a second of the interrupt: watched from then on for 2 s
    time.sleep(max(0.0, interrupted_at + 1.0 - time.monotonic()))
    after_1s = recorded_trials(db)
    assert unchanged_for(2.0, lambda: recorded_trials(db)) == after_1s < 20000
    # every trial the batch started is recorded: the finished ones and the cancelled ones, these
    # as cancelled, with their steps so far
    finished, cancelled_n = summary_counts(error["evalue"])
    assert finished + cancelled_n == after_1s
    cancelled = kernel.value("[h.id for h in lab.handles if h.end_details and 'interrupted' in h.end_details]")
    assert len(cancelled) == cancelled_n
    for trial_id in cancelled:
        events = kernel.value(f"[list(e) for e in lab.steps({trial_id!r})['events']]")
        assert events and any("Forced termination" in e for e in events[-1])
    records = kernel.value(
        f"lab.trials().set_index('trial_id').loc[{cancelled!r}, ['end_details', 'failed']].values.tolist()"
    )
    assert records == [["Cancelled: the wait for it was interrupted", False]] * len(cancelled)
    assert kernel.value("len(__import__('tqdm').tqdm._instances)") == 0  # the progress bar is closed
    assert kernel.value("'hs' in globals()") is False  # the cell stopped where it was interrupted


@pytest.mark.timeout(180)
def test_interrupting_a_wait_cancels_the_trial_and_keeps_its_steps(kernel: Kernel) -> None:
    kernel.run("h = lab.start_trial('cartpole', 'slow_lean')")
    cell = kernel.start("h.wait()\nprint('not reached')")
    ticks = kernel.cwd / "ticks.txt"
    wait_for(lambda: ticks.exists() and int(ticks.read_text() or 0) >= 20, 60, "the trial to play 20 ticks")
    kernel.manager.interrupt_kernel()
    outputs = kernel.outputs(cell)
    error = the_one_error(outputs)
    assert "cancelled at tick" in error["evalue"]
    assert not [o for o in outputs if o["type"] == "stream" and "not reached" in o["text"]]
    state = kernel.value("[h.state, h.tick, h.end_details, len(lab.steps(h.id))]")
    assert state[0] == "ENDED" and 0 < state[1] < 500
    assert "interrupted" in state[2]
    assert state[3] >= state[1]  # one row per tick played, the last one marked as a forced termination
