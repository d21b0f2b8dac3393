"""One datastore file as the rest of the package uses it: reads from any thread, writes queued.

Reads use one SQLite connection per thread (WAL readers never block the writer); writes go
through the file's :class:`~cogment_jupyter.datastore.writer.Writer`. Waiting for new data
works across processes by polling (``POLL`` seconds) and wakes at once for commits made in
this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from cogment_jupyter.datastore import segments
from cogment_jupyter.datastore.records import TrialRecord
from cogment_jupyter.datastore.schema import connect, read_only_reason, resolve_file, translate_errors
from cogment_jupyter.datastore.writer import Writer
from cogment_jupyter.engine.records import TrialState

#: A trial's summary, as :meth:`TrialStore.summaries` writes it (a JSON object per trial).
SUMMARY_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("trial_id", pa.string()),
        ("user_id", pa.string()),
        ("env_name", pa.string()),
        ("env_impl", pa.string()),
        ("state", pa.int64()),
        ("samples", pa.int64()),
        ("ticks", pa.int64()),
        ("created_ns", pa.int64()),
        ("started_ns", pa.int64()),
        ("last_ns", pa.int64()),
        ("ended_ns", pa.int64()),
        ("end_details", pa.string()),
        ("closed", pa.int64()),
        ("writer_host", pa.string()),
        ("writer_pid", pa.int64()),
        ("writer_start", pa.float64()),
        ("actors", pa.list_(pa.list_(pa.string()))),  # JSON text columns of the table, as they are
        ("returns", pa.list_(pa.float64())),
    ]
)
#: The columns that say whether a trial not ENDED still has a writer: only such trials carry them.
WRITER_COLUMNS = ("closed", "writer_host", "writer_pid", "writer_start")
_JSON_COLUMNS = ("actors", "returns")
_SCALAR_COLUMNS = tuple(n for n in SUMMARY_SCHEMA.names if n not in WRITER_COLUMNS + _JSON_COLUMNS)
#: Trials per page of :meth:`TrialStore.summaries` (a page is two strings, of ~1 kB per trial).
SUMMARY_PAGE = 20_000
#: Seconds between checks for data written by other processes.
POLL = 0.05

_stores: weakref.WeakValueDictionary[Path, TrialStore] = weakref.WeakValueDictionary()
_stores_lock = threading.Lock()


def _open_object(columns: Iterable[str]) -> str:
    """SQL writing columns (scalars) as a JSON object without its closing brace (SQLite's
    ``json_object`` costs half of concatenating the text)."""
    return "rtrim(json_object(" + ", ".join(f"'{c}', {c}" for c in columns) + "), '}')"


class TrialStore:
    """Reads and writes one datastore file; share it with :meth:`open`."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, is_file: bool | None = None) -> None:
        self.file = resolve_file(path, is_file=is_file)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.version = 0  # bumped after every commit made in this process
        self._closed = False
        self._users = 1
        self._reader()  # create / validate the file now, so errors surface here
        #: why this process cannot write the file (None when it can): then reads work, writes fail
        self.read_only = read_only_reason(self.file)
        self.writer = Writer(self.file, self._committed)
        self.writer.start()

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, is_file: bool | None = None) -> TrialStore:
        """The process-wide store of a file (in-process readers then see commits at once).

        Each ``open`` needs its ``close``; the file is released after the last one.
        """
        file = resolve_file(path, is_file=is_file)
        with _stores_lock:
            store = _stores.get(file)
            if store is None or store._closed:
                store = cls(file, is_file=True)
                _stores[file] = store
            else:
                store._users += 1
            return store

    def close(self) -> None:
        """Release this user's hold; the last one commits what is queued and releases the file."""
        with _stores_lock:
            self._users -= 1
            if self._users > 0 or self._closed:
                return
            self._closed = True
        self.writer.stop()
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- reading ---------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.file)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def records(
        self,
        ids: Iterable[str] | None = None,
        *,
        properties: Mapping[str, str] | None = None,
        after_seq: int = 0,
        limit: int = 0,
        with_params: bool = True,
    ) -> list[TrialRecord]:
        """Trials in creation order, optionally filtered (ids, at-least-these properties)."""
        columns = TrialRecord.COLUMNS if with_params else TrialRecord.COLUMNS_NO_PARAMS
        sql = f"SELECT {columns} FROM trial_rows WHERE seq > ?"
        args: list[object] = [after_seq]
        id_list = None if ids is None else list(dict.fromkeys(ids))
        if id_list is not None:
            if not id_list:
                return []
            if len(id_list) <= 900:
                sql += f" AND trial_id IN ({','.join('?' * len(id_list))})"
                args += id_list
        sql += " ORDER BY seq"
        wanted = None if id_list is None else set(id_list)
        out: list[TrialRecord] = []
        with translate_errors(self.file):
            for row in self._reader().execute(sql, args):
                rec = TrialRecord.from_row(row)
                if wanted is not None and rec.trial_id not in wanted:
                    continue
                if properties and any(rec.properties.get(k) != v for k, v in properties.items()):
                    continue
                out.append(rec)
                if limit and len(out) >= limit:
                    break
        return out

    def summaries(
        self,
        ids: Iterable[str] | None = None,
        *,
        states: Iterable[int] | None = None,
        properties: Mapping[str, str] | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> list[tuple[bytes, bytes]]:
        """The rows of the trials a summary frame shows, filtered in SQL, in pages of up to
        :data:`SUMMARY_PAGE` trials: per page, JSON lines (one object per trial, of
        :data:`SUMMARY_SCHEMA`; the :data:`WRITER_COLUMNS` for a trial not ENDED only), and the
        trials' ``properties`` JSON, one per trial, separated by
        ``\x1e``. SQLite writes the text, so no Python object is made per trial (a frame is
        then parsed from it at once, and the properties trials share once).

        ``properties``: trials having at least these; ``since_ns`` / ``until_ns``: bounds on
        the start time (the creation time of a trial not started).
        """
        where, args = ["seq > ?"], []
        if ids is not None:
            where.append("trial_id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(list(ids)))
        if states is not None:
            where.append("state IN (SELECT value FROM json_each(?))")
            args.append(json.dumps([int(s) for s in states]))
        for key, value in (properties or {}).items():
            where.append("EXISTS (SELECT 1 FROM json_each(trial_rows.properties) WHERE key = ? AND value = ?)")
            args += [key, value]
        if since_ns is not None:
            where.append("COALESCE(started_ns, created_ns) >= ?")
            args.append(since_ns)
        if until_ns is not None:
            where.append("COALESCE(started_ns, created_ns) <= ?")
            args.append(until_ns)
        document = (
            f"{_open_object(_SCALAR_COLUMNS)} || CASE WHEN state = {int(TrialState.ENDED)} THEN '' "
            f"ELSE ',' || ltrim({_open_object(WRITER_COLUMNS)}, '{{') END "
            + "".join(f"""|| ',"{name}":' || {name} """ for name in _JSON_COLUMNS)
            + "|| '}'"
        )
        sql = (
            "SELECT max(seq), CAST(group_concat(document, char(10)) AS BLOB), "
            "CAST(group_concat(properties, char(30)) AS BLOB) "
            f"FROM (SELECT seq, {document} AS document, properties "
            f"FROM trial_rows WHERE {' AND '.join(where)} ORDER BY seq LIMIT {SUMMARY_PAGE})"
        )
        pages, after = [], 0
        conn = self._reader()
        with translate_errors(self.file):
            conn.execute("BEGIN")  # one snapshot for every page
            try:
                while True:
                    last, documents, properties = conn.execute(sql, [after, *args]).fetchone()
                    if last is None:
                        break
                    pages.append((documents, properties))
                    after = last
            finally:
                conn.execute("COMMIT")
        return pages

    def record(self, trial_id: str, *, with_params: bool = True) -> TrialRecord | None:
        found = self.records([trial_id], with_params=with_params)
        return found[0] if found else None

    def read(self, seq: int, start: int = 0, stop: int | None = None) -> pa.Table:
        """Samples ``[start, stop)`` of a trial (by ordinal) as a :data:`chunks.CHUNK_SCHEMA` table."""
        with translate_errors(self.file):
            return segments.read_trial(self._reader(), seq, start, stop)

    def read_many(self, seqs: Sequence[int]) -> dict[int, pa.Table]:
        """Every sample of each of these trials (by ``seq``): chunks the trials share are read once."""
        with translate_errors(self.file):
            return segments.read_trials(self._reader(), seqs)

    # -- change notification ---------------------------------------------------------------

    def _committed(self) -> None:
        self.version += 1
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # loop closed
                loop.call_soon_threadsafe(event.set)

    async def wait_changed(self, since_version: int, timeout: float = POLL) -> None:
        """Return after a commit in this process newer than ``since_version``, or ``timeout``."""
        if self.version != since_version:
            return
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(entry)
        try:
            if self.version == since_version:
                await asyncio.wait_for(entry[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(entry)
