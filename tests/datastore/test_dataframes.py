"""pandas frames: trials() filters, the decoding hook, Parquet export/import."""

from __future__ import annotations

import sqlite3
import struct
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from cogment.api.common_pb2 import TrialParams

from cogment_jupyter.datastore import Datastore, DatastoreError, TrialDecoder
from cogment_jupyter.datastore.stored_samples import SampleConverter
from cogment_jupyter.engine.records import Action, ObservationSet, Reward, RewardSource, Sample, TrialState
from tests.datastore.helpers import make_params, values
from tests.datastore.test_inprocess import record_trial, records

pytestmark = pytest.mark.timeout(30)


class VectorCodec:
    """Tiny decoder for the tests: observations are float32 pairs, actions one signed byte."""

    def __init__(self, text_actor: int | None = None) -> None:
        self.text_actor = text_actor

    def decode_observations(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array:
        assert isinstance(contents, pa.BinaryArray) and contents.null_count == 0
        if actor_index == self.text_actor:
            return pc.binary_length(contents)
        flat = np.frombuffer(b"".join(contents.to_pylist()), dtype="<f4")
        return pa.FixedSizeListArray.from_arrays(pa.array(flat), 2)

    def decode_actions(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array:
        assert isinstance(contents, pa.BinaryArray) and contents.null_count == 0
        return pa.array([struct.unpack("b", b)[0] for b in contents.to_pylist()], pa.int8())


def vector_factory(params: TrialParams) -> TrialDecoder | None:
    if params.properties.get("codec") == "vector":
        return VectorCodec()
    if params.properties.get("codec") == "mixed":
        return VectorCodec(text_actor=1)
    return None


def vector_samples(n: int) -> list[Sample]:
    return [
        Sample(
            tick_id=t,
            timestamp=t,
            state=TrialState.ENDED if t == n - 1 else TrialState.RUNNING,
            observations=ObservationSet([struct.pack("<2f", t, -t), struct.pack("<2f", 7, 7)], [0, 1]),
            actions=[None, None] if t == n - 1 else [Action(t, struct.pack("b", t % 3 - 1)), Action(t, b"\x05")],
            rewards=[Reward(-1, "*", 0.5, [RewardSource("env", 0.5, 1.0)])],
        )
        for t in range(n)
    ]


@pytest.fixture
def codec(datastore):
    datastore.decoders = (vector_factory,)


async def test_decoder_hook(datastore, codec):
    actors = (("a", "c", "i"), ("b", "c", "i"))
    await record_trial(datastore, "vec", vector_samples(4), properties={"codec": "vector"}, actors=actors)
    await record_trial(datastore, "raw", vector_samples(4), actors=actors)
    steps = datastore.steps("vec")
    a = steps[steps.actor == "a"]
    assert [list(v) for v in a["observation"]] == [[t, -t] for t in range(4)]
    assert [list(v) for v in steps[steps.actor == "b"]["observation"]] == [[7, 7]] * 4
    assert a["action"].tolist()[:3] == [-1, 0, 1] and a["action"].isna().tolist() == [False] * 3 + [True]
    assert steps["action"].dtype == pd.ArrowDtype(pa.int8())
    assert steps["observation"].dtype == pd.ArrowDtype(pa.list_(pa.float32(), 2))
    assert datastore.steps("raw")["observation"].dtype == pd.ArrowDtype(pa.binary())
    assert datastore.steps("vec", decode=False)["observation"].dtype == pd.ArrowDtype(pa.binary())
    datastore.decoders = ()
    assert datastore.steps("vec")["observation"].dtype == pd.ArrowDtype(pa.binary())


async def test_decoding_a_live_trial_spanning_chunks(datastore, codec):
    datalog = datastore.datalog()
    await datalog.start("multi", "u", make_params((("a", "c", "i"),), properties={"codec": "vector"}))
    for s in vector_samples(6)[:5]:
        datalog.add([s])
        await datalog.flush()
    with sqlite3.connect(datastore.file) as conn:
        assert conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 5
    steps = datastore.steps("multi")
    assert [list(v) for v in steps["observation"]] == [[t, -t] for t in range(5)]
    assert steps["action"].tolist() == [-1, 0, 1, -1, 0]
    assert steps["tick"].tolist() == list(range(5))
    await datalog.close()


async def test_decoders_with_different_types(datastore, codec):
    actors = (("a", "c", "i"), ("b", "c", "i"))
    await record_trial(datastore, "mixed", vector_samples(3), properties={"codec": "mixed"}, actors=actors)
    await record_trial(datastore, "vec", vector_samples(3), properties={"codec": "vector"}, actors=actors)
    await record_trial(datastore, "raw", vector_samples(3), actors=actors)
    mixed = datastore.steps("mixed")
    assert mixed["observation"].dtype == object
    assert mixed["observation"].tolist()[1] == 8 and list(mixed["observation"].tolist()[0]) == [0.0, 0.0]
    both = datastore.steps(["vec", "raw"])
    assert len(both) == 12 and both["observation"].iloc[-1] == struct.pack("<2f", 7, 7)
    assert list(both["observation"].iloc[0]) == [0.0, 0.0]


async def test_failing_decoder_keeps_raw_bytes(datastore):
    class Broken:
        def decode_observations(self, actor_index, contents):
            raise ValueError("bad bytes")

        def decode_actions(self, actor_index, contents):
            return pa.array([0] * (len(contents) + 1))

    def factory(params):
        return Broken()

    datastore.decoders = (factory,)
    await record_trial(datastore, "t", vector_samples(3), actors=(("a", "c", "i"), ("b", "c", "i")))
    with pytest.warns(UserWarning) as caught:
        steps = datastore.steps("t")
    messages = sorted(str(w.message) for w in caught)
    assert "decoding actions failed (decoder returned Int64Array of length 3 for 2 values)" in messages[0]
    assert "decoding observations failed (bad bytes)" in messages[1]
    assert caught[0].filename == __file__
    assert steps["observation"].dtype == pd.ArrowDtype(pa.binary())
    assert steps["action"].dtype == pd.ArrowDtype(pa.binary())


async def test_trials_filters(datastore):
    await record_trial(datastore, "a", records(3), properties={"team": "red"})
    await record_trial(datastore, "b", records(3), properties={"team": "blue", "x": "1"})
    dl = datastore.datalog()
    await dl.start("c", "u", make_params())
    dl.add(records(5)[:2])
    await dl.flush()
    assert datastore.trials(state="running")["trial_id"].tolist() == ["c"]
    assert datastore.trials(state=["ENDED"])["trial_id"].tolist() == ["a", "b"]
    assert datastore.trials(state=TrialState.ENDED)["trial_id"].tolist() == ["a", "b"]
    assert datastore.trials(properties={"team": "blue"})["trial_id"].tolist() == ["b"]
    assert datastore.trials(properties={"team": "blue", "x": "2"}).empty
    with pytest.raises(ValueError, match="unknown trial state 'done'"):
        datastore.trials(state="done")
    # record() timestamps are tiny (epoch + ns), so bounds select on them
    assert datastore.trials(since=datetime.now() - timedelta(days=1)).empty
    assert len(datastore.trials(until=pd.Timestamp("2000-01-01", tz="UTC"))) == 3
    assert datastore.trials(since=999, until=1_000)["trial_id"].tolist() == ["a", "b", "c"]
    assert datastore.trials(since=1_001).empty
    assert datastore.trials(since=timedelta(hours=1)).empty
    await dl.close()
    assert datastore.trials(state="running")["interrupted"].tolist() == [True]


def rewarded(ticks: int, rewards: dict[str, float], n_actors: int) -> list[Sample]:
    """``ticks`` ticks, each giving every receiver of ``rewards`` its value."""
    return [
        Sample(
            tick_id=t,
            timestamp=1_000_000_000 + t * 500_000_000,
            state=TrialState.ENDED if t == ticks - 1 else TrialState.RUNNING,
            observations=ObservationSet([b"o"] * n_actors, list(range(n_actors))),
            actions=[Action(t, b"a")] * n_actors,
            rewards=[Reward(-1, name, value, [RewardSource("env", value, 1.0)]) for name, value in rewards.items()],
        )
        for t in range(ticks)
    ]


async def test_trials_give_a_return_per_actor_and_durations_in_seconds(datastore):
    await record_trial(datastore, "solo", rewarded(3, {"gym": 1.0}, 1), actors=(("gym", "player", "random"),))
    feedback = (("agent", "player", "lean"), ("trainer", "spectator", "human"))
    await record_trial(datastore, "feedback", rewarded(3, {"agent": 1.0, "trainer": 2.0}, 2), actors=feedback)
    pong = (("paddle_0", "player", "random"), ("paddle_1", "player", "random"))
    await record_trial(datastore, "pong", rewarded(3, {"paddle_0": 1.0, "paddle_1": 0.5}, 2), actors=pong)
    trials = datastore.trials().set_index("trial_id")
    assert values(trials["return"]) == [3.0, 3.0, None]  # the agent's; two players: none of them summed
    assert values(trials["return_gym"]) == [3.0, None, None]
    assert values(trials["return_trainer"]) == [None, 6.0, None]
    assert values(trials["return_paddle_0"]) == [None, None, 3.0] and values(trials["return_paddle_1"]) == [
        None,
        None,
        1.5,
    ]
    assert dict(trials.loc["pong", "returns"]) == {"paddle_0": 3.0, "paddle_1": 1.5}
    assert trials["duration"].tolist() == [1.0, 1.0, 1.0]  # seconds between the first and the last tick
    one = datastore.trials(trial_ids=["feedback"])
    assert one["trial_id"].tolist() == ["feedback"] and "return_gym" not in one


async def test_trials_read_what_arrow_json_cannot(datastore):
    """An infinite return and hundreds of property keys take the trial-by-trial path: same frame."""
    await record_trial(datastore, "inf", rewarded(2, {"gym": float("inf")}, 1), actors=(("gym", "player", "x"),))
    many = {f"key{i}": str(i) for i in range(300)}
    await record_trial(
        datastore, "many", rewarded(2, {"gym": 1.0}, 1), actors=(("gym", "player", "x"),), properties=many
    )
    trials = datastore.trials().set_index("trial_id")
    assert trials.loc["inf", "return"] == float("inf") and trials.loc["many", "return"] == 2.0
    assert dict(trials.loc["many", "properties"]) == many and dict(trials.loc["inf", "properties"]) == {}
    assert datastore.trials(properties={"key7": "7"}).trial_id.tolist() == ["many"]


async def test_parquet_round_trip(datastore, tmp_path):
    await record_trial(datastore, "p1", records(30), batch=4, properties={"k": "v"})
    await record_trial(datastore, "p2", vector_samples(10), actors=(("a", "c", "i"), ("b", "c", "i")))
    await record_trial(datastore, "p3", records(3))
    out = datastore.export_parquet(tmp_path / "export" / "trials.parquet", ["p1", "p2"])
    assert out.exists()
    with pytest.raises(KeyError, match="ghost"):
        datastore.export_parquet(tmp_path / "x.parquet", ["ghost"])

    other = Datastore(tmp_path / "other")
    assert other.import_parquet(out) == ["p1", "p2"]
    for tid in ("p1", "p2"):
        assert other.steps(tid).equals(datastore.steps(tid))
        src, dst = datastore.store.record(tid), other.store.record(tid)
        assert (dst.state, dst.samples, dst.ticks, dst.returns, dst.user_id, dst.params_bytes) == (
            src.state,
            src.samples,
            src.ticks,
            src.returns,
            src.user_id,
            src.params_bytes,
        )
        a = list(SampleConverter(tid, src.directory()).convert(datastore.samples(tid)))
        b = list(SampleConverter(tid, dst.directory()).convert(other.samples(tid)))
        assert a == b
    with pytest.raises(DatastoreError, match=r"already in.*on_conflict"):
        other.import_parquet(out)
    assert other.import_parquet(out, on_conflict="skip") == []
    other.delete("p1")
    assert other.import_parquet(out, on_conflict="skip") == ["p1"]
    assert other.import_parquet(out, on_conflict="replace") == ["p1", "p2"]
    assert other.trials()["trial_id"].tolist() == ["p1", "p2"]
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(plain)
    with pytest.raises(DatastoreError, match="not a cogment_jupyter trial export"):
        other.import_parquet(plain)
    other.close()
