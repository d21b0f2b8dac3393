"""The single writer thread of a datastore file in this process.

Every write (trial creation, samples, close, delete, import) goes through one queue, so that
samples from many trials are committed together in one transaction per batch, in order, off
the engine's event loop. Each op says how long it may wait for others: samples ``LINGER``,
a trial's close ``CLOSE_LINGER`` (trials ending together share a batch), a flush, a user call
or an explicit creation none. A batch goes at the earliest of those deadlines, or when
``MAX_BATCH`` samples are queued. A SIGKILL loses at most that batch.

A batch that cannot be written (a full disk, a read-only file) is retried op by op, so that
one trial's failure leaves the others' writes alone. A trial that lost samples is not written
any further: its close fails with the error, and its row is marked closed (so readers see it
interrupted) as soon as a later batch commits, e.g. once space was freed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cogment_jupyter.datastore import chunks
from cogment_jupyter.datastore import segments as segments_
from cogment_jupyter.datastore.actors import ActorDirectory
from cogment_jupyter.datastore.records import WriterIdentity, this_process
from cogment_jupyter.datastore.schema import connect, translate_errors
from cogment_jupyter.datastore.templates import split_params
from cogment_jupyter.engine.records import TrialState

if TYPE_CHECKING:
    from cogment_jupyter.proto.common_pb2 import TrialParams

log = logging.getLogger(__name__)

#: How long samples may wait to be committed with later ones (what SIGKILL can lose).
LINGER = 0.05
#: How long a trial's close may wait: trials ending together commit together, and a waiting
#: ``handle.wait()`` hardly notices.
CLOSE_LINGER = 0.005
MAX_BATCH = 8192
#: Pages the write-ahead log may hold before a commit copies them into the file (SQLite's
#: default is 1000). Every trial's row writes a page of the trial-id index at random (ids are
#: random), so a commit of a batch of short trials writes a hundred such pages: a longer log
#: lets the writes of the same pages by successive commits be copied once.
CHECKPOINT_PAGES = 4000
#: Chunk size after compaction, and the largest chunk a batch produces.
MAX_CHUNK = 65536
#: A closed trial of at least ``COMPACT_FROM`` samples whose segments average fewer than
#: ``COMPACT_BELOW`` samples is rewritten in chunks of its own (reading it then decompresses
#: only its own samples); shorter trials stay in the chunks they share.
COMPACT_BELOW = 1024
COMPACT_FROM = 4096


@dataclass(eq=False, slots=True)
class OpenTrial:
    """A trial open for writing in this process.

    ``kind`` says what its queued items are (see :meth:`Writer.add`). ``buffer`` is appended
    to without a lock (``deque`` operations are atomic); ``queued`` tells whether a drain of
    it is already in the writer's queue, so that ``add`` takes the lock once per batch only.
    """

    seq: int
    trial_id: str
    directory: ActorDirectory
    kind: str = "rows"
    #: samples of this trial were lost (``error`` says why): later ones are not written
    dropped: bool = False
    error: Exception | None = None
    #: the queued items of a trial written by :meth:`Writer.add` (made at its first items: an
    #: in-process trial's rows go with the batches of its recorder, not here)
    buffer: deque | None = None
    queued: bool = False
    #: what the file holds of the trial: samples, segments (None: unknown), returns per actor
    #: (replaced, never changed in place: a new handle shares the empty one)
    samples: int = 0
    segments: int | None = 0
    returns: Sequence[float] = ()

    def take_row(self, created: OpenTrial) -> None:
        """Become the handle of the row ``created`` describes."""
        self.seq, self.samples, self.segments, self.returns = (
            created.seq,
            created.samples,
            created.segments,
            created.returns,
        )

    def queued_samples(self) -> int:
        """Items in ``buffer`` (one sample each)."""
        return 0 if self.buffer is None else len(self.buffer)


@dataclass(eq=False, slots=True)
class RowBatch:
    """What the in-process datalogs of one loop hand the writer at once (``Writer.write``):
    trials to create, rows of many trials (one builder per actor count, ``[handle, start,
    stop]`` segments in row order) and trials to close, in that order."""

    creates: list[tuple[OpenTrial, tuple[str, str, Any]]] = field(default_factory=list)
    groups: dict[int, tuple[chunks.ChunkBuilder, list[list[Any]]]] = field(default_factory=dict)
    closes: list[OpenTrial] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.creates or self.groups or self.closes)

    def group(self, directory: ActorDirectory) -> tuple[chunks.ChunkBuilder, list[list[Any]]]:
        """The builder and segments of trials with as many actors as ``directory``."""
        group = self.groups.get(len(directory))
        if group is None:
            group = self.groups[len(directory)] = (chunks.ChunkBuilder(directory), [])
        return group

    def handles(self) -> list[OpenTrial]:
        return list(
            dict.fromkeys(
                [h for h, _ in self.creates]
                + [segment[0] for _, segments in self.groups.values() for segment in segments]
                + self.closes
            )
        )


@dataclass(slots=True)
class _Op:
    kind: str  # create | drain | close | rows | flush | call
    handle: OpenTrial | None = None
    payload: Any = None
    future: Future | None = None


@dataclass(slots=True)
class _Queue:
    ops: list[_Op] = field(default_factory=list)
    #: when the batch must go (monotonic time): the earliest of its ops' lingers
    deadline: float = float("inf")

    def samples(self) -> int:
        return sum(op.handle.queued_samples() for op in self.ops if op.kind == "drain")


class Writer:
    """Serialises all writes to one file through a background thread."""

    def __init__(self, file: Path, on_commit: Callable[[], None], writer: WriterIdentity | None = None) -> None:
        self.file = file
        self._on_commit = on_commit
        self._identity = writer
        self._cond = threading.Condition()
        self._queue = _Queue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._conn: sqlite3.Connection | None = None
        #: trials that lost samples and whose row is not yet marked closed (the writer's thread only)
        self._unclosed: list[OpenTrial] = []

    # -- submission (any thread) -----------------------------------------------------------

    def create(self, trial_id: str, user_id: str, params: TrialParams, *, closed: bool = False) -> Future[OpenTrial]:
        return self._submit(_Op("create", payload=(trial_id, user_id, params, closed), future=Future()), 0.0)

    def write(self, batch: RowBatch, future: Future[None]) -> None:
        """Queue the trials, rows and closes of in-process datalogs (see ``RowBatch``); ``future``
        is resolved once they are committed (each trial's own error, if any, is on its handle)."""
        self._submit(_Op("rows", payload=batch, future=future), 0.0)

    def add(self, handle: OpenTrial, items: Iterable[Any], *, urgent: bool = False) -> None:
        """Queue samples of the handle's ``kind``: ``datalog`` protobufs, or ``stored``
        ``(StoredTrialSample, bytes)`` pairs. Cheap: no lock unless a batch starts."""
        buffer = handle.buffer
        if buffer is None:
            buffer = handle.buffer = deque()
        buffer.extend(items)
        if not handle.queued:
            with self._cond:
                if not handle.queued:
                    handle.queued = True
                    self._submit(_Op("drain", handle), 0.0 if urgent else LINGER)
                    return
        if urgent or handle.queued_samples() >= MAX_BATCH:
            with self._cond:
                self._queue.deadline = 0.0
                self._cond.notify()

    def close(self, handle: OpenTrial) -> Future[None]:
        """Mark a trial's stream closed (committed within ``CLOSE_LINGER``)."""
        return self._submit(_Op("close", handle, future=Future()), CLOSE_LINGER)

    def flush(self) -> Future[None]:
        return self._submit(_Op("flush", future=Future()), 0.0)

    def call(self, fn: Callable[[sqlite3.Connection], Any]) -> Future[Any]:
        """Run ``fn(connection)`` inside a write transaction, in order with everything else."""
        return self._submit(_Op("call", payload=fn, future=Future()), 0.0)

    def _submit(self, op: _Op, linger: float) -> Any:
        """Queue an op that may wait ``linger`` seconds for others to share its transaction."""
        with self._cond:
            if self._stopping:
                raise RuntimeError(f"{self.file}: the datastore is closed")
            q = self._queue
            q.ops.append(op)
            deadline = time.monotonic() + linger if linger > 0 else 0.0
            if deadline < q.deadline:
                q.deadline = deadline
                self._cond.notify()  # the writer waits until the old deadline
            self._start_locked()
        return op.future

    def start(self) -> None:
        """Start the thread now rather than at the first write (it warms pyarrow up meanwhile)."""
        with self._cond:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._run, name=f"datastore-writer:{self.file.name}", daemon=True)
            self._thread.start()
            _live_writers.add(self)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        # pyarrow imports pandas on its first pa.array() (slow): pay it here, not in a batch
        pa.array([0])
        while True:
            with self._cond:
                while not self._queue.ops and not self._stopping:
                    self._cond.wait()
                q = self._queue
                while not self._stopping and q.samples() < MAX_BATCH:
                    remaining = q.deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                ops = q.ops
                self._queue = _Queue()
                if not ops and self._stopping:
                    break
            if ops:
                self._execute(ops)
        if self._conn is not None:
            self._conn.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = connect(self.file)
            conn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
            self._conn = conn
        return self._conn

    def _execute(self, ops: list[_Op]) -> None:
        try:
            conn = self._connection()
        except Exception as exc:
            self._fail(ops, exc)
            return
        try:
            with translate_errors(self.file):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    results, pending = self._apply(conn, ops)
                    conn.execute("COMMIT")
                except BaseException:
                    # SQLite rolls back by itself on some errors (a full disk): a second ROLLBACK
                    # would fail and hide the error that matters
                    if conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
        except Exception as exc:
            if len(ops) > 1:  # isolate the culprit, keep the others
                for op in ops:
                    self._execute([op])
                return
            self._fail(ops, exc)
            return
        pending.committed()
        self._unclosed.clear()  # marked closed by this batch
        for op, result in results:
            if op.future is not None and not op.future.done():
                error = op.handle.error if op.kind == "close" and op.handle is not None else None
                if error is not None:  # the trial lost samples: its close says so
                    op.future.set_exception(error)
                else:
                    op.future.set_result(result)
        if any(op.kind == "call" for op in ops):
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA incremental_vacuum")
        self._on_commit()

    def _fail(self, ops: list[_Op], exc: Exception) -> None:
        for op in ops:
            if op.kind == "rows":
                for handle in op.payload.handles():
                    self._lost(handle, exc)
                if op.future is not None and not op.future.done():
                    op.future.set_result(None)  # (each trial's error is on its handle)
                continue
            if op.handle is not None and op.kind in ("create", "drain", "close"):
                self._lost(op.handle, exc)
            if op.future is not None and not op.future.done():
                op.future.set_exception(exc)

    def _lost(self, handle: OpenTrial, exc: Exception) -> None:
        """Samples of this trial were not stored: it is not written any further."""
        if handle.dropped:
            return
        handle.dropped = True
        handle.error = exc
        if handle not in self._unclosed:
            self._unclosed.append(handle)
        log.error("datastore %s: trial %s is not stored completely: %s", self.file, handle.trial_id, exc)

    def _apply(self, conn: sqlite3.Connection, ops: list[_Op]) -> tuple[list[tuple[_Op, Any]], _Pending]:
        """Run a batch of ops in one transaction, in order per trial.

        The samples of all the trials drained here are gathered in one
        :class:`chunks.ChunkBuilder` per layout and stored as one chunk that every one of those
        trials has a segment of: building Arrow columns and compressing them costs about the
        same for 20 samples as for 2,000. Closes wait until their trial's samples are written;
        user calls see everything queued before them.
        """
        pending = _Pending(conn)
        closes: list[_Op] = []
        rows_closed: list[OpenTrial] = []
        results: list[tuple[_Op, Any]] = []
        for handle in self._unclosed:
            if handle.seq:  # (0: its row was never written)
                conn.execute("UPDATE trials SET closed=1 WHERE seq=?", (handle.seq,))
        for op in ops:
            if op.kind == "drain":
                handle = op.handle
                if op.payload is None:  # kept on the op in case the transaction is retried
                    with self._cond:
                        handle.queued = False
                    op.payload = _drain(handle.buffer) if handle.buffer is not None else []
                if not handle.dropped:
                    pending.add(handle, op.payload)
            elif op.kind == "create":
                pending.finish()  # (the rows of trials created before it, so that its seq follows theirs)
                results.append((op, self._create(conn, *op.payload)))
            elif op.kind == "close":
                closes.append(op)
            elif op.kind == "rows":
                batch = op.payload
                pending.create(batch.creates, self._identity or this_process())
                for builder, segments in batch.groups.values():
                    pending.write(builder, [(h, start, stop) for h, start, stop in segments if not h.dropped])
                rows_closed.extend(batch.closes)
                results.append((op, None))
            else:  # (a flush or a user call: everything queued before it is in the file first)
                pending.flush()
                results.extend((close, pending.close(close.handle)) for close in closes)
                closes.clear()
                for handle in rows_closed:
                    pending.close(handle)
                rows_closed.clear()
                pending.finish()
                results.append((op, op.payload(conn) if op.kind == "call" else None))
        pending.flush()
        results.extend((close, pending.close(close.handle)) for close in closes)
        for handle in rows_closed:
            pending.close(handle)
        pending.finish()
        return results, pending

    # -- statements ------------------------------------------------------------------------

    def _create(self, conn: sqlite3.Connection, trial_id: str, user_id: str, params: Any, closed: bool) -> OpenTrial:
        return upsert_trial(conn, trial_id, user_id, params, closed=closed, writer=self._identity or this_process())


def _drain(buffer: deque) -> list[Any]:
    """Take what is in a deque now (other threads may keep appending)."""
    popleft = buffer.popleft
    return [popleft() for _ in range(len(buffer))]


@dataclass(slots=True)
class _Summary:
    """What one transaction changes in a trial's row (applied to its handle once committed).

    Its fields from ``samples`` on but ``segments`` are those of :class:`chunks.ChunkStats`, in
    that order (a new trial's first segment makes its summary at once)."""

    handle: OpenTrial
    samples: int
    ticks: int
    segments: int | None
    last_state: int | None
    first_tick_ns: int | None
    last_ns: int | None
    ended_ns: int | None
    returns: list[float]
    end_details: str | None = None
    closed: bool = False
    written: bool = False

    def add(self, st: chunks.ChunkStats) -> None:
        self.add_segment(
            st.samples, st.ticks, st.last_state, st.first_tick_ns, st.last_ns, st.ended_ns, st.returns, st.end_details
        )

    def add_segment(
        self,
        samples: int,
        ticks: int,
        last_state: int,
        first_tick_ns: int | None,
        last_ns: int | None,
        ended_ns: int | None,
        returns: list[float],
        end_details: str | None,
    ) -> None:
        """Fold in the stats of a segment of the trial (see :class:`chunks.ChunkStats`)."""
        self.written = True
        self.samples += samples
        if self.segments is not None:
            self.segments += 1
        self.ticks += ticks
        self.last_state = last_state
        if self.first_tick_ns is None:
            self.first_tick_ns = first_tick_ns
        if last_ns is not None:
            self.last_ns = last_ns if self.last_ns is None else max(self.last_ns, last_ns)
        if self.ended_ns is None:
            self.ended_ns = ended_ns
        if self.end_details is None:
            self.end_details = end_details
        mine = self.returns
        if len(mine) < len(returns):
            mine += [0.0] * (len(returns) - len(mine))
        for i, value in enumerate(returns):
            mine[i] += value


class _Pending:
    """One transaction's samples, gathered across trials in shared builders (one per item kind
    and actor count) and written as one chunk per builder with a segment per trial part; then
    each trial's row updated once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._groups: dict[tuple[str, int], tuple[chunks.ChunkBuilder, list[tuple[OpenTrial, int, int]]]] = {}
        self.summaries: dict[OpenTrial, _Summary] = {}
        #: trials created in this transaction, their rows written (with their samples' summary) at finish
        self._new: dict[OpenTrial, tuple[Any, ...]] = {}
        #: the property sets this transaction looked up
        self._sets: dict[str, int] = {}
        #: the last seq given to a trial of this transaction, and the ids it created (several
        #: batches of rows may share a transaction: their trials' rows are written at finish)
        self._seq = 0
        self._created: set[str] = set()

    def create(self, creates: Sequence[tuple[OpenTrial, tuple[str, str, Any, int]]], writer: WriterIdentity) -> None:
        """Give new trials their ``seq`` now and write their rows at :meth:`finish`, once with
        everything this transaction records of them (an existing id is updated at once, as
        :func:`upsert_trial` does)."""
        if not creates:
            return
        ids = json.dumps([args[0] for _, args in creates])
        existing = {
            row[0]
            for row in self._conn.execute(
                "SELECT trial_id FROM trials WHERE trial_id IN (SELECT value FROM json_each(?))", (ids,)
            )
        }
        seq = self._conn.execute(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name='trials'), 0), "
            "COALESCE((SELECT MAX(seq) FROM trials), 0))"
        ).fetchone()[0]
        seq = max(seq, self._seq)
        created = self._created
        conn, sets, rows = self._conn, self._sets, self._new
        identity = (writer.host, writer.pid, writer.start)
        for handle, (trial_id, user_id, params, created_ns) in creates:
            if trial_id in existing:
                handle.take_row(upsert_trial(self._conn, trial_id, user_id, params, closed=False, writer=writer))
                continue
            if trial_id in created:  # created twice in this transaction: the second one updates
                self.finish()
                handle.take_row(upsert_trial(self._conn, trial_id, user_id, params, closed=False, writer=writer))
                continue
            created.add(trial_id)
            seq += 1
            handle.seq, handle.samples, handle.segments = seq, 0, 0
            handle.returns = [0.0] * len(handle.directory)
            stored, template = split_params(params, handle.directory)
            properties = sets.get(template.properties_json) or _property_set(conn, template.properties_json, sets)
            rows[handle] = (  # (the columns :meth:`finish` writes, but those it adds)
                seq,
                trial_id,
                user_id,
                stored,
                template.env_name,
                template.env_impl,
                template.actors_json,
                properties,
                *identity,
                created_ns,
            )
        self._seq = seq

    def add(self, handle: OpenTrial, items: list[Any]) -> None:
        key = (handle.kind, len(handle.directory))
        while items:
            builder, segments = self._group(key, handle)
            builder.directory = handle.directory  # reward receivers are expanded per trial
            room = MAX_CHUNK - len(builder)
            part, items = items[:room], items[room:]
            start = len(builder)
            if handle.kind == "datalog":
                builder.add_datalog(part)
            else:
                for sample, raw in part:
                    builder.add_stored(sample, raw)
            segments.append((handle, start, len(builder)))
            if len(builder) >= MAX_CHUNK:
                self._write(key)

    def _group(
        self, key: tuple[str, int], handle: OpenTrial
    ) -> tuple[chunks.ChunkBuilder, list[tuple[OpenTrial, int, int]]]:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = (chunks.ChunkBuilder(handle.directory), [])
        return group

    def summary(self, handle: OpenTrial) -> _Summary:
        found = self.summaries.get(handle)
        if found is None:
            found = self.summaries[handle] = _Summary(
                handle, handle.samples, 0, handle.segments, None, None, None, None, list(handle.returns)
            )
        return found

    def flush(self) -> None:
        for key in list(self._groups):
            self._write(key)

    def _write(self, key: tuple[str, int]) -> None:
        self.write(*self._groups.pop(key))

    def write(self, builder: chunks.ChunkBuilder, segments: list[tuple[OpenTrial, int, int]]) -> None:
        """Store a builder's rows as one chunk, ``segments`` saying whose they are."""
        segments = [segment for segment in segments if segment[2] > segment[1]]
        if not segments:
            return
        new = self._new
        existing = _existing(self._conn, {handle.seq for handle, _, _ in segments if handle not in new})
        batch = builder.build()
        columns = chunks.segment_columns(batch, builder.n, [(start, stop) for _, start, stop in segments])
        rows, chunk = [], 0
        summaries, summary_of = self.summaries, self.summary
        for (handle, start, stop), *stats in zip(segments, *columns, strict=True):
            summary = summaries.get(handle)
            if handle in new:
                if summary is None:  # the first samples of a trial created in this transaction
                    summaries[handle] = _Summary(handle, *stats[:2], 1, *stats[2:], written=True)
                    if not chunk:
                        chunk = segments_.insert_chunk(self._conn, batch, (handle.seq, 0))
                    rows.append((handle.seq, 0, stop - start, chunk, start))
                    continue
            elif handle.seq not in existing:
                log.warning(
                    "trial %s was deleted while being written: %d samples dropped", handle.trial_id, stop - start
                )
                continue
            elif summary is None:
                summary = summary_of(handle)
            if not chunk:
                chunk = segments_.insert_chunk(self._conn, batch, (handle.seq, summary.samples))
            rows.append((handle.seq, summary.samples, stop - start, chunk, start))
            summary.add_segment(*stats)
        segments_.insert_segments(self._conn, rows)

    def close(self, handle: OpenTrial) -> None:
        """Mark a trial's row closed with this transaction (and compact it if its samples are
        spread over many small segments)."""
        if handle.dropped and not handle.seq:
            return  # its row was never written
        summary = self.summary(handle)
        summary.closed = True
        if handle.dropped:
            return
        count = summary.segments
        if count is None:  # a trial this writer did not create: ask the file
            count = self._conn.execute("SELECT COUNT(*) FROM segments WHERE trial_seq=?", (handle.seq,)).fetchone()[0]
        if count > 1 and summary.samples >= COMPACT_FROM and summary.samples / count < COMPACT_BELOW:
            self.finish()  # (its row, then its rows in chunks of its own)
            summary = self.summary(handle)
            summary.segments = compact(self._conn, handle.seq)

    def finish(self) -> None:
        """Write each trial's row: what its segments changed, and whether it is closed."""
        if self._new:
            rows = []
            for handle, values in self._new.items():
                s = self.summaries.get(handle) or self.summary(handle)
                rows.append(
                    (
                        *values,
                        int(s.closed),
                        _json_list(s.returns),
                        s.samples,
                        s.ticks,
                        s.last_state or 0,
                        s.first_tick_ns,
                        s.last_ns,
                        s.ended_ns,
                        s.end_details,
                    )
                )
                s.written = s.closed = False  # (all in its row)
                s.ticks = 0  # (ticks are added to the row's: the next write adds only its own)
            self._conn.executemany(
                "INSERT INTO trials (seq, trial_id, user_id, params, env_name, env_impl, actors, property_set, "
                "writer_host, writer_pid, writer_start, created_ns, closed, returns, samples, ticks, state, "
                "started_ns, last_ns, ended_ns, end_details, properties) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'')",
                rows,
            )
            self._new.clear()
        changed = [s for s in self.summaries.values() if s.written or s.closed]
        if not changed:
            return
        self._conn.executemany(
            "UPDATE trials SET samples=?, ticks=ticks+?, returns=?, "
            f"state=CASE WHEN state = {int(TrialState.ENDED)} THEN state ELSE COALESCE(?, state) END, "
            "started_ns=COALESCE(started_ns, ?), last_ns=MAX(COALESCE(last_ns, ?), COALESCE(?, last_ns)), "
            "ended_ns=COALESCE(ended_ns, ?), end_details=COALESCE(end_details, ?), closed=MAX(closed, ?) WHERE seq=?",
            [
                (
                    s.samples,
                    s.ticks,
                    _json_list(s.returns),
                    s.last_state,
                    s.first_tick_ns,
                    s.last_ns,
                    s.last_ns,
                    s.ended_ns,
                    s.end_details,
                    int(s.closed),
                    s.handle.seq,
                )
                for s in changed
                if s.handle.seq
            ],
        )
        for s in changed:
            s.written = s.closed = False
            s.ticks = 0

    def committed(self) -> None:
        """The transaction is committed: the handles take what it wrote."""
        for s in self.summaries.values():
            handle = s.handle
            handle.samples, handle.segments, handle.returns = s.samples, s.segments, s.returns


def _json_list(values: list[float]) -> str:
    """``json.dumps(values)`` of a trial's returns, made at once for the usual single finite one."""
    if len(values) == 1:
        (value,) = values
        if type(value) is float and value - value == 0.0:  # (not inf, not nan: JSON spells those)
            return f"[{value!r}]"
    return json.dumps(values)


def _existing(conn: sqlite3.Connection, seqs: set[int]) -> set[int]:
    """Which of these trials still have a row (a user may delete a trial while it is written)."""
    if not seqs:
        return seqs
    if len(seqs) == 1:
        (seq,) = seqs
        return seqs if conn.execute("SELECT 1 FROM trials WHERE seq=?", (seq,)).fetchone() else set()
    found = conn.execute("SELECT seq FROM trials WHERE seq IN (SELECT value FROM json_each(?))", (json.dumps([*seqs]),))
    return {row[0] for row in found}


def upsert_trial(
    conn: sqlite3.Connection,
    trial_id: str,
    user_id: str,
    params: TrialParams,
    *,
    closed: bool,
    writer: WriterIdentity | None,
    created_ns: int | None = None,
) -> OpenTrial:
    """Create a trial, or update its params like upstream's ``CreateOrUpdateTrials`` (in a transaction)."""
    directory = ActorDirectory.from_params(params)
    values = _trial_values(conn, user_id, params, directory, closed, writer)
    row = conn.execute("SELECT seq, samples, returns FROM trials WHERE trial_id=?", (trial_id,)).fetchone()
    if row is not None:
        conn.execute(
            "UPDATE trials SET user_id=?, params=?, env_name=?, env_impl=?, actors=?, property_set=?, "
            "closed=?, writer_host=?, writer_pid=?, writer_start=? WHERE seq=?",
            (*values, row[0]),
        )
        return OpenTrial(
            row[0], trial_id, directory, buffer=deque(), samples=row[1], segments=None, returns=json.loads(row[2])
        )
    returns = [0.0] * len(directory)
    cur = conn.execute(
        "INSERT INTO trials (trial_id, user_id, params, env_name, env_impl, actors, property_set, closed, "
        "writer_host, writer_pid, writer_start, returns, created_ns, properties) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'')",
        (trial_id, *values, json.dumps(returns), created_ns or time.time_ns()),
    )
    return OpenTrial(cur.lastrowid, trial_id, directory, buffer=deque(), returns=returns)


def _trial_values(
    conn: sqlite3.Connection,
    user_id: str,
    params: TrialParams,
    directory: ActorDirectory,
    closed: bool,
    writer: WriterIdentity | None,
    sets: dict[str, int] | None = None,
) -> tuple[Any, ...]:
    """The columns of a trial's row that its params and writer decide: ``user_id, params,
    env_name, env_impl, actors, property_set, closed, writer_host, writer_pid, writer_start``
    (``sets``: the property sets this transaction already knows)."""
    stored, template = split_params(params, directory)
    return (
        user_id,
        stored,
        template.env_name,
        template.env_impl,
        template.actors_json,
        _property_set(conn, template.properties_json, sets),
        int(closed),
        writer.host if writer else None,
        writer.pid if writer else None,
        writer.start if writer else None,
    )


def _property_set(conn: sqlite3.Connection, text: str, known: dict[str, int] | None) -> int:
    """The id of a set of properties (JSON), added if new."""
    found = None if known is None else known.get(text)
    if found is None:
        found = conn.execute(
            "INSERT INTO property_sets (properties) VALUES (?) "
            "ON CONFLICT (properties) DO UPDATE SET properties = excluded.properties RETURNING id",
            (text,),
        ).fetchone()[0]
        if known is not None:
            known[text] = found
    return found


def write_chunk(
    conn: sqlite3.Connection,
    handle: OpenTrial,
    batch: pa.RecordBatch,
) -> None:
    """Append a chunk of one trial's samples (a trial whose row :func:`upsert_trial` wrote in
    this transaction) and fold it into the trial's row."""
    if batch.num_rows == 0:
        return
    pending = _Pending(conn)
    summary = pending.summary(handle)
    chunk = segments_.insert_chunk(conn, batch, (handle.seq, summary.samples))
    segments_.insert_segments(conn, [(handle.seq, summary.samples, batch.num_rows, chunk, 0)])
    summary.add(chunks.stats(batch, len(handle.directory)))
    pending.finish()
    pending.committed()


def compact(conn: sqlite3.Connection, seq: int) -> int:
    """Rewrite a trial's samples, spread over many small segments, as chunks of its own (same
    samples, same order); returns how many. The chunks it leaves are deleted once no other
    trial has rows in them."""
    table = segments_.read_trial(conn, seq)
    segments_.drop_segments(conn, "trial_seq=?", (seq,))
    first, rows = 0, []
    for batch in table.combine_chunks().to_batches(max_chunksize=MAX_CHUNK):
        chunk = segments_.insert_chunk(conn, batch, (seq, first))
        rows.append((seq, first, batch.num_rows, chunk, 0))
        first += batch.num_rows
    segments_.insert_segments(conn, rows)
    return len(rows)


def delete_trials(conn: sqlite3.Connection, trial_ids: Iterable[str]) -> int:
    """Delete trials and their samples (inside a transaction); unknown ids are ignored. A chunk
    goes with the last trial that has rows in it."""
    ids = list(dict.fromkeys(trial_ids))
    deleted = 0
    for k in range(0, len(ids), 500):
        part = json.dumps(ids[k : k + 500])
        segments_.drop_segments(
            conn, "trial_seq IN (SELECT seq FROM trials WHERE trial_id IN (SELECT value FROM json_each(?)))", (part,)
        )
        gone = conn.execute("DELETE FROM trials WHERE trial_id IN (SELECT value FROM json_each(?))", (part,))
        deleted += gone.rowcount
    return deleted


_live_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """Commit what is queued when the interpreter exits normally (SIGKILL loses the last batch)."""
    for writer in list(_live_writers):
        with contextlib.suppress(Exception):  # best effort at exit
            writer.stop(timeout=10.0)
