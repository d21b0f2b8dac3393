"""Where a trial's samples are: segments (trial, first sample, count) of chunks many trials share.

A writer commits the samples of every trial it has at once in one chunk (one compressed Arrow
record batch), and a segment row per trial says which rows of it are that trial's. Reading
trials therefore fetches and decompresses each chunk once, however many of the trials read
are in it (:func:`read_trials`), and deleting trials removes a chunk with its last segment.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

import pyarrow as pa

from cogment_jupyter.datastore import chunks

#: Trials looked up per query when reading many at once.
_PAGE = 5000


def read_trials(conn: sqlite3.Connection, seqs: Sequence[int]) -> dict[int, pa.Table]:
    """Every sample of each trial (by ``seq``) as a :data:`chunks.CHUNK_SCHEMA` table; each
    chunk is fetched and decompressed once."""
    out: dict[int, pa.Table] = {}
    for k in range(0, len(seqs), _PAGE):
        page = list(seqs[k : k + _PAGE])
        rows = conn.execute(
            "SELECT trial_seq, first_sample, n_samples, chunk, first_row FROM segments "
            "WHERE trial_seq IN (SELECT value FROM json_each(?)) ORDER BY trial_seq, first_sample",
            (json.dumps(page),),
        ).fetchall()
        decoded = _chunks(conn, {row[3] for row in rows})
        pieces: dict[int, list[pa.RecordBatch]] = {}
        for seq, _, n, chunk, row in rows:
            pieces.setdefault(seq, []).append(decoded[chunk].slice(row, n))
        for seq in page:
            out[seq] = pa.Table.from_batches(pieces.get(seq, []), chunks.CHUNK_SCHEMA)
    return out


def read_trial(conn: sqlite3.Connection, seq: int, start: int = 0, stop: int | None = None) -> pa.Table:
    """Samples ``[start, stop)`` of a trial (by ordinal)."""
    sql = (
        "SELECT first_sample, n_samples, chunk, first_row FROM segments "
        "WHERE trial_seq=? AND first_sample + n_samples > ?"
    )
    args: list[int] = [seq, start]
    if stop is not None:
        sql += " AND first_sample < ?"
        args.append(stop)
    rows = conn.execute(sql + " ORDER BY first_sample", args).fetchall()
    decoded = _chunks(conn, {row[2] for row in rows})
    batches = []
    for first, n, chunk, row in rows:
        lo = max(0, start - first)
        hi = n if stop is None else min(n, stop - first)
        batches.append(decoded[chunk].slice(row + lo, hi - lo))
    return pa.Table.from_batches(batches, chunks.CHUNK_SCHEMA)


def _chunks(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, pa.RecordBatch]:
    ids = list(ids)
    if not ids:
        return {}
    if len(ids) == 1:
        found = conn.execute("SELECT id, format, codec, raw_size, data FROM chunks WHERE id=?", ids)
    else:
        found = conn.execute(
            "SELECT id, format, codec, raw_size, data FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
    return {chunk: chunks.deserialize(data, fmt, codec, size) for chunk, fmt, codec, size, data in found}


def insert_chunk(conn: sqlite3.Connection, batch: pa.RecordBatch, first: tuple[int, int]) -> int:
    """Store a chunk (``first``: the trial seq and sample ordinal of its first row); its id."""
    blob = chunks.serialize(batch)
    return conn.execute(
        "INSERT INTO chunks (trial_seq, first_sample, n_samples, format, codec, raw_size, data) VALUES (?,?,?,?,?,?,?)",
        (*first, batch.num_rows, blob.format, blob.codec, blob.raw_size, blob.data),
    ).lastrowid


def insert_segments(conn: sqlite3.Connection, rows: Iterable[tuple[int, int, int, int, int]]) -> None:
    """``(trial_seq, first_sample, n_samples, chunk, first_row)`` rows."""
    conn.executemany(
        "INSERT INTO segments (trial_seq, first_sample, n_samples, chunk, first_row) VALUES (?,?,?,?,?)", rows
    )


def drop_segments(conn: sqlite3.Connection, where: str, args: Sequence[object]) -> None:
    """Delete the segments ``where`` selects, then the chunks no segment uses any more."""
    used = [row[0] for row in conn.execute(f"SELECT DISTINCT chunk FROM segments WHERE {where}", args)]
    conn.execute(f"DELETE FROM segments WHERE {where}", args)
    if used:
        conn.execute(
            "DELETE FROM chunks WHERE id IN (SELECT value FROM json_each(?)) "
            "AND NOT EXISTS (SELECT 1 FROM segments WHERE chunk = chunks.id)",
            (json.dumps(used),),
        )
