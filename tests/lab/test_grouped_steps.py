"""``lab.steps`` of many trials at once decodes the trials that share spaces together: the frame
is exactly the one a trial-by-trial read gives, whatever the mix of trials (environments with
different spaces in one call, a multi-agent game, a trial with no steps, interrupted and failed
trials, default actions). Real lab, real trials, a real SQLite file."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.datastore import dataframes
from cogment_jupyter.datastore.writer import upsert_trial, write_chunk
from tests.lab.test_component_faults import Answers


def copy_trial(lab: Lab, template: str, trial_id: str, samples: int) -> str:
    """A trial whose writer closed after ``samples`` samples of ``template`` (interrupted)."""
    store = lab.datastore.store
    record = store.record(template)
    batch = store.read(record.seq, 0, samples).combine_chunks().to_batches()

    def write(conn: Any) -> None:
        handle = upsert_trial(conn, trial_id, record.user_id, record.params(), closed=True, writer=None)
        for chunk in batch:
            write_chunk(conn, handle, chunk)

    store.writer.call(write).result()
    return trial_id


def trial_by_trial(lab: Lab, ids: list[str], **options: Any) -> pd.DataFrame:
    """What ``steps`` gives when every trial is read on its own, then the parts concatenated."""
    decode = options.get("decode", True)
    return dataframes.steps_frame([part for i in ids for part in lab.datastore._step_tables(i, decode)])


def exact(value: Any) -> Any:
    """A cell as comparable data that keeps its type (object columns hold arrays, dicts...)."""
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), value.shape, [exact(v) for v in value.ravel().tolist()])
    if isinstance(value, dict):
        return ("dict", sorted((k, exact(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, [exact(v) for v in value])
    if value is pd.NA or value is None:
        return (repr(value),)
    if isinstance(value, float) and math.isnan(value):
        return (type(value).__name__, "nan")
    return (type(value).__name__, value)


def assert_same_frame(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Same columns, dtypes, index and cells (types of the cells too)."""
    assert list(left.columns) == list(right.columns)
    assert list(left.dtypes) == list(right.dtypes)
    pd.testing.assert_index_equal(left.index, right.index, exact=True)
    for column in left.columns:
        assert [exact(v) for v in left[column].tolist()] == [exact(v) for v in right[column].tolist()], column


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    with Lab(datastore=tmp_path_factory.mktemp("grouped") / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_env("frozen", envs.Gymnasium("FrozenLake-v1"))
        lab.serve_env("ttt", envs.PettingZooAEC("classic/tictactoe-v3"))
        lab.serve_actor("random", actors.Random())
        lab.serve_actor("bad-at-2", Answers(7, at=2))
        lab.serve_actor("bad-at-0", Answers(7, at=0))
        run = {
            name: lab.start_trial(env, actor, seed=seed, **options).wait(60)
            for name, env, actor, seed, options in [
                ("cart-a", "cartpole", "random", 1, {}),
                ("cart-b", "cartpole", "random", 2, {"max_steps": 8}),
                ("cart-c", "cartpole", "random", 3, {}),
                ("frozen-a", "frozen", "random", 1, {}),
                ("frozen-b", "frozen", "random", 2, {}),
                ("ttt-a", "ttt", "random", 1, {}),
                ("ttt-b", "ttt", "random", 2, {}),
                ("failed", "cartpole", "bad-at-2", 4, {}),
                ("failed-at-once", "cartpole", "bad-at-0", 5, {}),
                ("defaults", "cartpole", "bad-at-2", 6, {"optional": ["gym"], "default_actions": {"gym": 1}}),
            ]
        }
        ids = {name: handle.id for name, handle in run.items()}
        ids["no-steps"] = copy_trial(lab, ids["cart-a"], "no-steps", 0)
        ids["interrupted"] = copy_trial(lab, ids["cart-c"], "interrupted", 5)
        yield lab, ids


def test_the_trials_cover_the_cases(recorded):
    lab, ids = recorded
    trials = lab.trials().set_index("trial_id")
    assert trials.loc[ids["failed"], "failed"] and trials.loc[ids["failed-at-once"], "failed"]
    assert trials.loc[ids["interrupted"], "interrupted"] and trials.loc[ids["no-steps"], "interrupted"]
    assert trials.loc[ids["no-steps"], "steps"] == 0 and trials.loc[ids["interrupted"], "steps"] > 0
    assert set(lab.steps(ids["ttt-a"])["actor"]) == {"player_1", "player_2"}
    assert "default" in set(lab.steps(ids["defaults"])["action_status"])


@pytest.mark.parametrize(
    "order",
    [
        ["cart-a", "cart-b", "cart-c"],  # one group
        ["cart-a", "frozen-a", "cart-b", "ttt-a", "no-steps", "frozen-b", "cart-c", "ttt-b", "failed"],
        ["ttt-a", "ttt-b", "cart-a", "interrupted", "failed-at-once", "defaults", "no-steps", "cart-c", "failed"],
        ["frozen-a", "frozen-b", "no-steps", "frozen-a"],  # a trial twice
        ["cart-a", "no-steps", "interrupted", "failed", "failed-at-once", "defaults", "cart-b"],
        ["cart-a", "failed-at-once", "cart-b", "defaults"],  # no action at all: left raw when alone
    ],
)
@pytest.mark.parametrize("decode", [True, False])
def test_a_grouped_read_is_the_trial_by_trial_read(recorded, order, decode, monkeypatch):
    lab, ids = recorded
    chosen = [ids[name] for name in order]
    groups: list[list[str]] = []
    group_steps_table = dataframes.group_steps_table

    def seen(group: dataframes.StepGroup) -> Any:  # the real function, its groups noted
        groups.append([r.trial_id for r in group.records])
        return group_steps_table(group)

    monkeypatch.setattr(dataframes, "group_steps_table", seen)
    grouped = lab.steps(chosen, decode=decode)
    assert max(map(len, groups)) >= 2  # trials of one environment did go through together
    monkeypatch.undo()
    alone = trial_by_trial(lab, chosen, decode=decode)
    assert_same_frame(grouped, alone)
    assert grouped["trial_id"].unique().tolist() == list(dict.fromkeys(i for i in chosen if i != "no-steps"))
