"""The in-process datalog: the engine hands its sample records straight to the store.

No gRPC and no protobuf per sample. ``add`` turns the records into columns of plain atoms
(bytes, ints, floats) at once, on the engine's loop, and the records die there: kept alive
until the writer thread took them, every sample's dozen small objects would survive into
the garbage collector's old generation, and in a kernel holding pandas and matplotlib the
full collections that follow cost more than the trial itself (``bench/throughput.py``).

Every trial recorded from one event loop into one store fills the same columns: a
:class:`Recorder` per loop and store gathers the rows of all its trials (one builder per actor
count, a segment per trial), their creations and their closes, and hands the writer thread
one op per batch. The writer stores the batch as one chunk the trials share, so a short
trial costs the writer a segment row and its trial row, not a chunk and a transaction.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from cogment_jupyter.datastore.actors import ActorDirectory
from cogment_jupyter.datastore.chunks import ChunkBuilder
from cogment_jupyter.datastore.store import TrialStore
from cogment_jupyter.datastore.writer import CLOSE_LINGER, LINGER, OpenTrial, RowBatch
from cogment_jupyter.engine.components import DatalogConnection, TickRows
from cogment_jupyter.engine.records import Sample

if TYPE_CHECKING:
    from cogment_jupyter.proto.common_pb2 import TrialParams

#: Rows gathered at most before the batch goes to the writer (one chunk of that many rows).
HANDOFF_ROWS = 8192
#: Trials closed at most in one batch: fewer than a lab's batch runs before they are recorded
#: (``lab.batch.UNRECORDED``), so that trials keep running while a batch is committed.
MAX_CLOSES = 128
#: How long rows and closes may wait while trials are run in a batch (:meth:`Recorder.hold`):
#: a few hundred short trials then share a chunk and a transaction (the costs of a
#: transaction and a chunk, spread over its trials; a SIGKILL loses at most that batch).
HELD_LINGER = 0.25


class Recorder:
    """The rows, creations and closes of the trials recorded from one loop into one store,
    until they go to the writer as one :class:`RowBatch` (see the module doc)."""

    def __init__(self, store: TrialStore, loop: asyncio.AbstractEventLoop) -> None:
        self._store = store
        self._loop = loop
        self._batch = RowBatch()
        self._future: Future[None] = Future()
        #: trials with a segment in the batch, and the rows of those that had to continue apart
        self._placed: set[OpenTrial] = set()
        self._own: dict[OpenTrial, ChunkBuilder] = {}
        self._deadline = float("inf")
        #: the linger that set ``_deadline``: a later call asking as long or longer changes nothing
        self._linger = float("inf")
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: asyncio.Future[None] | None = None
        self._held = 0
        #: the trial that added rows last, its builder and its segment in the batch (None: its own builder)
        self._last: OpenTrial | None = None
        self._last_builder: ChunkBuilder | None = None
        self._last_segment: list[Any] | None = None

    @classmethod
    def of(cls, store: TrialStore) -> Recorder:
        """The recorder of this store on the running loop."""
        global _last_recorder
        loop = asyncio.get_running_loop()
        recorder = _last_recorder()
        if recorder is not None and recorder._store is store and recorder._loop is loop:
            return recorder  # (every trial of a lab asks for the same one: no weak mapping looked up)
        recorders = _recorders.get(store)
        if recorders is None:
            recorders = _recorders[store] = weakref.WeakKeyDictionary()
        recorder = recorders.get(loop)
        if recorder is None:
            recorder = recorders[loop] = cls(store, loop)
        _last_recorder = weakref.ref(recorder)
        return recorder

    def open(self, trial_id: str, user_id: str, params: TrialParams) -> OpenTrial:
        """A new trial's handle; its row is written with the batch (before its samples)."""
        handle = OpenTrial(0, trial_id, ActorDirectory.from_params(params))
        self._batch.creates.append((handle, (trial_id, user_id, params, time.time_ns())))
        self._due(HELD_LINGER if self._held else LINGER)
        return handle

    def add_rows(self, handle: OpenTrial, rows: TickRows) -> None:
        """Plain ticks of ``handle`` (they go within ``LINGER``)."""
        builder = self._last_builder if handle is self._last else self._builder(handle)
        builder.add_rows(rows)  # type: ignore[union-attr]
        self._added(builder)  # type: ignore[arg-type]

    def add_records(self, handle: OpenTrial, samples: Sequence[Sample]) -> None:
        """Engine records of ``handle`` (they go within ``LINGER``)."""
        builder = self._last_builder if handle is self._last else self._builder(handle)
        builder.add_records(samples)  # type: ignore[union-attr]
        self._added(builder)  # type: ignore[arg-type]

    def _builder(self, handle: OpenTrial) -> ChunkBuilder:
        """The builder to add ``handle``'s next rows to; it becomes the last trial to add rows.

        A trial's rows stay contiguous: its first rows of a batch open a segment at the end of
        the shared builder, which later ones extend while no other trial added rows after
        them; after that, they gather in a builder of the trial's own (rows of trials that
        interleave tick by tick, on the engine's loop), appended when the batch goes.
        """
        self._last = handle
        if self._own:
            builder = self._own.get(handle)
            if builder is not None:
                self._last_builder, self._last_segment = builder, None
                return builder
        directory = handle.directory
        builder, segments = self._batch.group(directory)
        if segments and segments[-1][0] is handle:
            segment = segments[-1]
        elif handle in self._placed:
            builder = self._own[handle] = ChunkBuilder(directory)
            self._last_builder, self._last_segment = builder, None
            return builder
        else:
            self._placed.add(handle)
            size = len(builder)
            segment = [handle, size, size]
            segments.append(segment)
        builder.directory = directory  # reward receivers are expanded per trial
        self._last_builder, self._last_segment = builder, segment
        return builder

    def _added(self, builder: ChunkBuilder) -> None:
        """Rows of the last trial were added to ``builder``: they go within ``LINGER``."""
        size = len(builder)
        if self._last_segment is not None:
            self._last_segment[2] = size
        if size >= HANDOFF_ROWS:
            self.submit()
        else:
            self._due(HELD_LINGER if self._held else LINGER)

    def close(self, handle: OpenTrial) -> asyncio.Future[None]:
        """Close a trial's stream with the batch, which goes within ``CLOSE_LINGER`` (``LINGER``
        while trials are run in a batch, see :meth:`hold`); resolved once committed."""
        batch = self._batch
        batch.closes.append(handle)
        waiter = self._waiter()
        if len(batch.closes) >= MAX_CLOSES:
            self.submit()
        else:
            self._due(HELD_LINGER if self._held else CLOSE_LINGER)
        return waiter

    def hold(self) -> None:
        """Trials are run in a batch (``lab.run_trials``): until :meth:`release`, their rows and
        closes wait up to ``HELD_LINGER``, so that many trials share a chunk and a transaction."""
        self._held += 1

    def release(self) -> None:
        self._held -= 1
        if not self._held and self._batch.closes:
            self._due(0.0)

    def flush(self) -> asyncio.Future[None]:
        """Hand the batch to the writer now; resolved once it is committed."""
        waiter = self._waiter()
        self.submit()
        return waiter

    def _waiter(self) -> asyncio.Future[None]:
        """What resolves on this loop once the open batch is committed (one per batch)."""
        if self._waiting is None:
            self._waiting = asyncio.wrap_future(self._future, loop=self._loop)
        return self._waiting

    def submit(self) -> None:
        """Hand the batch to the writer now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline = self._linger = float("inf")
        self._last = self._last_builder = self._last_segment = None
        batch, future = self._batch, self._future
        for handle, own in self._own.items():  # (see builder())
            builder, segments = batch.group(handle.directory)
            segments.append([handle, len(builder), len(builder) + len(own)])
            builder.extend(own)
        self._batch, self._future, self._waiting = RowBatch(), Future(), None
        self._own, self._placed = {}, set()
        if not batch:
            future.set_result(None)
            return
        try:
            self._store.writer.write(batch, future)
        except Exception as error:  # the datastore is closed
            for handle in batch.handles():
                handle.dropped, handle.error = True, error
            future.set_result(None)

    def _due(self, linger: float) -> None:
        """The batch goes within ``linger`` seconds (or sooner, if asked before)."""
        if linger >= self._linger:  # (asked as long or longer before: that deadline is sooner)
            return
        deadline = self._loop.time() + linger
        if deadline < self._deadline:
            self._deadline, self._linger = deadline, linger
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self.submit)


_recorders: weakref.WeakKeyDictionary[TrialStore, weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()


def _no_recorder() -> Recorder | None:
    return None


#: the recorder :meth:`Recorder.of` found last (weakly)
_last_recorder: Callable[[], Recorder | None] = _no_recorder


class InProcessDatalog(DatalogConnection):
    """``DatalogConnection`` writing one trial into a :class:`TrialStore`, through the
    :class:`Recorder` of its loop.

    Samples are encoded when added: their payloads may change afterwards. Rows reach the
    writer with their batch, at most ``LINGER`` seconds after they were added (so a live
    trial is readable while it runs), and a close within ``CLOSE_LINGER`` (both within
    ``HELD_LINGER`` while trials run in a batch, see :meth:`Recorder.hold`).
    """

    def __init__(self, store: TrialStore) -> None:
        self._store = store
        self._handle: OpenTrial | None = None
        self._recorder: Recorder | None = None
        self._closed = False

    @property
    def trial_id(self) -> str | None:
        return None if self._handle is None else self._handle.trial_id

    async def start(self, trial_id: str, user_id: str, params: TrialParams) -> None:
        self.start_now(trial_id, user_id, params)

    def start_now(self, trial_id: str, user_id: str, params: TrialParams) -> bool:
        """Starting waits for nothing: the trial's row is written with its first batch."""
        if self._handle is not None:
            raise RuntimeError(f"this datalog already records trial {self._handle.trial_id}; use one per trial")
        self._recorder = Recorder.of(self._store)
        self._handle = self._recorder.open(trial_id, user_id, params)
        return True

    accepts_rows = True

    def add(self, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        recorder, handle = self._recorder, self._handle
        if recorder is None or handle is None or self._closed:
            raise self._not_open("add")
        recorder.add_records(handle, samples)

    def add_rows(self, rows: TickRows) -> None:
        if not len(rows):
            return
        recorder, handle = self._recorder, self._handle
        if recorder is None or handle is None or self._closed:
            raise self._not_open("add_rows")
        recorder.add_rows(handle, rows)

    def _not_open(self, what: str) -> RuntimeError:
        if self._handle is None:
            return RuntimeError(
                f"InProcessDatalog.{what}() before start(): await start(trial_id, user_id, params) first"
            )
        return RuntimeError(f"trial {self._handle.trial_id}: {what}() after close()")

    async def flush(self) -> None:
        """Wait until everything added so far is committed (visible to other processes)."""
        if self._recorder is None:
            return
        await asyncio.shield(self._recorder.flush())
        self._check()

    def _check(self) -> None:
        """Raise the error that kept the trial from being recorded completely, if any."""
        if self._handle is not None and self._handle.error is not None:
            raise self._handle.error

    async def close(self) -> None:
        closing = self.close_now()
        if closing is not None:
            await asyncio.shield(closing)  # (a batch's waiters share one future)
            self._check()

    def close_now(self) -> asyncio.Future[None] | None:
        if self._handle is None or self._recorder is None or self._closed:
            return None
        self._closed = True
        return self._recorder.close(self._handle)

    def check_closed(self) -> None:
        self._check()
