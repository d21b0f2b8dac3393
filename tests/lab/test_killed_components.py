"""A component served in its own process and killed (SIGKILL by pid) mid-trial: the trial ends
recorded as failed, with the reason, and ``lab.trials()`` tells it from a finished episode."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pandas as pd
import pytest

from cogment_jupyter import Lab, actors, envs


class Paced(actors.Actor):
    """Acts every 20 ms (without blocking the lab's loop), so a trial is still running when killed."""

    async def act(self, observation, frame=None):
        await asyncio.sleep(0.02)
        return 0


def _wait_running(handle, ticks: int = 3, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not (handle.state == "RUNNING" and handle.tick >= ticks):
        assert time.monotonic() < deadline, f"trial still {handle.state} at tick {handle.tick}"
        assert not handle.ended, (handle.errors, handle.end_details)
        time.sleep(0.01)


@pytest.mark.parametrize("killed", ["environment", "actor"])
def test_a_killed_component_ends_the_trial_recorded_as_failed(tmp_path, killed: str) -> None:
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1", make_kwargs={"max_episode_steps": 100_000}))
        lab.serve_actor("paced", Paced())
        lab.serve_env("cartpole-process", envs.Gymnasium("CartPole-v1"), process=killed == "environment")
        lab.serve_actor("paced-process", Paced(), process=killed == "actor")
        normal = lab.start_trial("cartpole", "paced", max_steps=5).wait(60)
        cancelled = lab.start_trial("cartpole", "paced")
        _wait_running(cancelled)
        cancelled.cancel()
        cancelled.wait(60)

        victim = "cartpole-process" if killed == "environment" else "paced-process"
        env = "cartpole-process" if killed == "environment" else "cartpole"
        handle = lab.start_trial(env, "paced-process" if killed == "actor" else "paced")
        _wait_running(handle)
        os.kill(lab.processes[victim], signal.SIGKILL)
        handle.wait(60)

        assert handle.state == "ENDED"
        who = "environment [env]" if killed == "environment" else "actor [gym]"
        assert handle.errors and f"{who} disconnected" in handle.errors[0], handle.errors
        reason = "Environment disconnected" if killed == "environment" else "Required actors [gym] unavailable"
        assert reason in handle.end_details

        trials = lab.trials().set_index("trial_id")
        failed = trials.loc[handle.id]
        assert failed["state"] == "ENDED" and bool(failed["failed"]) and not bool(failed["interrupted"])
        assert reason in failed["end_details"]
        assert not bool(trials.loc[normal.id, "failed"]) and pd.isna(trials.loc[normal.id, "end_details"])
        assert not bool(trials.loc[cancelled.id, "failed"])
        assert trials.loc[cancelled.id, "end_details"] == "Externally requested"
        assert list(trials.index[trials["failed"]]) == [handle.id]

        events = [event for row in lab.steps(handle.id)["events"] for event in (row or ())]
        assert any("disconnected" in event for event in events), events  # the tick says what happened

        lab.stop_service(victim)  # the lab goes on
        assert lab.start_trial("cartpole", "paced", max_steps=3).wait(60).errors == []
