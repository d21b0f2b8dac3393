"""Trials a lab runs on the shared runtime's orchestrator (``Lab(orchestrator=X, datalog=Y,
datastore=<Y's directory>)``): ``wait()`` returns once every step can be read, and a running
trial's handle shows its live tick."""

from __future__ import annotations

from tests.server.harness import JupyterServer, wait_for


def test_wait_returns_once_every_step_is_readable(server: JupyterServer, shared_lab) -> None:
    assert shared_lab.mode == "attached" and shared_lab.external_datalog
    for n in range(12):
        handle = shared_lab.start_trial("cartpole", "random", seed=n).wait(60)
        assert handle.remote and handle.errors == [], handle.errors
        assert len(shared_lab.steps(handle.id)) == handle.tick + 1  # read at once: nothing missing
    for handle in shared_lab.run_trials(12, "cartpole", "random", progress=False, seed=100):
        assert handle.errors == [] and len(shared_lab.steps(handle.id)) == handle.tick + 1


def test_a_running_remote_trial_shows_its_live_tick(server: JupyterServer, shared_lab) -> None:
    handle = shared_lab.start_trial("endless", "slow", properties={"suite": "live tick"})
    try:
        first = wait_for(lambda: handle.tick if handle.state == "RUNNING" and handle.tick > 0 else 0, 30, "a tick")
        wait_for(lambda: handle.tick > first, 30, f"the tick moving on from {first}")
        assert handle.remote and "RUNNING" in repr(handle)
    finally:
        handle.cancel()
    handle.wait(30)
    assert handle.state == "ENDED"
