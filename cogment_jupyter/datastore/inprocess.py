"""The in-process datalog: the engine hands its sample records straight to the store.

No gRPC and no protobuf per sample. ``add`` turns the records into columns of plain atoms
(bytes, ints, floats) at once, on the engine's loop, and the records die there: kept alive
until the writer thread took them, every sample's dozen small objects would survive into
the garbage collector's old generation, and in a kernel holding pandas and matplotlib the
full collections that follow cost more than the trial itself (``bench/throughput.py``).
The filled columns go to the writer thread, which builds and commits Arrow chunks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

from cogment_jupyter.datastore.chunks import ChunkBuilder
from cogment_jupyter.datastore.store import TrialStore
from cogment_jupyter.datastore.writer import LINGER, TrialHandle
from cogment_jupyter.engine.components import DatalogConnection, TickRows
from cogment_jupyter.engine.records import Sample, TrialState

if TYPE_CHECKING:
    from cogment_jupyter.proto.common_pb2 import TrialParams

#: Rows handed to the writer at most at once (well under the writer's chunk size).
HANDOFF_ROWS = 4096


class InProcessDatalog(DatalogConnection):
    """``DatalogConnection`` writing one trial into a :class:`TrialStore`.

    Samples are encoded when added: their payloads may change afterwards. Rows reach the
    writer when ``HANDOFF_ROWS`` are gathered, at the trial's end, and otherwise at most
    ``LINGER`` seconds after they were added (so a live trial is readable while it runs).
    """

    def __init__(self, store: TrialStore) -> None:
        self._store = store
        self._handle: TrialHandle | None = None
        self._closed = False
        self._builder: ChunkBuilder | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._created: Future[TrialHandle] | None = None

    @property
    def trial_id(self) -> str | None:
        return None if self._handle is None else self._handle.trial_id

    async def start(self, trial_id: str, user_id: str, params: TrialParams) -> None:
        if self._handle is not None:
            raise RuntimeError(f"this datalog already records trial {self._handle.trial_id}; use one per trial")
        # not awaited: the engine keeps a trial's samples until its datalog started, and samples
        # held that long would reach the garbage collector's old generation (see the module doc)
        self._handle, self._created = self._store.writer.open(trial_id, user_id, params)

    accepts_rows = True

    def add(self, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        builder = self._open_builder("add")
        builder.add_records(samples)
        if samples[-1].state == TrialState.ENDED or len(builder) >= HANDOFF_ROWS:
            self._handoff()  # after ENDED, the close that follows decides when it commits

    def add_rows(self, rows: TickRows) -> None:
        if not len(rows):
            return
        builder = self._open_builder("add_rows")
        builder.add_rows(rows)
        if len(builder) >= HANDOFF_ROWS:
            self._handoff()

    def _open_builder(self, what: str) -> ChunkBuilder:
        """The builder gathering rows for the writer (a new one starts the linger timer)."""
        handle = self._handle
        if handle is None:
            raise RuntimeError(
                f"InProcessDatalog.{what}() before start(): await start(trial_id, user_id, params) first"
            )
        if self._closed:
            raise RuntimeError(f"trial {handle.trial_id}: {what}() after close()")
        builder = self._builder
        if builder is None:
            builder = self._builder = ChunkBuilder(handle.directory)
            self._timer = asyncio.get_running_loop().call_later(LINGER, self._handoff)
        return builder

    def _handoff(self) -> None:
        """Give the rows gathered so far to the writer thread."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        builder, self._builder = self._builder, None
        if builder is not None and len(builder) and self._handle is not None:
            self._store.writer.add(self._handle, (builder,))

    async def flush(self) -> None:
        """Wait until everything added so far is committed (visible to other processes)."""
        self._handoff()
        await asyncio.wrap_future(self._store.writer.flush())
        await self._check_created()

    async def _check_created(self) -> None:
        """Raise the error that kept the trial's row from being written, if any."""
        if self._created is not None:
            await asyncio.wrap_future(self._created)

    async def close(self) -> None:
        if self._handle is None or self._closed:
            return
        self._handoff()
        self._closed = True
        # the writer runs ops in order: once the close is committed, the creation is decided
        await asyncio.wrap_future(self._store.writer.close(self._handle))
        created = self._created
        if created is not None and (not created.done() or created.exception() is not None):
            await self._check_created()
