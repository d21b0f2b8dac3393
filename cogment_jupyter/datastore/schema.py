"""The SQLite file: where it lives, its versioned schema, and opening it safely.

WAL mode lets other processes read a trial while it is written, and a writer killed with
SIGKILL loses at most the transaction it had open. The file is stamped with an
``application_id`` and a ``user_version`` so that a foreign, corrupt or newer file is
refused with an error that says what to do instead of being silently misread. A file this
process cannot write (a read-only mount, permissions) opens read-only: reads work, and every
write fails with :class:`ReadOnlyDatastoreError`; a full disk is reported as such
(:class:`DiskFullError`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from cogment_jupyter.datastore.errors import (
    CorruptFileError,
    DatastoreError,
    DiskFullError,
    ForeignFileError,
    NewerSchemaError,
    ReadOnlyDatastoreError,
)

log = logging.getLogger(__name__)

#: ``PRAGMA application_id`` of our files ("CjDS").
APPLICATION_ID = 0x436A4453
#: Bump when the tables or the chunk layout change; add a migration in ``_migrate``.
SCHEMA_VERSION = 3
#: The oldest schema read as it stands when the file cannot be upgraded (a read-only file).
READABLE_VERSION = 2
DEFAULT_DIRECTORY = ".cogment"
FILE_NAME = "trials.sqlite3"
_FILE_SUFFIXES = (".sqlite3", ".sqlite", ".db")

#: Where each trial's samples are: rows of chunks (a chunk holds the samples of many trials).
_SEGMENTS_TABLE = """CREATE TABLE segments (                     -- where each trial's samples are: rows of chunks
    trial_seq INTEGER NOT NULL,
    first_sample INTEGER NOT NULL,          -- ordinal in its trial of the segment's first sample
    n_samples INTEGER NOT NULL,
    chunk INTEGER NOT NULL,                 -- chunks.id
    first_row INTEGER NOT NULL,             -- the segment's first row in that chunk
    PRIMARY KEY (trial_seq, first_sample)
) WITHOUT ROWID"""
_SEGMENTS_INDEX = "CREATE INDEX segments_by_chunk ON segments (chunk)"
#: The properties of trials, each distinct set once (the trials of an environment share theirs).
_PROPERTY_SETS_TABLE = """CREATE TABLE property_sets (
    id INTEGER PRIMARY KEY,
    properties TEXT NOT NULL UNIQUE         -- JSON {key: value}
)"""
_SEGMENTS = f"{_SEGMENTS_TABLE};\n{_SEGMENTS_INDEX};\n{_PROPERTY_SETS_TABLE};"
#: Every column of a trial's row as readers see it (``trial_rows``, a temporary view each
#: connection makes): ``properties`` is the JSON of the trial's property set.
TRIAL_COLUMNS = (
    "seq, trial_id, user_id, params, env_name, env_impl, actors, properties, state, samples, ticks, returns, "
    "created_ns, started_ns, last_ns, ended_ns, closed, writer_host, writer_pid, writer_start, end_details"
)
_TRIAL_ROWS = "CREATE TEMP VIEW IF NOT EXISTS trial_rows AS SELECT {} FROM main.trials".format(
    TRIAL_COLUMNS.replace(
        "properties,", "(SELECT properties FROM main.property_sets WHERE id = property_set) AS properties,"
    )
)

_DDL = (
    """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE trials (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order, RetrieveTrials handles are offsets in it
    trial_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL DEFAULT '',
    params BLOB NOT NULL,                   -- serialized cogmentAPI.TrialParams, without its properties
    env_name TEXT NOT NULL DEFAULT '',
    env_impl TEXT NOT NULL DEFAULT '',
    actors TEXT NOT NULL,                   -- JSON [[name, class, implementation], ...]
    properties TEXT NOT NULL DEFAULT '',    -- (schema 2 kept the JSON of the properties here, now in property_sets)
    state INTEGER NOT NULL DEFAULT 0,       -- cogmentAPI.TrialState of the last sample
    samples INTEGER NOT NULL DEFAULT 0,
    ticks INTEGER NOT NULL DEFAULT 0,       -- in-sync samples (one per tick)
    returns TEXT NOT NULL,                  -- JSON [sum of rewards per actor]
    created_ns INTEGER NOT NULL,
    started_ns INTEGER,                     -- timestamp of the first tick
    last_ns INTEGER,
    ended_ns INTEGER,                       -- timestamp of the ENDED sample
    closed INTEGER NOT NULL DEFAULT 0,      -- the writer closed its stream (ENDED or not)
    writer_host TEXT,
    writer_pid INTEGER,
    writer_start REAL,                      -- writer process start time, guards against pid reuse
    end_details TEXT,                       -- why the trial was forced to end (NULL: it ended normally)
    property_set INTEGER                    -- property_sets.id: the trial's properties
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    trial_seq INTEGER NOT NULL,             -- the trial of the chunk's first row
    first_sample INTEGER NOT NULL,          -- that row's ordinal in its trial
    n_samples INTEGER NOT NULL,             -- rows in the chunk (samples of every trial in it)
    format INTEGER NOT NULL,                -- chunk layout version (chunks.CHUNK_FORMAT)
    codec TEXT NOT NULL,                    -- compression of data: 'zstd', 'lz4' or 'none'
    raw_size INTEGER NOT NULL,              -- size of data once decompressed
    data BLOB NOT NULL                      -- Arrow IPC record batch, one row per sample
);
"""
    + _SEGMENTS
)


def resolve_file(path: str | os.PathLike[str] | None, *, is_file: bool | None = None) -> Path:
    """The database file for a user-given location: a directory (default ``.cogment``) or a file.

    Without ``is_file``, an existing file or a name ending in ``.sqlite3``/``.sqlite``/``.db``
    is the file itself, anything else a directory to hold ``trials.sqlite3``.
    """
    p = Path(DEFAULT_DIRECTORY if path is None else path).expanduser()
    if is_file is None:
        is_file = p.is_file() or (not p.is_dir() and p.suffix in _FILE_SUFFIXES)
    return (p if is_file else p / FILE_NAME).absolute()


def _problem(file: Path, what: str, fix: str) -> str:
    return f"{file}: {what}. {fix}"


def _corrupt(file: Path, exc: BaseException) -> CorruptFileError:
    return CorruptFileError(
        _problem(
            file,
            f"not a readable SQLite database ({exc})",
            "It is corrupt or not a datastore file: move it away (or restore a backup) and start "
            "again, or pick another directory (Datastore(path=...), --directory).",
        )
    )


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def disk_full(file: Path, exc: BaseException) -> DiskFullError:
    try:
        free = f"{_megabytes(shutil.disk_usage(file.parent).free)} free"
    except OSError:
        free = "free space unknown"
    return DiskFullError(
        _problem(
            file,
            f"the disk is full ({free} on its file system; SQLite: {exc})",
            "What was being written is not stored (SQLite rolled it back); trials recorded before are "
            "intact. Free some space: recording resumes by itself.",
        )
    )


def read_only(file: Path, reason: str) -> ReadOnlyDatastoreError:
    return ReadOnlyDatastoreError(
        _problem(
            file,
            f"this datastore is read-only here ({reason})",
            "Reading works, recording does not: record into another directory (Lab(datastore=...), "
            "--directory), or make this one writable.",
        )
    )


def read_only_reason(file: Path) -> str | None:
    """Why this process cannot write an existing datastore file (None when it can).

    SQLite in WAL mode writes ``-wal`` and ``-shm`` files beside the database: its directory counts.
    """
    directory = file.parent
    with contextlib.suppress(OSError):
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return f"{directory} is on a read-only file system"
    if not os.access(file, os.W_OK):
        return f"{file.name} is not writable by this user"
    if not os.access(directory, os.W_OK):
        return f"its directory {directory} is not writable by this user"
    return None


@contextlib.contextmanager
def translate_errors(file: Path) -> Iterator[None]:
    """Turn SQLite's errors about the file (corrupt, disk full, read-only) into errors naming
    the file and the fix."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
        if code == sqlite3.SQLITE_FULL:
            raise disk_full(file, exc) from exc
        if code == sqlite3.SQLITE_READONLY:
            raise read_only(file, read_only_reason(file) or str(exc)) from exc
        raise
    except sqlite3.DatabaseError as exc:
        msg = str(exc)
        if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
            raise _corrupt(file, exc) from exc
        raise


def connect(file: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and on first use create) the datastore file; check it is ours and not too new.

    A file this process cannot write is opened read-only (see :func:`read_only_reason`).
    """
    if file.exists() and (reason := read_only_reason(file)) is not None:
        return _connect_read_only(file, reason)
    if not file.exists():
        if not create:
            raise DatastoreError(_problem(file, "no datastore file here", "Check the path, or record a trial first."))
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatastoreError(
                _problem(file.parent, f"cannot create the datastore directory ({exc})", "Pick a writable one.")
            ) from exc
    try:
        conn = sqlite3.connect(file, timeout=30.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise DatastoreError(_problem(file, f"cannot open ({exc})", "Check the path and permissions.")) from exc
    try:
        _prepare(conn, file)
    except sqlite3.OperationalError as exc:  # e.g. its -wal file cannot be opened
        conn.close()
        raise DatastoreError(_problem(file, f"cannot open ({exc})", "Check the path and permissions.")) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_read_only(file: Path, reason: str) -> sqlite3.Connection:
    """Open for reading only. ``mode=ro`` sees every commit, but SQLite needs the ``-shm`` file
    beside a WAL database for it (or the right to create one); without either, as on a
    read-only mount after a clean close, ``immutable=1`` reads the file as it stands."""
    base = f"file:{urllib.parse.quote(str(file))}?mode=ro"
    for uri in (base, base + "&immutable=1"):
        conn = None
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
            _check(conn, file, writable=False)
        except sqlite3.OperationalError as exc:
            if conn is not None:
                conn.close()
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_CANTOPEN and "immutable" not in uri:
                continue
            raise DatastoreError(_problem(file, f"cannot open it read-only ({exc})", "Check the path.")) from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        if "immutable" in uri and file.with_name(file.name + "-wal").exists():
            log.warning("%s: read-only without its -shm file: what its -wal file holds is not seen", file)
        log.info("%s: opened read-only (%s)", file, reason)
        return conn
    raise AssertionError("unreachable")


def _prepare(conn: sqlite3.Connection, file: Path) -> None:
    with translate_errors(file):
        _check(conn, file, writable=True)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("%s: journal mode is %s, not WAL; concurrent readers may block writers", file, mode)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")


def _check(conn: sqlite3.Connection, file: Path, *, writable: bool) -> None:
    """The file is ours and of a schema this version reads (a new file is initialised first)."""
    with translate_errors(file):
        try:
            app_id, version, tables = _identity(conn)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise _corrupt(file, exc) from exc
        if app_id == 0 and not tables and writable:
            _initialise(conn, file)
            app_id, version, tables = _identity(conn)
        if app_id != APPLICATION_ID:
            raise ForeignFileError(
                _problem(
                    file,
                    f"a SQLite database that cogment_jupyter did not create (application_id={app_id:#x}, "
                    f"tables: {', '.join(sorted(tables)) or 'none'})",
                    "Pick another directory for the datastore (Datastore(path=...), --directory) or move "
                    "this file away; it was left untouched.",
                )
            )
        if version > SCHEMA_VERSION:
            raise NewerSchemaError(
                _problem(
                    file,
                    f"written by a newer cogment_jupyter (schema version {version}; this one reads up to "
                    f"{SCHEMA_VERSION})",
                    "Upgrade cogment_jupyter (uv add -U cogment_jupyter), or use another directory.",
                )
            )
        if version < SCHEMA_VERSION:
            if writable:
                _migrate(conn, file, version)
            elif version >= READABLE_VERSION:  # read as it stands: its index and rows as temporary views
                conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS segments AS {_SCHEMA2_SEGMENTS}")
                conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS trial_rows AS SELECT {TRIAL_COLUMNS} FROM main.trials")
                return
            else:
                raise read_only(file, f"its schema version {version} needs an upgrade, which writes")
        conn.execute(_TRIAL_ROWS)


def _identity(conn: sqlite3.Connection) -> tuple[int, int, set[str]]:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    tables.discard("sqlite_sequence")
    return app_id, version, tables


def _initialise(conn: sqlite3.Connection, file: Path) -> None:
    """Create the schema; safe when several processes open a new file at the same time."""
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only effective before the first table
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id, _, tables = _identity(conn)
        if app_id == 0 and not tables:
            for statement in _DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            from cogment_jupyter.datastore import __version__

            conn.execute("INSERT INTO meta VALUES ('format', 'cogment_jupyter.datastore')")
            conn.execute("INSERT INTO meta VALUES ('created_by', ?)", (__version__,))
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    log.debug("%s: datastore initialised (schema %d)", file, SCHEMA_VERSION)


#: The segments of a schema 2 file (a chunk per segment, the segment its whole chunk), for a
#: file read as it stands (a temporary view: nothing is written to the file).
_SCHEMA2_SEGMENTS = "SELECT trial_seq, first_sample, n_samples, id AS chunk, 0 AS first_row FROM chunks"
#: What turns each older schema version into the next one. 2 -> 3 (chunks shared by trials,
#: indexed by segments) writes the index only: the chunks stay as they are.
_MIGRATIONS = {
    1: ("ALTER TABLE trials ADD COLUMN end_details TEXT",),
    2: (
        "DROP INDEX IF EXISTS chunks_by_trial",
        _SEGMENTS_TABLE,
        "INSERT INTO segments (trial_seq, first_sample, n_samples, chunk, first_row) " + _SCHEMA2_SEGMENTS,
        _SEGMENTS_INDEX,
        _PROPERTY_SETS_TABLE,
        "ALTER TABLE trials ADD COLUMN property_set INTEGER",
        "INSERT OR IGNORE INTO property_sets (properties) SELECT properties FROM trials ORDER BY seq",
        "UPDATE trials SET property_set = (SELECT id FROM property_sets WHERE properties = trials.properties), "
        "properties = ''",
    ),
}


def _migrate(conn: sqlite3.Connection, file: Path, version: int) -> None:
    """Upgrade an older schema in place, in one transaction (other processes may be at it too)."""
    if version not in _MIGRATIONS:
        raise NewerSchemaError(
            _problem(file, f"unknown schema version {version}", "This file was not written by a released version.")
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        while current < SCHEMA_VERSION:
            for statement in _MIGRATIONS[current]:
                conn.execute(statement)
            current += 1
            conn.execute(f"PRAGMA user_version={current}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    log.info("%s: datastore schema upgraded from version %d to %d", file, version, SCHEMA_VERSION)
