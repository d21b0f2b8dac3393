"""Every SDK datastore call against our server, with trials logged through DatalogSP as an orchestrator does."""

from __future__ import annotations

import asyncio
import struct

import grpc
import pytest
from cogment.api import common_pb2, trial_datastore_pb2, trial_datastore_pb2_grpc
from cogment.datastore import DatastoreFields

from tests.datastore.helpers import (
    ENDED,
    RUNNING,
    TERMINATING,
    DatalogClient,
    address,
    datalog_sample,
    log_trial,
    make_params,
    message,
    obs_bytes,
    packed,
    reward,
    values,
)
from tests.waiting import await_condition

pytestmark = pytest.mark.timeout(30)

ACTORS = (("alice", "player", "random"), ("bob", "player", "human"), ("carol", "judge", "expert"))


def rich_trial() -> list:
    """Four ticks like §10/§12: placeholders, default/unavailable actors, wildcard rewards, messages."""
    return [
        datalog_sample(
            0,
            observations=[obs_bytes(0, 0), obs_bytes(0, 1)],
            actors_map=[0, 1, 0],
            actions=[b"a0", b"b0", b"c0"],
            rewards=[
                reward("*", ("env", 2.0, 1.0)),
                reward("player.*", ("carol", 4.0, 0.5, packed(3.0)), ("env", 1.0, 0.0)),
            ],
            messages=[message("alice", "bob", packed(1.0)), message("env", "carol"), message("bob", "env")],
        ),
        datalog_sample(
            1,
            observations=[obs_bytes(1, 0)],
            actors_map=[0, 0, 0],
            actions=[b"a1", None, b"c1"],
            default_actors=[1],
            rewards=[reward("judge.carol", ("alice", -1.0, 2.0)), reward("nobody", ("env", 9.0, 1.0))],
        ),
        datalog_sample(
            2,
            state=TERMINATING,
            observations=[obs_bytes(2, 0)],
            actors_map=[0, 0, 0],
            actions=[b"a2", None, None],
            unavailable_actors=[1, 2],
            events=["Maximum number of steps reached"],
        ),
        datalog_sample(
            3,
            state=ENDED,
            observations=[obs_bytes(3, 0)],
            actors_map=[0, 0, 0],
            actions=[None, None, None],
            events=["Evironment ended trial"],
        ),
    ]


async def collect(agen, limit: float = 10.0) -> list:
    async def run():
        return [x async for x in agen]

    return await asyncio.wait_for(run(), limit)


async def test_datalog_then_sdk_reads_every_field(server, sdk):
    params = make_params(ACTORS, properties={"experiment": "x1"})
    await log_trial(server.endpoint, "trial-1", params, rich_trial())

    infos = await collect(sdk.all_trials())
    assert [i.trial_id for i in infos] == ["trial-1"]
    info = infos[0]
    assert info.trial_state.name == "ENDED"
    assert info.user_id == "tester"
    assert info.sample_count == 4
    assert [a.name for a in info.parameters.actors] == ["alice", "bob", "carol"]
    assert info.parameters._raw_params == params

    samples = await collect(sdk.all_samples(infos))
    assert [s.tick_id for s in samples] == [0, 1, 2, 3]
    assert [s.trial_state.name for s in samples] == ["RUNNING", "RUNNING", "TERMINATING", "ENDED"]
    s0 = samples[0]
    raw = s0._raw_sample
    assert raw.user_id == "" and raw.trial_id == "trial-1"
    # payloads: observations, then every actor's action, then user data, then message payloads
    assert list(raw.payloads[:5]) == [obs_bytes(0, 0), obs_bytes(0, 1), b"a0", b"b0", b"c0"]
    alice, bob, carol = (s0.actors_data[n] for n in ("alice", "bob", "carol"))
    assert alice.observation_serialized == obs_bytes(0, 0)
    assert bob.observation_serialized == obs_bytes(0, 1)
    assert carol.observation_serialized == obs_bytes(0, 0)
    assert [alice.action_serialized, bob.action_serialized, carol.action_serialized] == [b"a0", b"b0", b"c0"]
    # '*' reaches every actor; 'player.*' only alice and bob; env is sender -1; confidence 0 ignored in mean
    a_recv = list(alice._raw_sample.received_rewards)
    assert [(r.sender, r.reward, r.confidence) for r in a_recv] == [(-1, 2.0, 1.0), (2, 4.0, 0.5), (-1, 1.0, 0.0)]
    assert alice.reward == pytest.approx((2.0 * 1.0 + 4.0 * 0.5) / 1.5)
    assert bob.reward == pytest.approx((2.0 * 1.0 + 4.0 * 0.5) / 1.5)
    assert carol.reward == pytest.approx(2.0)
    # user data: one payload per (receiver, source), the Any's value bytes
    ud = a_recv[1].user_data
    assert raw.payloads[ud] == packed(3.0).value
    b_ud = list(bob._raw_sample.received_rewards)[1].user_data
    assert b_ud != ud and raw.payloads[b_ud] == packed(3.0).value
    sent = list(carol._raw_sample.sent_rewards)
    assert [(r.receiver, r.reward, r.confidence) for r in sent] == [(0, 4.0, 0.5), (1, 4.0, 0.5)]
    # messages: receiver index, sender -1 for the environment; message to env only on the sender side
    assert [(m.sender, raw.payloads[m.payload]) for m in bob._raw_sample.received_messages] == [(0, packed(1.0).value)]
    assert [m.receiver for m in alice._raw_sample.sent_messages] == [1]
    assert [(m.sender, raw.payloads[m.payload]) for m in carol._raw_sample.received_messages] == [(-1, b"")]
    assert [m.receiver for m in bob._raw_sample.sent_messages] == [-1]

    s1 = samples[1]
    assert s1.actors_data["bob"].action_serialized == b""  # placeholder still gets an action index
    assert s1.actors_data["carol"].reward == pytest.approx(-1.0)
    assert s1.actors_data["alice"].reward == 0.0  # no reward field
    assert not s1.actors_data["alice"]._raw_sample.HasField("reward")
    assert [r.receiver for r in s1.actors_data["alice"]._raw_sample.sent_rewards] == [2]
    assert all(s.actors_data["alice"].action_serialized == b"" for s in samples[3:])


async def test_sdk_filters_actors_and_fields(server, sdk):
    await log_trial(server.endpoint, "t", make_params(ACTORS), rich_trial())
    infos = await sdk.get_trials(["t"])
    by_class = await collect(sdk.all_samples(infos, actor_classes=["player"]))
    assert all(sorted(s.actors_data) == ["alice", "bob"] for s in by_class)
    by_impl = await collect(sdk.all_samples(infos, actor_implementations=["expert"], actor_names=["carol", "bob"]))
    assert all(list(s.actors_data) == ["carol"] for s in by_impl)
    only_obs = await collect(sdk.all_samples(infos, fields=[DatastoreFields.OBSERVATION]))
    raw = only_obs[0]._raw_sample
    assert all(a.HasField("observation") and not a.HasField("action") for a in raw.actor_samples)
    assert all(not a.HasField("reward") and not a.received_rewards for a in raw.actor_samples)
    assert list(raw.payloads[:2]) == [obs_bytes(0, 0), obs_bytes(0, 1)]
    assert set(raw.payloads[2:]) == {b""}  # unselected payloads are blanked, indexes kept
    rewards_only = await collect(sdk.all_samples(infos, fields=[DatastoreFields.REWARD, DatastoreFields.SENT_REWARDS]))
    carol = rewards_only[0].actors_data["carol"]._raw_sample
    assert carol.HasField("reward") and len(carol.sent_rewards) == 2 and not carol.received_messages


async def test_get_trials_properties_ids_and_paging(server, sdk):
    for k in range(5):
        await log_trial(
            server.endpoint,
            f"p{k}",
            make_params(properties={"parity": "even" if k % 2 == 0 else "odd", "k": str(k)}),
            [datalog_sample(0, state=ENDED, observations=[b"o"], actors_map=[0, 0], actions=[None, None])],
        )
    assert [i.trial_id for i in await sdk.get_trials()] == [f"p{k}" for k in range(5)]
    assert [i.trial_id for i in await sdk.get_trials(properties={"parity": "even"})] == ["p0", "p2", "p4"]
    assert [i.trial_id for i in await sdk.get_trials(ids=["p3", "p1", "zz"])] == ["p1", "p3"]
    paged = await collect(sdk.all_trials(bundle_size=2))
    assert [i.trial_id for i in paged] == [f"p{k}" for k in range(5)]
    odd = await collect(sdk.all_trials(bundle_size=1, properties={"parity": "odd"}))
    assert [i.trial_id for i in odd] == ["p1", "p3"]
    samples = await collect(sdk.all_samples(odd))
    assert sorted((s.trial_id, s.tick_id) for s in samples) == [("p1", 0), ("p3", 0)]

    async with grpc.aio.insecure_channel(address(server.endpoint)) as channel:
        stub = trial_datastore_pb2_grpc.TrialDatastoreSPStub(channel)
        reply = await stub.RetrieveTrials(trial_datastore_pb2.RetrieveTrialsRequest(trials_count=2, trial_handle="1"))
        assert [i.trial_id for i in reply.trial_infos] == ["p1", "p2"]
        assert reply.next_trial_handle == "3"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RetrieveTrials(trial_datastore_pb2.RetrieveTrialsRequest(trial_handle="not-a-number"))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "trial_handle" in err.value.details()


async def test_all_trials_waits_for_a_trial_to_appear(server, sdk, monkeypatch):
    waiting = asyncio.Event()
    wait_changed = server.store.wait_changed

    async def noticed_wait(*args, **kwargs):  # the service waits for the store to change
        waiting.set()
        return await wait_changed(*args, **kwargs)

    monkeypatch.setattr(server.store, "wait_changed", noticed_wait)

    async def later():
        await asyncio.wait_for(waiting.wait(), 5)  # the trial appears while the reader waits
        await log_trial(server.endpoint, "late", make_params(), [])

    task = asyncio.create_task(later())
    loop = asyncio.get_running_loop()
    start = loop.time()
    found = await collect(sdk.all_trials(wait_for_trials=5, ids=["late"]))
    assert [i.trial_id for i in found] == ["late"]
    assert loop.time() - start < 3.0
    await task
    start = loop.time()
    assert await collect(sdk.all_trials(wait_for_trials=0.3, ids=["never"])) == []
    assert 0.25 <= loop.time() - start < 3.0


async def test_live_samples_stream_until_ended(server, sdk):
    client = DatalogClient(server.endpoint, "live")
    await client.params(make_params())
    await client.sample(datalog_sample(0, observations=[b"o0"], actors_map=[0, 0], actions=[b"a", b"b"]))
    infos = await collect(sdk.all_trials(wait_for_trials=5, ids=["live"]))
    received: list[int] = []
    first_seen = asyncio.Event()

    async def read():
        async for s in sdk.all_samples(infos):
            received.append(s.tick_id)
            first_seen.set()

    reader = asyncio.create_task(read())
    await asyncio.wait_for(first_seen.wait(), 5)
    assert received == [0]  # the trial is still running and the reader got what was stored
    for t in range(1, 4):
        await client.sample(datalog_sample(t, observations=[b"o"], actors_map=[0, 0], actions=[b"a", b"b"]))
        await await_condition(lambda t=t: received[-1] == t, 5, f"the reader to receive sample {t}")
    assert not reader.done()
    await client.sample(datalog_sample(4, state=ENDED, observations=[b"o"], actors_map=[0, 0], actions=[None, None]))
    await asyncio.wait_for(reader, 5)
    assert received == [0, 1, 2, 3, 4]
    await client.finish()


async def test_dropped_datalog_stream_ends_live_readers(server, sdk):
    client = DatalogClient(server.endpoint, "dropped")
    await client.params(make_params())
    await client.sample(datalog_sample(0, observations=[b"o"], actors_map=[0, 0], actions=[b"a", b"b"]))
    infos = await collect(sdk.all_trials(wait_for_trials=5, ids=["dropped"]))
    received: list[int] = []

    async def read():
        async for s in sdk.all_samples(infos):
            received.append(s.tick_id)

    reader = asyncio.create_task(read())
    await await_condition(lambda: received == [0], 5, "the reader to receive sample 0")
    assert not reader.done()  # the trial is live: the reader waits for more
    await client.abort()
    await asyncio.wait_for(reader, 5)
    assert received == [0]
    assert (await sdk.get_trials(["dropped"]))[0].trial_state.name == "RUNNING"


async def test_delete_trials(server, sdk):
    for tid in ("keep", "drop1", "drop2"):
        await log_trial(server.endpoint, tid, make_params(), [datalog_sample(0, state=ENDED)])
    await sdk.delete_trials(["drop1", "drop2", "unknown"])
    assert [i.trial_id for i in await sdk.get_trials()] == ["keep"]
    with pytest.raises(Exception, match="At least one"):
        await sdk.delete_trials([])
    async with grpc.aio.insecure_channel(address(server.endpoint)) as channel:
        stub = trial_datastore_pb2_grpc.TrialDatastoreSPStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in stub.RetrieveSamples(trial_datastore_pb2.RetrieveSamplesRequest(trial_ids=["drop1"])):
                pass
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert "drop1" in err.value.details()


async def test_add_trial_add_sample_version_status(server, sdk, datastore):
    params = make_params((("solo", "player", "impl"),))
    stored = trial_datastore_pb2.StoredTrialSample(tick_id=0, timestamp=5, state=ENDED, payloads=[b"obs", b"act"])
    stored.actor_samples.add(actor=0, observation=0, action=1, reward=1.5)
    async with grpc.aio.insecure_channel(address(server.endpoint)) as channel:
        stub = trial_datastore_pb2_grpc.TrialDatastoreSPStub(channel)
        request = trial_datastore_pb2.AddTrialRequest(user_id="importer", trial_params=params)
        await stub.AddTrial(request, metadata=(("trial-id", "imp"),))

        async def requests():
            yield trial_datastore_pb2.AddSampleRequest(trial_sample=stored)

        await stub.AddSample(requests(), metadata=(("trial-id", "imp"),))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.AddTrial(trial_datastore_pb2.AddTrialRequest(trial_params=params))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        version = await stub.Version(common_pb2.VersionRequest())
        assert any(v.name == "cogment_jupyter_trial_datastore" for v in version.versions)
        status = await stub.Status(common_pb2.StatusRequest(names=["*"]))
        assert dict(status.statuses) == {"overall_load": "0"}

    info = (await sdk.get_trials(["imp"]))[0]
    assert (info.user_id, info.sample_count, info.trial_state.name) == ("importer", 1, "ENDED")
    samples = await collect(sdk.all_samples([info]))
    expected = trial_datastore_pb2.StoredTrialSample()
    expected.CopyFrom(stored)
    expected.trial_id = "imp"
    assert samples[0]._raw_sample == expected
    steps = datastore.steps("imp")
    assert steps["observation"].tolist() == [b"obs"] and steps["action"].tolist() == [b"act"]
    assert steps["reward"].tolist() == [1.5]


async def test_datalog_protocol_errors(server):
    from cogment.api import datalog_pb2, datalog_pb2_grpc

    async def stream(metadata, first) -> grpc.aio.AioRpcError:
        call = stub.RunTrialDatalog(metadata=metadata)
        with pytest.raises(grpc.aio.AioRpcError) as err:  # the server may refuse before the write
            await call.write(first)
            await call.done_writing()
            async for _ in call:
                pass
        return err.value

    async with grpc.aio.insecure_channel(address(server.endpoint)) as channel:
        stub = datalog_pb2_grpc.DatalogSPStub(channel)
        err = await stream((), datalog_pb2.RunTrialDatalogInput(trial_params=make_params()))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "trial-id" in err.details()
        err = await stream(
            (("trial-id", "x"), ("user-id", "u")), datalog_pb2.RunTrialDatalogInput(sample=datalog_sample(0))
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "trial_params" in err.details()


async def test_pandas_view_of_a_grpc_logged_trial(server, datastore):
    params = make_params(ACTORS, default_actions={"bob": b"default-b"})
    await log_trial(server.endpoint, "pd", params, rich_trial())
    steps = datastore.steps("pd")
    assert len(steps) == 4 * 3
    bob = steps[steps.actor == "bob"]
    assert bob["action_status"].tolist() == ["normal", "default", "unavailable", "normal"]
    assert values(bob["action"]) == [b"b0", b"default-b", None, None]
    assert values(steps[steps.actor == "carol"]["reward"]) == [2.0, -1.0, None, None]
    assert steps[steps.actor == "bob"]["observation"].iloc[0] == obs_bytes(0, 1)
    assert struct.unpack("<2f", steps["observation"].iloc[-1]) == (3.0, 0.0)
    trials = datastore.trials()
    row = trials.iloc[0]
    assert row["state"] == "ENDED" and row["steps"] == 4 and not row["interrupted"]
    assert dict(row["returns"]) == pytest.approx({"alice": 8 / 3, "bob": 8 / 3, "carol": 1.0})
    assert row["user_id"] == "tester" and row["environment"] == "env"
    assert values(steps[steps.tick == 2]["events"].map(list)) == [["Maximum number of steps reached"]] * 3
    assert steps["state"].unique().tolist() == ["RUNNING", "TERMINATING", "ENDED"]
    assert RUNNING == 3
