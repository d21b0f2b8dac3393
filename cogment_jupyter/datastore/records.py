"""A trial's summary row, and whether the process that was writing it is still there."""

from __future__ import annotations

import functools
import json
import os
import socket
from dataclasses import dataclass

import psutil

from cogment_jupyter.datastore.actors import ActorDirectory, ActorInfo
from cogment_jupyter.datastore.schema import TRIAL_COLUMNS
from cogment_jupyter.engine.records import TrialState, is_failure
from cogment_jupyter.proto.common_pb2 import TrialParams


@dataclass(frozen=True, slots=True)
class WriterIdentity:
    """Who writes a trial: lets another process tell a live trial from an interrupted one."""

    host: str
    pid: int
    start: float


@functools.cache
def _identity_of(pid: int) -> WriterIdentity:
    return WriterIdentity(socket.gethostname(), pid, psutil.Process(pid).create_time())


def this_process() -> WriterIdentity:
    return _identity_of(os.getpid())


def writer_alive(host: str | None, pid: int | None, start: float | None) -> bool:
    """False only when we can tell for sure: same host and that process is gone (or was replaced)."""
    if not host or not pid or host != socket.gethostname():
        return True
    try:
        process = psutil.Process(pid)
        created = process.create_time()
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            return False
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
    return start is None or abs(created - start) < 1.0


def stored_params(params: TrialParams) -> bytes:
    """A trial's params as its row keeps them: without their properties, which the row's
    property set holds (the trials of an environment share theirs)."""
    if not params.properties:
        return params.SerializeToString()
    stored = TrialParams()
    stored.CopyFrom(params)
    stored.ClearField("properties")
    return stored.SerializeToString()


@functools.lru_cache(maxsize=256)
def _properties_bytes(text: str) -> bytes:
    """The serialized properties of a ``TrialParams``: appended to the stored params, they
    make the params whole (protobuf merges concatenated messages; a schema 2 row, which
    kept its properties in its params too, gets the same entries again)."""
    properties = json.loads(text)
    return TrialParams(properties=properties).SerializeToString() if properties else b""


@dataclass(slots=True)
class TrialRecord:
    """One row of the ``trials`` table."""

    seq: int
    trial_id: str
    user_id: str
    params_bytes: bytes | None
    env_name: str
    env_impl: str
    actors: list[ActorInfo]
    properties: dict[str, str]
    state: int
    samples: int
    ticks: int
    returns: list[float]
    created_ns: int
    started_ns: int | None
    last_ns: int | None
    ended_ns: int | None
    closed: bool
    writer_host: str | None
    writer_pid: int | None
    writer_start: float | None
    #: why the trial was forced to end (None: it ended normally, or has not ended)
    end_details: str | None

    COLUMNS = TRIAL_COLUMNS
    COLUMNS_NO_PARAMS = COLUMNS.replace("params,", "NULL,")

    @classmethod
    def from_row(cls, row: tuple) -> TrialRecord:
        """A record from a row of ``trial_rows`` (``COLUMNS``); its params whole again."""
        (seq, tid, user, params, env, impl, actors, props, state, samples, ticks, returns, *rest) = row
        return cls(
            seq,
            tid,
            user,
            None if params is None else params + _properties_bytes(props),
            env,
            impl,
            [ActorInfo(*a) for a in json.loads(actors)],
            json.loads(props),
            state,
            samples,
            ticks,
            json.loads(returns),
            rest[0],
            rest[1],
            rest[2],
            rest[3],
            bool(rest[4]),
            rest[5],
            rest[6],
            rest[7],
            rest[8],
        )

    @property
    def ended(self) -> bool:
        return self.state == TrialState.ENDED

    @property
    def failed(self) -> bool:
        """Forced to end by a failure (a component died or raised, the trial went stale...), not
        by a request (``TerminateTrial``, a stopping orchestrator)."""
        return is_failure(self.end_details)

    @property
    def interrupted(self) -> bool:
        """Not ENDED and nobody will complete it: its writer closed the stream or died."""
        if self.ended:
            return False
        return self.closed or not writer_alive(self.writer_host, self.writer_pid, self.writer_start)

    @property
    def live(self) -> bool:
        """More samples may still arrive."""
        return not self.ended and not self.interrupted

    def directory(self) -> ActorDirectory:
        return ActorDirectory(self.actors)

    def params(self) -> TrialParams:
        if self.params_bytes is None:
            raise ValueError("this record was loaded without its params")
        return TrialParams.FromString(self.params_bytes)
