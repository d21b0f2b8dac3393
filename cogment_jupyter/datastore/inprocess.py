"""The in-process datalog: the engine hands its sample records straight to the store.

No gRPC and no protobuf per sample: ``add`` only queues the records (it never blocks the tick
loop); the writer thread turns each batch into one columnar chunk and commits it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cogment_jupyter.datastore.store import TrialStore
from cogment_jupyter.datastore.writer import TrialHandle
from cogment_jupyter.engine.components import DatalogConnection
from cogment_jupyter.engine.records import Sample, TrialState

if TYPE_CHECKING:
    from cogment.api.common_pb2 import TrialParams


class InProcessDatalog(DatalogConnection):
    """``DatalogConnection`` writing one trial into a :class:`TrialStore`.

    Samples and their payloads must not be mutated after ``add`` (they are encoded later, on
    the writer thread).
    """

    def __init__(self, store: TrialStore) -> None:
        self._store = store
        self._handle: TrialHandle | None = None
        self._closed = False

    @property
    def trial_id(self) -> str | None:
        return None if self._handle is None else self._handle.trial_id

    async def start(self, trial_id: str, user_id: str, params: TrialParams) -> None:
        if self._handle is not None:
            raise RuntimeError(f"this datalog already records trial {self._handle.trial_id}; use one per trial")
        self._handle = await asyncio.wrap_future(self._store.writer.create(trial_id, user_id, params))

    def add(self, samples: Sequence[Sample]) -> None:
        if self._handle is None:
            raise RuntimeError("InProcessDatalog.add() before start(): await start(trial_id, user_id, params) first")
        if self._closed:
            raise RuntimeError(f"trial {self._handle.trial_id}: add() after close()")
        if samples:
            ended = samples[-1].state == TrialState.ENDED
            self._store.writer.add(self._handle, samples, urgent=ended)

    async def flush(self) -> None:
        """Wait until everything added so far is committed (visible to other processes)."""
        await asyncio.wrap_future(self._store.writer.flush())

    async def close(self) -> None:
        if self._handle is None or self._closed:
            return
        self._closed = True
        await asyncio.wrap_future(self._store.writer.close(self._handle))
