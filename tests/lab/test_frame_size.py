"""Trials record their frames at the size asked for (``render_width`` / ``render_height``)."""

from __future__ import annotations

import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.frame_size import resample
from cogment_jupyter.adapters.payloads import decode_observation
from cogment_jupyter.adapters.trial_codec import TrialCodec


def recorded_frames(lab: Lab, trial_id: str) -> list[np.ndarray]:
    """The frame of every recorded observation of the trial's first actor, as stored."""
    steps = lab.steps(trial_id, decode=False)
    codec = TrialCodec.from_params(lab.datastore.params(trial_id))
    first = steps["actor"].iloc[0]
    rows = steps[steps["actor"] == first]
    return [decode_observation(content, codec[first].observation).frame for content in rows["observation"]]


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_actor("constant", actors.Constant(1))
        yield lab


def test_a_trial_stores_its_frames_at_the_width_asked_for(lab):
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
    full = lab.start_trial("cartpole", "constant", seed=3, max_steps=4, render=True).wait(60)
    small = lab.start_trial("cartpole", "constant", seed=3, max_steps=4, render_width=150).wait(60)
    assert full.errors == [] and small.errors == []
    big_frames, small_frames = recorded_frames(lab, full.id), recorded_frames(lab, small.id)
    assert len(big_frames) == len(small_frames) > 4
    assert {f.shape for f in big_frames} == {(400, 600, 3)}
    assert {f.shape for f in small_frames} == {(100, 150, 3)}  # render_width alone implies render
    for big, shrunk in zip(big_frames, small_frames, strict=True):  # the same game, resampled
        assert np.array_equal(resample(big, 100, 150), shrunk)


def test_an_environment_sets_a_default_size_a_trial_overrides_it(lab):
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1", render=True, render_height=80))
    default = lab.start_trial("cartpole", "constant", max_steps=2).wait(60)
    asked = lab.start_trial("cartpole", "constant", max_steps=2, render_width=64, render_height=32).wait(60)
    assert {f.shape for f in recorded_frames(lab, default.id)} == {(80, 120, 3)}
    assert {f.shape for f in recorded_frames(lab, asked.id)} == {(32, 64, 3)}


def test_a_service_in_its_own_process_resamples_too(lab):
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"), process=True)
    handle = lab.start_trial("cartpole", "constant", max_steps=2, render_height=100).wait(60)
    assert handle.errors == [] and {f.shape for f in recorded_frames(lab, handle.id)} == {(100, 150, 3)}


def test_a_played_round_shows_and_stores_the_size_asked_for(lab, monkeypatch):
    monkeypatch.setenv("COGMENT_JUPYTER_HUMAN_STAND_IN", "random:3")
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
    widget = lab.play("cartpole", keys=["ArrowLeft", "ArrowRight"], noop=0, fps=0, max_steps=3, render_width=200)
    handle = widget.trial.wait(60)
    widget.close()
    assert handle.errors == []
    assert {f.shape for f in recorded_frames(lab, handle.id)} == {(133, 200, 3)}
    assert widget.last_frame is not None and (widget.last_frame.height, widget.last_frame.width) == (133, 200)


def test_a_bad_size_is_refused_before_the_trial_starts(lab):
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
    with pytest.raises(ValueError, match="render_height must be a whole number of pixels"):
        lab.start_trial("cartpole", "constant", render_height=-5)
