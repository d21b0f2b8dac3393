"""Cogment Lab 0.1.5's own environments and actors in this lab's trials (``protocol="cogment_lab"``):
with our components, with each other and with a person at a widget, recorded and read back.
Lab's services run unchanged, in their own Python 3.10 (``conftest.py``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.lab_format import LabFormatError
from cogment_jupyter.proto.cogment_lab import data_pb2
from cogment_jupyter.transport import liveness

#: Building Cogment Lab's venv (first run only: pip, ~80 s, more on a busy machine) is fixture
#: set-up; the 120 s limit holds for each test's own body.
pytestmark = pytest.mark.timeout(120, func_only=True)


@pytest.fixture
def lab(tmp_path, lab_services):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("ours", lambda o: int(o[2] + o[3] > 0))
        lab.serve_remote("lean", lab_services.endpoint, protocol="cogment_lab")
        lab.serve_remote(
            "labpole", lab_services.endpoint, "cartpole", protocol="cogment_lab", agents=envs.Gymnasium("CartPole-v1")
        )
        yield lab


def replayed(seed: int, actions: list[int]) -> list[np.ndarray]:
    """CartPole's observations for these actions, from Gymnasium here."""
    env = gym.make("CartPole-v1")
    observations = [env.reset(seed=seed)[0]]
    for action in actions:
        observations.append(env.step(action)[0])
    return observations


def test_a_lab_actor_plays_our_environment(lab):
    handle = lab.start_trial("cartpole", "lean", seed=11, max_steps=30).wait(60)
    assert handle.errors == [] and handle.tick >= 10
    steps = lab.steps(handle.id).dropna(subset=["action"])
    # Lab's actor pushes toward the pole's lean: it saw the observations we recorded
    assert steps["action"].tolist() == [int(o[2] > 0) for o in steps["observation"]]
    raw = lab.steps(handle.id, decode=False)["action"].iloc[0]
    action = data_pb2.PlayerAction.FromString(raw)  # recorded as Lab sent it: one-hot int64
    assert list(action.value.shape) == [2] and np.frombuffer(action.value.raw_data, np.int64).sum() == 1
    assert "cogment_lab" in lab.services["lean"]


def test_our_actor_plays_a_lab_environment_same_game_same_frames(lab):
    handle = lab.start_trial("labpole", "ours", seed=5, max_steps=25, render=True).wait(60)
    assert handle.errors == []
    steps = lab.steps(handle.id)
    actions = steps["action"].dropna().astype(int).tolist()
    expected = replayed(5, actions)
    assert len(steps) == len(expected)
    for got, want in zip(steps["observation"], expected, strict=True):
        np.testing.assert_allclose(np.asarray(got, dtype=np.float32), want, rtol=1e-6)
    assert steps["reward"].iloc[:-1].eq(1.0).all()
    replay = lab.replay(handle.id)  # Lab's PNG frames, read back
    frame = replay._frame(3)
    assert frame is not None and frame.shape == (400, 600, 3) and frame.std() > 0


def test_lab_environment_and_lab_actor_recorded_and_read_back(lab):
    handle = lab.start_trial("labpole", "lean", seed=2, max_steps=40).wait(60)
    assert handle.errors == []
    data = lab.get_trial_data(handle.id)["gym"]
    assert data.observations.shape == (len(data.actions), 4) and data.observations.dtype == np.float32
    assert data.actions.tolist() == [int(o[2] > 0) for o in data.observations]
    np.testing.assert_allclose(data.next_observations[:-1], data.observations[1:])
    assert data.rewards.sum() == len(data.actions)


def test_a_batch_of_trials_with_lab_services_seeds_each_in_labs_own_config(lab):
    handles = lab.run_trials(3, "labpole", "lean", seed=40, max_steps=12)
    assert [h.errors for h in handles] == [[], [], []]
    for handle in handles:  # each trial's Lab environment reset with its own seed, as Gymnasium here
        steps = lab.steps(handle.id)
        actions = steps["action"].dropna().astype(int).tolist()
        first = np.asarray(steps["observation"].iloc[0], dtype=np.float32)
        np.testing.assert_allclose(first, replayed(handle.seed, actions)[0], rtol=1e-6)
    assert len({h.seed for h in handles}) == 3


def test_a_person_plays_a_lab_environment(lab, monkeypatch):
    monkeypatch.setenv("COGMENT_JUPYTER_HUMAN_STAND_IN", "random:4")
    widget = lab.play("labpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=6)
    handle = widget.trial.wait(60)
    widget.close()
    assert handle.errors == []
    assert lab.steps(handle.id)["action"].iloc[:7].tolist() == widget.actions
    assert (widget.last_frame.width, widget.last_frame.height) == (600, 400)  # Lab's PNG frames, shown


def test_a_lab_turn_based_environment_with_our_agents(lab, lab_services):
    lab.serve_actor("random", actors.Random())
    lab.serve_remote("rps", lab_services.endpoint, protocol="cogment_lab", agents=envs.PettingZooAEC("classic/rps-v2"))
    handle = lab.start_trial("rps", "random", seed=1, max_steps=8).wait(60)
    assert handle.errors == []
    steps = lab.steps(handle.id)
    for _, tick in steps[steps["tick"] < handle.tick].groupby("tick"):
        acting = tick.dropna(subset=["action"])  # one player a turn: the other is inactive, acts None
        assert len(acting) == 1 and acting["observation"].notna().all()
    assert set(steps["actor"]) == {"player_0", "player_1"}


def test_a_lab_service_without_its_protocol_ends_the_trial_with_an_error(lab, lab_services, monkeypatch):
    monkeypatch.setattr(liveness, "PERIOD", 1.0)  # (15 s in use: heartbeat after 1 s of silence, lost after 2)
    lab.serve_remote("lean-as-ours", lab_services.endpoint, "lean")  # Lab's actor cannot read our config
    handle = lab.start_trial("cartpole", "lean-as-ours", max_steps=5).wait(90)
    assert handle.state == "ENDED" and handle.errors
    assert "stopped answering" in handle.errors[0] and "see its log" in handle.errors[0]


def test_what_lab_cannot_carry_is_refused_at_once(lab, lab_services):
    with pytest.raises(KeyError, match=r"taken for an actor: to use it as an environment, name its agents"):
        lab.start_trial("lean", "ours")
    with pytest.raises(LabFormatError, match="no Tuple spaces"):
        paired = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(3)))
        lab.serve_remote("tuple", lab_services.endpoint, protocol="cogment_lab", agents={"gym": (paired, paired)})
    with pytest.raises(ValueError, match="a Cogment Lab environment takes no config="):
        lab.start_trial("labpole", "ours", config={"difficulty": 2})
    with pytest.raises(ValueError, match="protocol must be 'cogment'"):
        lab.serve_remote("x", lab_services.endpoint, protocol="lab")


def test_a_lab_environment_that_fails_to_start_ends_the_trial_with_its_error(lab):
    # Lab 0.1.5 shrinks frames with Pillow's ANTIALIAS, removed in Pillow 10: its environment fails
    handle = lab.start_trial("labpole", "ours", max_steps=3, render_width=100).wait(60)
    assert handle.state == "ENDED" and handle.tick == 0
    assert "failed to initialize" in handle.errors[0] and "ANTIALIAS" in handle.errors[0]
