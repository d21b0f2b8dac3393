"""Replaying recorded trials, including one recorded by another process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.trial_codec import TrialCodec
from cogment_jupyter.datastore import Datastore
from cogment_jupyter.notebook.replay import ReplayWidget

RECORD = """
from cogment_jupyter import Lab, envs, actors
with Lab(datastore={store!r}) as lab:
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1", render=True))
    lab.serve_actor("random", actors.Random())
    print(lab.start_trial("cartpole", "random", seed=5, max_steps=12).wait(60).id)
"""


def test_replay_a_trial_recorded_in_another_process(tmp_path):
    store = str(tmp_path / "store")
    done = subprocess.run(
        [sys.executable, "-c", RECORD.format(store=store)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    trial_id = done.stdout.strip().splitlines()[-1]
    datastore = Datastore(store, decoders=[TrialCodec.from_params])
    replay = ReplayWidget(datastore, trial_id, fps=20)
    assert replay.ticks == list(range(14))
    first = replay.view.last_frame
    assert first is not None
    replay.slider.value = 5
    assert replay.view.tick == 5 and "tick 5" in replay.details.value
    assert replay.view.last_frame is not first
    assert replay.view.episode_return == pytest.approx(6.0)  # a reward of 1 for each of ticks 0..5
    replay.speed.value = "2x"
    assert replay.player.interval == 25
    frames = [replay._frame(t) for t in (0, 5)]
    assert all(f is not None and f.shape == (400, 600, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[1])
    datastore.close()


def test_lab_replay_without_frames_says_so(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        handle = lab.start_trial("cartpole", "random", max_steps=3)
        replay = lab.replay(handle.id)
        assert "without frames" in replay.children[1].value
        assert replay.view.last_frame is None and "gym" in replay.details.value
