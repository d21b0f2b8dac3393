"""Trial data exactly as recorded: info through steps(), get_trial_data, Minari and Parquet; fields=."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

from cogment_jupyter import Lab, actors, concatenate, envs

SEED = 3


class Chatty(gym.Env):
    """Returns info at reset and at every step, of several kinds."""

    observation_space = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {"start": 1, "pos": [0, 0]}

    def step(self, action):
        self.t += 1
        info = {"t": self.t, "label": f"s{self.t}", "pos": [self.t, -self.t], "nested": {"a": self.t * 0.5}}
        return np.full(2, self.t, np.float32), 1.0, self.t >= 4, False, info


def step_info(t: int) -> dict:
    return {"t": t, "label": f"s{t}", "pos": [t, -t], "nested": {"a": t * 0.5}}


RESET_INFO = {"start": 1, "pos": [0, 0], "seed": SEED}


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("chatty", envs.Gymnasium(Chatty))
        lab.serve_actor("random", actors.Random())
        yield lab


def test_info_round_trips_through_steps_trial_data_minari_and_parquet(lab, tmp_path):
    handle = lab.start_trial("chatty", "random", seed=SEED).wait(30)
    assert handle.errors == []
    expected = [RESET_INFO] + [step_info(t) for t in range(1, 5)]  # the reset's, then each step's

    steps = lab.steps(handle.id)
    assert [json.loads(text) for text in steps["info"]] == expected

    data = lab.get_trial_data(handle.id)["gym"]
    assert len(data) == 4 and len(data.info) == 5  # N + 1, as Minari
    assert list(data.info) == expected and data.info[0] == RESET_INFO and data.info[-1] == step_info(4)
    assert data.info[1:3] == expected[1:3] and data.info == expected
    joined = concatenate([data, data])  # each trial brings its T + 1 infos
    assert len(joined.info) == 10 and joined.info[5] == RESET_INFO and len(joined) == 8

    pytest.importorskip("minari")
    from cogment_jupyter.lab.minari_export import load_minari, to_minari

    to_minari(lab, handle.id, "tests/chatty-v0", root=tmp_path / "minari")
    infos = load_minari("tests/chatty-v0", root=tmp_path / "minari")[0].infos
    np.testing.assert_array_equal(infos["pos"], [[0, 0], [1, -1], [2, -2], [3, -3], [4, -4]])
    np.testing.assert_array_equal(infos["t"], [np.nan, 1, 2, 3, 4])  # absent at the reset
    assert infos["label"].tolist() == [None, "s1", "s2", "s3", "s4"]
    assert [d["a"] for d in infos["nested"]] == [None, 0.5, 1.0, 1.5, 2.0]  # Minari reads nested infos as dicts
    np.testing.assert_array_equal(infos["seed"], [SEED, np.nan, np.nan, np.nan, np.nan])

    shared = lab.export_steps(tmp_path / "share" / "chatty.parquet", [handle.id])
    read = pd.read_parquet(shared)  # plain pandas, no options
    assert [json.loads(text) for text in read["info"]] == expected
    np.testing.assert_array_equal(np.stack(read["observation"].iloc[:5]), np.stack(steps["observation"].iloc[:5]))


def dense(value: np.ndarray) -> np.ndarray:
    """pandas reads nested lists as arrays of arrays."""
    return np.stack([dense(v) for v in value]) if value.dtype == object else value


def test_shared_parquet_files_open_with_pandas_polars_and_duckdb(lab, tmp_path):
    import duckdb  # dev dependencies, like every reader a shared file is for
    import polars

    lab.serve_env("pong", envs.PettingZooParallel("butterfly/cooperative_pong-v6"))
    ids = [lab.start_trial("chatty", "random", seed=SEED).wait(30).id]
    ids.append(lab.start_trial("pong", "random", seed=1, max_steps=3).wait(60).id)
    for trial_id in ids:
        steps = lab.steps(trial_id)
        shared = lab.export_steps(tmp_path / f"{trial_id}.parquet", trial_id)
        frame = pd.read_parquet(shared)
        assert frame["tick"].tolist() == steps["tick"].tolist() and frame["info"].tolist() == steps["info"].tolist()
        shared_first = dense(frame["observation"].iloc[0])  # images as nested lists
        np.testing.assert_array_equal(shared_first.ravel(), np.asarray(steps["observation"].iloc[0]).ravel())
        assert shared_first.shape == ((2,) if trial_id == ids[0] else (280, 480, 3))
        assert polars.read_parquet(shared)["actor"].to_list() == steps["actor"].tolist()
        assert duckdb.sql(f"SELECT count(*) FROM '{shared}'").fetchall()[0][0] == len(steps)
    archive = lab.datastore.export_parquet(tmp_path / "archive.parquet")  # the lossless export too
    assert set(pd.read_parquet(archive)["trial_id"]) == set(ids)
    assert polars.read_parquet(archive).height == duckdb.sql(f"SELECT count(*) FROM '{archive}'").fetchall()[0][0]


def test_fields_select_what_is_read(lab):
    handle = lab.start_trial("chatty", "random", seed=SEED).wait(30)
    data = lab.get_trial_data(handle.id, fields=["observations", "rewards"])["gym"]
    assert data.observations.shape == (4, 2) and data.rewards.tolist() == [1.0] * 4
    assert data.actions is None and data.next_observations is None and data.info is None and len(data) == 4
    with pytest.raises(ValueError, match=r"unknown TrialData field\(s\) \['observation'\]"):
        lab.get_trial_data(handle.id, fields=["observation"])
    everything = lab.get_trial_data(handle.id)["gym"]
    assert np.array_equal(everything.observations, data.observations)
    everything.observations[0, 0] = 9.0  # arrays are the caller's own
