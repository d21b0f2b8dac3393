"""The in-process DatalogConnection: engine records straight into the store, read back as pandas and via the SDK."""

from __future__ import annotations

import asyncio
import sqlite3

import numpy as np
import pandas as pd
import pytest

from cogment_jupyter.datastore import Datastore, InProcessDatalog
from cogment_jupyter.datastore.stored_samples import SampleConverter
from cogment_jupyter.datastore.writer import COMPACT_FROM
from cogment_jupyter.engine.components import DatalogConnection
from cogment_jupyter.engine.records import (
    FORCED_TERMINATION,
    Action,
    Message,
    ObservationSet,
    Reward,
    RewardSource,
    Sample,
    TrialState,
)
from tests.datastore.helpers import make_params, packed, values
from tests.waiting import await_condition

pytestmark = pytest.mark.timeout(30)


class Obs:
    """An in-process payload: the engine passes objects that know their bytes."""

    def __init__(self, value: int) -> None:
        self.value = value

    def to_bytes(self) -> bytes:
        return f"obs{self.value}".encode()


def late_rewards() -> list[Reward]:
    sources = [RewardSource("bob", 3.0, 0.5, packed(2.0)), RewardSource("env", 1.0, 0.5)]
    return [Reward(-1, "alice", 0.0, sources)]


def records(n_ticks: int = 5) -> list[Sample]:
    out = []
    for t in range(n_ticks):
        last = t == n_ticks - 1
        out.append(
            Sample(
                tick_id=t,
                timestamp=1_000 + t,
                state=TrialState.ENDED if last else TrialState.RUNNING,
                special_events=["Evironment ended trial"] if last else [],
                observations=ObservationSet([Obs(t), b"shared"], [0, 1]),
                actions=[None, None] if last else [Action(t, b"left"), None if t == 1 else Action(t, Obs(-t))],
                rewards=[Reward(-1, "*", 1.0, [RewardSource("env", 1.0, 1.0)])] + (late_rewards() if t == 2 else []),
                messages=[Message(-1, "alice", "bob", "hello")] if t == 0 else [],
                default_actors=[1] if t == 1 else [],
            )
        )
    return out


async def record_trial(
    ds: Datastore, trial_id: str, samples: list[Sample], *, batch: int = 1, flush: bool = False, **params
) -> None:
    """Log a trial in-process; ``flush`` commits each batch on its own (one stored chunk each)."""
    datalog = ds.datalog()
    assert isinstance(datalog, DatalogConnection)
    await datalog.start(trial_id, "player-1", make_params(**params))
    for k in range(0, len(samples), batch):
        datalog.add(samples[k : k + batch])
        if flush:
            await datalog.flush()
    await datalog.close()


async def test_records_round_trip_to_pandas(datastore):
    await record_trial(datastore, "t1", records(), properties={"seed": "7"}, default_actions={"bob": b"noop"})
    trials = datastore.trials()
    assert len(trials) == 1
    row = trials.iloc[0]
    assert (row["trial_id"], row["state"], row["steps"], row["samples"]) == ("t1", "ENDED", 5, 5)
    assert not row["interrupted"]
    assert (row["user_id"], row["environment"], row["environment_implementation"]) == ("player-1", "env", "cartpole")
    assert [a["name"] for a in row["actors"]] == ["alice", "bob"]
    assert [a["implementation"] for a in row["actors"]] == ["random", "human"]
    assert dict(row["properties"]) == {"seed": "7"}
    # alice at tick 2: '*' (1.0 @ 1) and her own two sources (3.0 @ .5, 1.0 @ .5) -> (1 + 1.5 + .5) / 2
    assert dict(row["returns"]) == pytest.approx({"alice": 4 + 1.5, "bob": 5.0})
    assert (row["return_alice"], row["return_bob"]) == pytest.approx((5.5, 5.0))  # a return per actor, never summed
    assert pd.isna(row["return"])  # two actors of one class: no single agent's return
    assert row["started"] == pd.Timestamp(1_000, tz="UTC") and row["ended"] == pd.Timestamp(1_004, tz="UTC")
    assert row["duration"] == pytest.approx(4e-9)  # seconds

    steps = datastore.steps("t1")
    assert list(steps.columns) == [
        "trial_id",
        "tick",
        "timestamp",
        "state",
        "actor",
        "observation",
        "action",
        "action_status",
        "reward",
        "info",
        "events",
    ]
    assert all(isinstance(dt, pd.ArrowDtype) for dt in steps.dtypes)
    assert steps["info"].isna().all()  # no decoder knows these bytes: no info read from them
    assert steps["tick"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert steps["actor"].tolist() == ["alice", "bob"] * 5
    assert values(steps["observation"])[:4] == [b"obs0", b"shared", b"obs1", b"shared"]
    expected = [b"left", b"obs0", b"left", b"noop", b"left", b"obs-2", b"left", b"obs-3", None, None]
    assert values(steps["action"]) == expected
    assert steps["action_status"].tolist() == ["normal", "normal", "normal", "default"] + ["normal"] * 6
    assert values(steps["reward"]) == pytest.approx([1.0, 1.0, 1.0, 1.0, 1.5, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert [list(e) for e in steps["events"]][-2:] == [["Evironment ended trial"]] * 2


async def test_records_match_the_sdk_conversion(datastore):
    await record_trial(datastore, "t1", records())
    rec = datastore.store.record("t1")
    converted = list(SampleConverter("t1", rec.directory()).convert(datastore.samples("t1")))
    assert [s.tick_id for s in converted] == [0, 1, 2, 3, 4]
    s0 = converted[0]
    assert list(s0.payloads) == [b"obs0", b"shared", b"left", b"obs0", b"hello"]
    bob = s0.actor_samples[1]
    assert [(m.sender, s0.payloads[m.payload]) for m in bob.received_messages] == [(0, b"hello")]
    s2 = converted[2]
    alice = s2.actor_samples[0]
    received = [(r.sender, r.reward, r.confidence) for r in alice.received_rewards]
    assert received == [(-1, 1, 1), (1, 3, 0.5), (-1, 1, 0.5)]
    assert s2.payloads[alice.received_rewards[1].user_data] == packed(2.0).value
    assert alice.reward == pytest.approx(1.5)
    assert [r.receiver for r in s2.actor_samples[1].sent_rewards] == [0]
    s1 = converted[1]
    assert s1.payloads[s1.actor_samples[1].action] == b""  # placeholder


async def test_misuse_is_reported(datastore):
    datalog = datastore.datalog()
    with pytest.raises(RuntimeError, match="before start"):
        datalog.add(records(1))
    await datalog.start("t", "u", make_params())
    with pytest.raises(RuntimeError, match="already records"):
        await datalog.start("t2", "u", make_params())
    await datalog.close()
    with pytest.raises(RuntimeError, match="after close"):
        datalog.add(records(1))


async def _record_in_small_batches(datastore: Datastore, trial_id: str, n: int) -> tuple[int, int]:
    """Record an n-sample trial whose first 40 samples are committed one by one; the
    (segments, chunks) the file holds before its close."""
    samples = records(n)
    datalog = datastore.datalog()
    await datalog.start(trial_id, "u", make_params())
    for k in range(0, 40):
        datalog.add(samples[k : k + 1])
        await datalog.flush()  # one commit, one chunk each
    counts = _counts(datastore)
    datalog.add(samples[40:])
    await datalog.close()
    return counts


def _counts(datastore: Datastore) -> tuple[int, int]:
    with sqlite3.connect(datastore.file) as conn:
        return tuple(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in ("segments", "chunks"))


async def test_long_trials_in_small_segments_are_compacted_on_close(datastore):
    assert await _record_in_small_batches(datastore, "many", COMPACT_FROM) == (40, 40)
    assert _counts(datastore) == (1, 1)  # its own chunk; the 40 it left are gone
    steps = datastore.steps("many")
    assert steps["tick"].tolist() == [t for t in range(COMPACT_FROM) for _ in range(2)]


async def test_short_trials_stay_in_their_segments(datastore):
    await _record_in_small_batches(datastore, "few", 100)
    assert _counts(datastore) == (41, 41)
    assert datastore.steps("few")["tick"].tolist() == [t for t in range(100) for _ in range(2)]


async def test_out_of_sync_rewards_fold_into_their_tick(datastore):
    samples = records(4)
    late = Sample(
        tick_id=1,
        timestamp=2_000,
        out_of_sync=True,
        special_events=["Out of sync reward"],
        rewards=[Reward(1, "bob", 2.0, [RewardSource("alice", 2.0, 1.0)])],
    )
    await record_trial(datastore, "oos", [*samples[:3], late, samples[3]], batch=2)
    steps = datastore.steps("oos")
    assert steps["tick"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert values(steps[steps.tick == 1]["reward"]) == [1.0, 3.0]
    assert datastore.trials().iloc[0]["samples"] == 5 and datastore.trials().iloc[0]["steps"] == 4


async def test_several_trials_concurrently_and_bad_ids(datastore):
    await asyncio.gather(*(record_trial(datastore, f"c{k}", records(50), batch=3) for k in range(4)))
    trials = datastore.trials()
    assert sorted(trials["trial_id"]) == ["c0", "c1", "c2", "c3"]
    assert (trials["steps"] == 50).all() and (trials["state"] == "ENDED").all()
    both = datastore.steps(["c2", "c0"])
    assert both["trial_id"].unique().tolist() == ["c2", "c0"] and len(both) == 200
    with pytest.raises(KeyError, match=r"'nope'.*Datastore.trials"):
        datastore.steps(["c1", "nope"])
    assert datastore.delete(["c1", "c3", "ghost"]) == 2
    assert sorted(datastore.trials()["trial_id"]) == ["c0", "c2"]


async def test_a_second_handle_sees_committed_data(datastore, store_dir):
    datalog = datastore.datalog()
    await datalog.start("live", "u", make_params())
    datalog.add(records(10)[:4])
    await datalog.flush()
    other = Datastore(store_dir)
    assert other.trials().iloc[0]["state"] == "RUNNING"
    assert len(other.steps("live")) == 8
    other.close()
    await datalog.close()
    assert Datastore(store_dir).trials().iloc[0]["interrupted"]


async def test_in_process_datalog_class_directly(datastore):
    datalog = InProcessDatalog(datastore.store)
    await datalog.start("direct", "u", make_params())
    assert datalog.trial_id == "direct"
    datalog.add(records(2))
    await datalog.close()
    await datalog.close()  # idempotent
    assert datastore.trials().iloc[0]["state"] == "ENDED"


async def test_trials_written_in_one_batch_are_stored_as_if_alone(datastore, tmp_path):
    """Trials recorded together share a chunk per actor count (a segment each): each trial's
    summary row and samples must be those of the trial alone."""
    solo = Datastore(tmp_path / "solo")
    layouts = [
        {},  # alice and bob
        {"actors": (("carol", "player", "random"),)},  # one actor: another builder
        {"actors": (("bob", "player", "random"), ("alice", "player", "human"))},  # same count, other names
    ]
    trials = {f"t{k}": (layouts[k % 3], records(3 + k)) for k in range(6)}
    try:
        for trial_id, (params, samples) in trials.items():
            await record_trial(solo, trial_id, samples, **params)

        async def start(trial_id: str) -> InProcessDatalog:
            datalog = datastore.datalog()
            await datalog.start(trial_id, "player-1", make_params(**trials[trial_id][0]))
            return datalog

        datalogs = {trial_id: await start(trial_id) for trial_id in trials}
        longest = max(len(samples) for _, samples in trials.values())
        for tick in range(longest):  # interleaved, as concurrent trials log
            for trial_id, (_, samples) in trials.items():
                if tick < len(samples):
                    datalogs[trial_id].add(samples[tick : tick + 1])
        await asyncio.gather(*(datalog.close() for datalog in datalogs.values()))
        segments, shared = _counts(datastore)
        assert shared == 2  # (two actor counts)
        assert len(trials) <= segments <= 2 * len(trials)  # (rows that interleave continue apart once)

        for trial_id in trials:
            mine, alone = datastore.store.record(trial_id), solo.store.record(trial_id)
            assert (mine.samples, mine.ticks, mine.state, mine.returns) == (
                alone.samples,
                alone.ticks,
                alone.state,
                alone.returns,
            )
            assert (mine.started_ns, mine.last_ns, mine.ended_ns) == (alone.started_ns, alone.last_ns, alone.ended_ns)
            assert datastore.store.read(mine.seq).equals(solo.store.read(alone.seq)), trial_id
            pd.testing.assert_frame_equal(datastore.steps(trial_id), solo.steps(trial_id))
    finally:
        solo.close()


async def test_trials_of_one_batch_keep_their_own_params_and_properties(datastore):
    """Trials written in one batch that differ by their seeds (configs) share their row's
    environment, actors and properties columns; trials with other properties, actors or
    environment get their own. Every trial reads back exactly its params, also one whose
    serialized params end with the bytes of the properties of the trial before it (a
    property's value ending with them), which are not its properties."""
    from cogment_jupyter.datastore.records import stored_params

    lab_only = make_params(properties={"lab": "cartpole"})
    lab_only_bytes = lab_only.SerializeToString()[len(stored_params(lab_only)) :]
    variants = [
        {"properties": {"lab": "cartpole", "session": "s1"}},
        {"properties": {"lab": "cartpole", "session": "s1"}},  # the same, another seed
        {"properties": {"lab": "cartpole", "session": "s2"}},  # another value
        {"properties": {"lab": "cartpole"}},  # one property fewer
        {"properties": {"lab": "cartpole", "session": "s1", "extra": "x"}},  # one more
        {},  # none
        {"properties": {"lab": "cartpole", "session": "s1"}, "env_impl": "acrobot"},
        {"properties": {"lab": "cartpole", "session": "s1"}, "actors": (("carol", "player", "random"),)},
        {"properties": {"lab": "cartpole"}},
        {"properties": {"note": "x" + lab_only_bytes.decode()}},
    ]
    sent = {}
    datalogs = []
    for k, variant in enumerate(variants):
        params = make_params(**variant)
        params.environment.config.content = f"seed {k}".encode()
        if "note" in params.properties:
            assert params.SerializeToString().endswith(lab_only_bytes)
        for actor in params.actors:
            actor.config.content = f"seed {k} {actor.name}".encode()
        sent[f"t{k}"] = params
        datalog = datastore.datalog()
        await datalog.start(f"t{k}", "player-1", params)
        datalog.add(records(2))
        datalogs.append(datalog)
    await asyncio.gather(*(datalog.close() for datalog in datalogs))
    for trial_id, params in sent.items():
        record = datastore.store.record(trial_id)
        assert record.params() == params, trial_id
        assert record.properties == dict(params.properties), trial_id
        assert record.env_impl == params.environment.implementation
        assert [a.name for a in record.actors] == [a.name for a in params.actors]
    property_sets = sqlite3.connect(datastore.file).execute("SELECT COUNT(*) FROM property_sets").fetchone()[0]
    assert property_sets == 6


async def test_batches_queued_together_share_one_transaction(datastore):
    """Batches of trials the writer finds queued together are committed in one transaction
    (not retried one by one after a clash of the seqs given to their trials), a trial created
    by another writer op after them takes the seq that follows theirs, and a user call queued
    after them sees their rows."""
    from cogment_jupyter.datastore.inprocess import Recorder

    store = datastore.store
    writer = store.writer
    expected = {}
    closing = []
    with writer._cond:  # (the writer thread takes the queue once this lets go)
        version = store.version
        for batch in range(3):
            for k in range(4):
                trial_id = f"b{batch}-{k}"
                expected[trial_id] = records(2 + k)
                datalog = datastore.datalog()
                await datalog.start(trial_id, "player-1", make_params())
                datalog.add(expected[trial_id])
                closing.append(datalog.close_now())
            Recorder.of(store).flush()
        created = writer.create("direct", "player-1", make_params())
        counted = writer.call(lambda conn: conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
    await asyncio.gather(*closing)
    assert counted.result(timeout=10) == len(expected) + 1
    await await_condition(lambda: store.version > version, 10, "the batches' commit to be counted")
    assert store.version == version + 1  # one commit
    seqs = {trial_id: store.record(trial_id).seq for trial_id in expected}
    assert created.result(timeout=10).seq == max(seqs.values()) + 1
    for trial_id, samples in expected.items():
        record = store.record(trial_id)
        assert (record.samples, record.state, record.closed) == (len(samples), TrialState.ENDED, True)
        assert store.read(record.seq).column("tick_id").to_pylist() == [s.tick_id for s in samples]


async def test_a_trial_written_twice_in_one_transaction_keeps_its_counts(datastore):
    """A trial whose rows come in two batches of one transaction, a user call between them (its
    row is written before the call, then updated): its row counts each sample once."""
    from cogment_jupyter.datastore.inprocess import Recorder

    store = datastore.store
    writer = store.writer
    samples = records(6)
    with writer._cond:  # (the writer thread takes the queue once this lets go)
        version = store.version
        datalog = datastore.datalog()
        await datalog.start("split", "player-1", make_params())
        datalog.add(samples[:3])
        Recorder.of(store).flush()
        called = writer.call(lambda conn: conn.execute("SELECT samples, ticks FROM trials").fetchall())
        datalog.add(samples[3:])
        closing = datalog.close_now()
        Recorder.of(store).flush()
    await closing
    assert called.result(timeout=10) == [(3, 3)]  # (the call sees the first batch's row)
    await await_condition(lambda: store.version > version, 10, "the transaction's commit to be counted")
    assert store.version == version + 1
    record = store.record("split")
    assert (record.samples, record.ticks, record.closed) == (len(samples), len(samples), True)


def test_each_store_and_loop_has_its_own_recorder(tmp_path):
    from cogment_jupyter.datastore.inprocess import Recorder

    first, second = Datastore(tmp_path / "a"), Datastore(tmp_path / "b")

    async def recorders() -> list[Recorder]:
        return [Recorder.of(first.store), Recorder.of(second.store), Recorder.of(first.store)]

    try:
        one = asyncio.run(recorders())
        other = asyncio.run(recorders())  # another loop
        assert one[0] is one[2] and one[0] is not one[1]
        assert {id(r) for r in one[:2]}.isdisjoint(id(r) for r in other[:2])
        assert [(r._store, r._loop) for r in other[:2]] == [
            (first.store, other[0]._loop),
            (second.store, other[0]._loop),
        ]
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    "values", [[], ["gym"] * 5, ["env", "env", "gym"], ["é"] * 3, [""] * 4, [None, None], ["x", None]]
)
def test_string_columns_read_as_their_values(values):
    """A column of one repeated string is made from a repeated buffer, any other by Arrow."""
    import pyarrow as pa

    from cogment_jupyter.datastore.chunks import _strings

    column = _strings(values)
    column.validate(full=True)
    assert column.type == pa.string() and column.to_pylist() == values


def test_segment_stats_are_the_stats_of_each_slice():
    from cogment_jupyter.datastore import chunks
    from cogment_jupyter.datastore.actors import ActorDirectory

    builder = chunks.ChunkBuilder(ActorDirectory.from_params(make_params()))
    bounds = []
    for n in (4, 1, 6, 3, 2):
        start = len(builder)
        samples = records(n)
        if n == 3:  # a trial cut short: late samples out of sync first, no end
            for sample in samples:
                sample.state = TrialState.RUNNING
            samples[0].out_of_sync = True
        if n == 6:  # a trial forced to end: its details are read from its ENDED sample's events
            samples[-1].special_events.append(FORCED_TERMINATION + "Actor [bob] died")
        samples[-1].timestamp = 900  # the latest sample is not the last one
        builder.add_records(samples)
        bounds.append((start, len(builder)))
    batch = builder.build()
    bounds.insert(2, (5, 5))  # an empty segment
    rows = batch.to_pylist()

    def expected(start: int, stop: int) -> chunks.ChunkStats:
        part = rows[start:stop]
        in_sync = [r for r in part if not r["out_of_sync"]]
        ended = [r for r in part if r["state"] == TrialState.ENDED]
        forced = [e for e in (ended[0]["events"] if ended else []) if e.startswith(FORCED_TERMINATION)]
        return chunks.ChunkStats(
            samples=len(part),
            ticks=len(in_sync),
            last_state=part[-1]["state"] if part else 0,
            first_tick_ns=in_sync[0]["timestamp"] if in_sync else None,
            last_ns=max(r["timestamp"] for r in part) if part else None,
            ended_ns=ended[0]["timestamp"] if ended else None,
            returns=[sum(r["rewards"][i] or 0.0 for r in part) for i in range(2)],
            end_details=forced[0][len(FORCED_TERMINATION) :] if forced else None,
        )

    assert [expected(a, b).end_details for a, b in bounds] == [None, None, None, "Actor [bob] died", None, None]
    assert chunks.segment_stats(batch, 2, bounds) == [expected(a, b) for a, b in bounds]
    assert [chunks.stats(batch.slice(a, b - a), 2) for a, b in bounds if b > a] == [
        expected(a, b) for a, b in bounds if b > a
    ]


def test_plain_ticks_are_stored_as_the_general_path_stores_them():
    """Plain ticks go to columns of their own (``add_rows``), other samples one by one; a chunk
    mixing both, merged from builders, holds what storing every sample one by one holds."""
    from cogment_jupyter.datastore import chunks
    from cogment_jupyter.datastore.actors import ActorDirectory

    directory = ActorDirectory.from_params(make_params())

    def plain(t: int) -> Sample:
        return Sample(
            tick_id=t,
            timestamp=2_000 + t,
            state=TrialState.RUNNING,
            observations=ObservationSet([Obs(t), Obs(-t)], [0, 1]),
            actions=[Action(t, b"left"), Action(t, b"right")],
            rewards=[Reward(-1, name, 0.5 * t, [RewardSource("env", 0.5 * t, 1.0)]) for name in ("bob", "alice")],
        )

    samples = [plain(0), plain(1), *records(3), plain(7), *records(2), plain(8)]
    assert sum(1 for s in samples if chunks.ChunkBuilder(directory)._take_plain(s)) == 4
    mixed, merged = chunks.ChunkBuilder(directory), chunks.ChunkBuilder(directory)
    mixed.add_records(samples[:5])
    merged.extend(mixed)
    rest = chunks.ChunkBuilder(directory)
    rest.add_records(samples[5:])
    merged.extend(rest)
    one_by_one = chunks.ChunkBuilder(directory)
    for sample in samples:
        one_by_one._add_record(sample)
    expected = one_by_one.build().to_pylist()
    assert [row["reward_sources"][0]["receiver"] for row in expected[:2]] == ["bob", "bob"]
    assert merged.build().to_pylist() == expected


class Unencodable:
    def to_bytes(self) -> bytes:
        raise ValueError("action 5 is outside Discrete(2)")


async def test_a_payload_that_cannot_be_encoded_is_stored_missing_with_the_reason(datastore):
    samples = records(3)
    samples[1].actions = [Action(1, Unencodable()), Action(1, b"right")]
    await record_trial(datastore, "bad", samples)
    table = datastore.store.read(datastore.store.record("bad").seq)
    assert table.num_rows == 3
    assert table.column("actions").to_pylist()[1] == [None, b"right"]
    assert table.column("actions").to_pylist()[0] == [b"left", b"obs0"]
    assert any(
        "Payload not recorded: ValueError: action 5 is outside Discrete(2)" in e
        for e in table.column("events").to_pylist()[1]
    )


def plain_ticks(n_actors: int, rewards: list[list[tuple[str, float]]]) -> list[Sample]:
    """Plain ticks (what either tick loop hands over as rows): every actor observed and
    answered, rewards ``(receiver, value)`` from the environment, one list per tick."""
    return [
        Sample(
            tick_id=t,
            timestamp=2_000 + t,
            state=TrialState.RUNNING,
            observations=ObservationSet([Obs(10 * t + i) for i in range(n_actors)], list(range(n_actors))),
            actions=[Action(t, f"a{t}.{i}".encode()) for i in range(n_actors)],
            rewards=[Reward(-1, receiver, value, [RewardSource("env", value, 1.0)]) for receiver, value in row],
        )
        for t, row in enumerate(rewards)
    ]


@pytest.mark.parametrize(
    "actors, rewards",
    [
        (1, [[("alice", 1.0)]] * 6),  # one sender rewarding every tick alike
        (1, [[("alice", 1.0)], [], [("alice", 1.0)], [("alice", 2.5)]]),  # not every tick, not alike
        (1, [[("alice", 0.0)], [("alice", -0.0)], [("alice", 0.0)]]),  # zeros of both signs
        (1, [[("alice", 1.0)], [("*", 1.0)], [("alice", float("nan"))]]),  # a pattern, a NaN
        (2, [[("alice", 1.0), ("bob", 0.5)], [("bob", 2.0)], [], [("bob", 1.0), ("alice", -0.0)]]),
    ],
)
def test_plain_ticks_taken_as_rows_are_stored_as_any_record_is(actors, rewards):
    """Plain ticks of one or two actors, every tick rewarded or not, written column by column
    (``add_rows``, with shortcuts for one actor): the chunk the general path writes of the
    same records, byte for byte."""
    from cogment_jupyter.datastore import chunks
    from cogment_jupyter.datastore.actors import ActorDirectory

    params = make_params(actors=(("alice", "player", "random"), ("bob", "player", "human"))[:actors])
    as_rows = chunks.ChunkBuilder(ActorDirectory.from_params(params))
    one_by_one = chunks.ChunkBuilder(ActorDirectory.from_params(params))
    for half in (rewards[: len(rewards) // 2], rewards[len(rewards) // 2 :]):  # (rows appended to rows)
        as_rows.add_records(plain_ticks(actors, half))
        as_rows._flush_plain()
    assert not as_rows.events  # (every tick was plain)
    for sample in plain_ticks(actors, rewards[: len(rewards) // 2]) + plain_ticks(actors, rewards[len(rewards) // 2 :]):
        one_by_one._add_record(sample)  # the general path, record by record
    built, expected = as_rows.build(), one_by_one.build()
    # byte for byte, the signs of zeros included; but the per-actor rewards, which the general
    # path sums from their sources (0.0 + -0.0 is 0.0) where rows keep an environment's -0.0
    rewards = built.schema.get_field_index("rewards")
    assert built.remove_column(rewards).serialize() == expected.remove_column(rewards).serialize()
    np.testing.assert_array_equal(
        built.column(rewards).flatten().to_numpy(zero_copy_only=False),
        expected.column(rewards).flatten().to_numpy(zero_copy_only=False),
    )
