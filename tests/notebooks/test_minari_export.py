"""Trials -> Minari datasets -> DataFrames and arrays (cogment_jupyter.lab.minari_export), all local."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.datastore import Datastore

pytest.importorskip("minari", reason='the Minari export needs minari: pip install "minari[arrow]"')

from cogment_jupyter.lab.minari_export import (
    episode_buffers,
    episodes,
    load_minari,
    minari_arrays,
    minari_steps,
    to_minari,
)


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_env("short", envs.Gymnasium("CartPole-v1", max_episode_steps=12))
        lab.serve_actor("random", actors.Random())
        lab.serve_actor("lean", lambda obs: int(obs[2] + obs[3] > 0))
        yield lab


def test_one_trial_is_one_episode_with_n_plus_one_observations(lab, tmp_path):
    handles = lab.run_trials(3, "cartpole", "random", seed=11, progress=False)
    ids = [h.id for h in handles]
    dataset = to_minari(lab, ids, "tests/cartpole/random-v0", root=tmp_path / "minari", env="CartPole-v1")
    assert dataset.total_episodes == 3
    for episode, trial_id in zip(dataset.iterate_episodes(), ids, strict=True):
        data = lab.get_trial_data(trial_id)["gym"]
        n = len(data)
        assert len(episode) == n and episode.observations.shape == (n + 1, 4) and episode.actions.shape == (n,)
        np.testing.assert_array_equal(episode.observations[:n], data.observations)
        np.testing.assert_array_equal(episode.observations[1:], data.next_observations)
        np.testing.assert_array_equal(episode.actions, data.actions)
        np.testing.assert_array_equal(episode.rewards, data.rewards)
        # a random CartPole episode ends because the pole fell: terminated, not truncated
        assert episode.terminations.tolist() == [False] * (n - 1) + [True]
        assert not episode.truncations.any()
    assert dataset.total_steps == sum(len(lab.get_trial_data(i)["gym"]) for i in ids)
    assert dataset.recover_environment().spec.id == "CartPole-v1"


def test_truncation_by_the_env_and_by_max_steps_are_truncations(lab, tmp_path):
    by_env = lab.start_trial("short", "lean", seed=1).wait()  # TimeLimit(12) cuts a balancing policy
    by_lab = lab.start_trial("cartpole", "lean", seed=2, max_steps=5).wait()  # the trial stops it
    found = list(episodes(lab, [by_env.id, by_lab.id]))
    # max_steps=5 soft-ends the trial at tick 5, whose actions are still applied: 6 transitions
    assert [len(e) for e in found] == [12, 6]
    for episode in found:
        assert not episode.terminations.any()
        assert episode.truncations.tolist() == [False] * (len(episode) - 1) + [True]
    assert found[0].seed == 1 and found[1].seed == 2


def test_round_trip_through_dataframes_and_arrays(lab, tmp_path):
    ids = [h.id for h in lab.run_trials(4, "cartpole", "random", seed=3, progress=False)]
    root = tmp_path / "minari"
    to_minari(lab, ids, "tests/cartpole/rt-v0", root=root)
    dataset = load_minari("tests/cartpole/rt-v0", root=root)
    steps = minari_steps(dataset)
    assert steps["trial_id"].unique().tolist() == ids
    assert (steps["agent"] == "gym").all()
    recorded = lab.steps(ids)
    for trial_id, rows in steps.groupby("trial_id", sort=False):
        acted = recorded[(recorded["trial_id"] == trial_id) & recorded["action"].notna()]
        assert rows["action"].tolist() == acted["action"].astype(int).tolist()
        assert rows["reward"].sum() == lab.trials().set_index("trial_id").loc[trial_id, "return"]
    arrays = minari_arrays(dataset)
    assert arrays["observations"].shape == (len(steps), 4)
    np.testing.assert_array_equal(arrays["next_observations"][0], steps["next_observation"][0])
    np.testing.assert_array_equal(arrays["episode_ids"], steps["episode_id"].to_numpy())


def test_exists_overwrite_and_missing(lab, tmp_path):
    ids = [lab.start_trial("cartpole", "random", seed=1).wait().id]
    root = tmp_path / "minari"
    to_minari(lab, ids, "tests/once-v0", root=root)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        to_minari(lab, ids, "tests/once-v0", root=root)
    again = to_minari(lab, ids * 1, "tests/once-v0", root=root, overwrite=True)
    assert again.total_episodes == 1
    with pytest.raises(FileNotFoundError, match="no Minari dataset 'tests/other-v0'"):
        load_minari("tests/other-v0", root=root)
    with pytest.raises(ValueError, match="no episode"):
        to_minari(lab, [], "tests/empty-v0", root=root)


def test_a_closed_lab_datastore_exports_too(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        ids = [h.id for h in lab.run_trials(2, "cartpole", "random", seed=5, progress=False)]
        expected = [len(lab.get_trial_data(i)["gym"]) for i in ids]
    with Datastore(tmp_path / "store") as store:
        buffers = episode_buffers(store, ids)
    assert [len(b) for b in buffers] == expected
    assert [b.id for b in buffers] == [0, 1]
    assert len(buffers[0].observations) == expected[0] + 1


def test_multi_agent_trials_give_one_episode_per_agent_and_skip_spectators(tmp_path):
    class Teacher(actors.Actor):
        def reset(self, agent, spec, context):
            self.send = context.send_reward

        def act(self, observation, frame=None):
            self.send(1.0, "player_0")

    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("rps", envs.PettingZooParallel("classic/rps-v2", make_kwargs={"max_cycles": 4}))
        lab.serve_actor("random", actors.Random())
        lab.serve_actor("teacher", Teacher())
        trial = lab.start_trial("rps", "random", seed=4, spectators={"trainer": "teacher"}).wait()
        assert trial.errors == []
        found = list(episodes(lab, trial.id))
        assert [e.agent for e in found] == ["player_0", "player_1"]
        assert all(len(e) == 4 and e.truncations[-1] and not e.terminations.any() for e in found)
        only = list(episodes(lab, trial.id, agents="player_1"))
        assert [e.agent for e in only] == ["player_1"]
        with pytest.raises(ValueError, match="no agent"):
            list(episodes(lab, trial.id, agents="trainer"))
        dataset = to_minari(lab, trial.id, "tests/rps-v0", root=tmp_path / "minari")
        assert minari_steps(dataset)["agent"].unique().tolist() == ["player_0", "player_1"]


class DictTupleEnv(gym.Env):
    """Dict observations and Tuple actions, to check nested spaces keep their layout."""

    observation_space = gym.spaces.Dict(
        {"pos": gym.spaces.Box(-1.0, 1.0, (2,), np.float32), "flag": gym.spaces.Discrete(2)}
    )
    action_space = gym.spaces.Tuple((gym.spaces.Discrete(3), gym.spaces.Box(0.0, 1.0, (1,), np.float32)))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return {"pos": np.zeros(2, np.float32), "flag": 0}, {}

    def step(self, action):
        self.t += 1
        obs = {"pos": np.full(2, self.t / 10, np.float32), "flag": self.t % 2}
        return obs, float(action[0]), self.t >= 3, False, {}


def test_dict_observations_and_tuple_actions(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("nested", envs.Gymnasium(DictTupleEnv))
        lab.serve_actor("random", actors.Random())
        trial = lab.start_trial("nested", "random", seed=1).wait()
        dataset = to_minari(lab, trial.id, "tests/nested-v0", root=tmp_path / "minari")
    episode = dataset[0]
    assert episode.observations["pos"].shape == (4, 2)
    assert episode.observations["flag"].tolist() == [0, 1, 0, 1]
    assert isinstance(episode.actions, tuple) and episode.actions[0].shape == (3,)
    assert episode.rewards.tolist() == episode.actions[0].astype(float).tolist()
    assert episode.terminations.tolist() == [False, False, True]
    steps = minari_steps(dataset)
    assert steps["observation"][1]["flag"] == 1 and isinstance(steps["action"][0], tuple)
