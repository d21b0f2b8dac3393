"""Builders shared by the datastore tests: params, datalog samples, an orchestrator-like logger."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import grpc
import grpc.aio
import numpy as np
import pandas as pd
from cogment.api import common_pb2, datalog_pb2, datalog_pb2_grpc
from google.protobuf import any_pb2, wrappers_pb2

ENDED = common_pb2.TrialState.Value("ENDED")
RUNNING = common_pb2.TrialState.Value("RUNNING")
TERMINATING = common_pb2.TrialState.Value("TERMINATING")


def make_params(
    actors: Sequence[tuple[str, str, str]] = (("alice", "player", "random"), ("bob", "player", "human")),
    *,
    env: str = "env",
    env_impl: str = "cartpole",
    properties: dict[str, str] | None = None,
    default_actions: dict[str, bytes] | None = None,
) -> common_pb2.TrialParams:
    params = common_pb2.TrialParams()
    params.environment.name = env
    params.environment.implementation = env_impl
    for name, cls, impl in actors:
        a = params.actors.add(name=name, actor_class=cls, implementation=impl)
        if default_actions and name in default_actions:
            a.optional = True
            a.default_action.content = default_actions[name]
    for k, v in (properties or {}).items():
        params.properties[k] = v
    return params


def obs_bytes(tick: int, actor: int = 0) -> bytes:
    return struct.pack("<2f", float(tick), float(actor))


def packed(value: float) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(wrappers_pb2.FloatValue(value=value))
    return out


def datalog_sample(
    tick: int,
    *,
    state: int = RUNNING,
    observations: Sequence[bytes] | None = None,
    actors_map: Sequence[int] = (),
    actions: Sequence[bytes | None] = (),
    rewards: Iterable[common_pb2.Reward] = (),
    messages: Iterable[common_pb2.Message] = (),
    default_actors: Sequence[int] = (),
    unavailable_actors: Sequence[int] = (),
    events: Sequence[str] = (),
    timestamp: int | None = None,
    out_of_sync: bool = False,
) -> datalog_pb2.DatalogSample:
    """A ``DatalogSample`` built like an orchestrator does (§10): ``None`` actions are placeholders."""
    s = datalog_pb2.DatalogSample()
    s.info.tick_id = tick
    s.info.timestamp = timestamp if timestamp is not None else 1_700_000_000_000_000_000 + tick * 1_000_000
    s.info.state = state
    s.info.out_of_sync = out_of_sync
    s.info.special_events.extend(events)
    if observations is not None:
        s.observations.tick_id = -1
        s.observations.observations.extend(observations)
        s.observations.actors_map.extend(actors_map)
    for a in actions:
        if a is None:
            s.actions.add(tick_id=-2)
        else:
            s.actions.add(tick_id=tick, content=a)
    s.rewards.extend(rewards)
    s.messages.extend(messages)
    s.default_actors.extend(default_actors)
    s.unavailable_actors.extend(unavailable_actors)
    return s


def reward(
    receiver: str, *sources: tuple[str, float, float] | tuple[str, float, float, any_pb2.Any]
) -> common_pb2.Reward:
    r = common_pb2.Reward(tick_id=-1, receiver_name=receiver, value=0.0)
    for src in sources:
        s = r.sources.add(sender_name=src[0], value=src[1], confidence=src[2])
        if len(src) > 3:
            s.user_data.CopyFrom(src[3])
    return r


def message(sender: str, receiver: str, payload: any_pb2.Any | None = None) -> common_pb2.Message:
    m = common_pb2.Message(tick_id=-1, sender_name=sender, receiver_name=receiver)
    if payload is not None:
        m.payload.CopyFrom(payload)
    return m


def values(series) -> list:
    """A pandas column as a list with ``None`` for missing values (Arrow columns give ``pd.NA``)."""
    import pandas as pd

    return [None if v is pd.NA or (isinstance(v, float) and v != v) else v for v in series.tolist()]


def address(endpoint: str) -> str:
    return endpoint.removeprefix("grpc://")


class DatalogClient:
    """Streams one trial to ``DatalogSP`` the way an orchestrator does."""

    def __init__(self, endpoint: str, trial_id: str, user_id: str = "tester") -> None:
        self._channel = grpc.aio.insecure_channel(address(endpoint))
        self._call = datalog_pb2_grpc.DatalogSPStub(self._channel).RunTrialDatalog(
            metadata=(("trial-id", trial_id), ("user-id", user_id))
        )

    async def params(self, params: common_pb2.TrialParams) -> None:
        await self._call.write(datalog_pb2.RunTrialDatalogInput(trial_params=params))

    async def sample(self, sample: datalog_pb2.DatalogSample) -> None:
        await self._call.write(datalog_pb2.RunTrialDatalogInput(sample=sample))

    async def finish(self) -> None:
        """Half-close and wait for the server to end the stream (it has committed by then)."""
        await self._call.done_writing()
        async for _ in self._call:
            pass
        await self._channel.close()

    async def abort(self) -> None:
        self._call.cancel()
        await self._channel.close()


async def log_trial(endpoint: str, trial_id: str, params: common_pb2.TrialParams, samples: Iterable) -> None:
    client = DatalogClient(endpoint, trial_id)
    await client.params(params)
    for s in samples:
        await client.sample(s)
    await client.finish()


def plain(value: Any) -> Any:
    """A steps frame's values as JSON (bytes as base64, arrays as lists, missing as None): what
    ``fixtures/schema2.json`` holds of the old format's reads."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return "b64:" + base64.b64encode(value).decode()
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


# What ``fixtures/schema2.json`` holds of a datastore's reads: made by ``fixtures/make_schema2.py``
# with the old format's code and compared by ``test_old_format.py`` with today's, so both sides
# summarise the same way.


def trial_summary(row: Any) -> dict[str, Any]:
    """One row of ``datastore.trials()`` (from ``itertuples``) as JSON."""
    return {
        "trial_id": row.trial_id,
        "state": row.state,
        "steps": int(row.steps),
        "samples": int(row.samples),
        "returns": {k: float(v) for k, v in row.returns},
        "interrupted": bool(row.interrupted),
        "failed": bool(row.failed),
        "end_details": plain(row.end_details),
        "properties": dict(row.properties),
    }


def steps_summary(steps: pd.DataFrame) -> dict[str, Any]:
    """A trial's steps (without their timestamps): row count, digest, first and last rows."""
    rows = plain(steps.drop(columns=["timestamp"]).to_dict("records"))
    return {"rows": len(rows), "sha256": digest(rows), "first": rows[:3], "last": rows[-3:]}


def samples_summary(datastore: Any, trial_id: str) -> dict[str, Any]:
    """A trial's samples as the SDK reads them (``SampleConverter``): count, digest, first two."""
    from cogment_jupyter.datastore.stored_samples import SampleConverter

    record = datastore.store.record(trial_id)
    converted = SampleConverter(trial_id, record.directory()).convert(datastore.samples(trial_id))
    encoded = [base64.b64encode(sample.SerializeToString()).decode() for sample in converted]
    return {"count": len(encoded), "sha256": digest(encoded), "first": encoded[:2]}
