"""Moving trials between datastores as one Parquet file.

The file holds the stored samples losslessly (the chunk columns plus ``trial_id`` and
``sample`` ordinal) and, in its schema metadata, each trial's params and user, so an import
rebuilds exactly what the SDK and ``steps()`` read. For a tidy file to share with others,
:func:`export_steps` writes the rows of ``steps()``.

Both are written by pyarrow without pandas' metadata, in types every Parquet reader knows
(nested lists rather than Arrow's tensor extension), so plain ``pd.read_parquet``, polars and
duckdb open them. (A DataFrame of nested Arrow columns written with ``DataFrame.to_parquet``
is not: pandas records its column types as strings it cannot parse back; read such a file
with ``pd.read_parquet(path, dtype_backend="pyarrow")``.)
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cogment_jupyter.datastore import chunks, dataframes
from cogment_jupyter.datastore.errors import DatastoreError, UnknownTrialError
from cogment_jupyter.datastore.store import TrialStore
from cogment_jupyter.datastore.writer import MAX_CHUNK, delete_trials, upsert_trial, write_chunk
from cogment_jupyter.proto.common_pb2 import TrialParams

META_KEY = b"cogment_jupyter.datastore"
EXPORT_FORMAT = 1
EXPORT_SCHEMA = pa.schema([("trial_id", pa.string()), ("sample", pa.int64()), *chunks.CHUNK_SCHEMA])
CONFLICTS = ("error", "skip", "replace")
#: Trials read at once while exporting (their shared chunks are read once).
READ_PAGE = 1000


def export_parquet(store: TrialStore, path: str | os.PathLike[str], trial_ids: list[str] | None = None) -> Path:
    records = store.records(trial_ids)
    if trial_ids is not None:
        missing = sorted(set(trial_ids) - {r.trial_id for r in records})
        if missing:
            raise UnknownTrialError(f"cannot export unknown trial id(s) {', '.join(missing)}; see Datastore.trials()")
    meta = {
        "format": EXPORT_FORMAT,
        "chunk_format": chunks.CHUNK_FORMAT,
        "trials": [
            {
                "trial_id": r.trial_id,
                "user_id": r.user_id,
                "params": base64.b64encode(r.params_bytes or b"").decode(),
                "state": r.state,
                "created_ns": r.created_ns,
            }
            for r in records
        ],
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    schema = EXPORT_SCHEMA.with_metadata({META_KEY: json.dumps(meta).encode()})
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for k in range(0, len(records), READ_PAGE):
            page = records[k : k + READ_PAGE]
            samples = store.read_many([r.seq for r in page])
            for r in page:
                _write_trial(writer, r.trial_id, samples.pop(r.seq))
    return out


def _write_trial(writer: pq.ParquetWriter, trial_id: str, table: pa.Table) -> None:
    if table.num_rows:
        table = table.add_column(0, "sample", pa.array(range(table.num_rows), pa.int64()))
        table = table.add_column(0, "trial_id", pa.repeat(pa.scalar(trial_id, pa.string()), table.num_rows))
        writer.write_table(table.cast(EXPORT_SCHEMA.remove_metadata()))


def export_steps(parts: list[pa.Table | dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write per-trial steps tables (``dataframes.steps_table``) to one Parquet file to share."""
    tables = [_portable(part) for part in parts]
    try:
        table = (
            pa.concat_tables(tables, promote_options="permissive") if tables else dataframes.STEPS_SCHEMA.empty_table()
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise DatastoreError(
            f"these trials' values have different types, which one Parquet column cannot hold ({error}); "
            "export trials of different environments to different files"
        ) from None
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out, compression="zstd")
    return out


def _portable(part: pa.Table | dict[str, Any]) -> pa.Table:
    """A steps table in types every reader knows: tensors as nested fixed-size lists; columns
    whose actors decode to different types (a dict of pandas columns) as their stored bytes."""
    if isinstance(part, dict):
        columns = {}
        for name, series in part.items():
            if series.dtype == object:
                warnings.warn(
                    f"{name}: the actors of this trial decode to different types; exported as their JSON text",
                    stacklevel=3,
                )
                columns[name] = pa.array([None if v is None else _json(v) for v in series], pa.string())
            else:
                columns[name] = pa.array(series.array)
        part = pa.table(columns)
    return pa.table({name: _plain_type(part.column(name).combine_chunks()) for name in part.column_names})


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else repr(v))


def _plain_type(values: pa.Array) -> pa.Array:
    if isinstance(values.type, pa.FixedShapeTensorType):
        shape = values.type.shape
        nested = values.storage.flatten()
        for size in reversed(shape[1:]):
            nested = pa.FixedSizeListArray.from_arrays(nested, size)
        return pa.FixedSizeListArray.from_arrays(nested, shape[0], mask=values.is_null() if values.null_count else None)
    if pa.types.is_struct(values.type):
        return pa.StructArray.from_arrays(
            [_plain_type(values.field(i)) for i in range(values.type.num_fields)],
            names=[f.name for f in values.type],
            mask=values.is_null() if values.null_count else None,
        )
    return values


def import_parquet(store: TrialStore, path: str | os.PathLike[str], *, on_conflict: str = "error") -> list[str]:
    """Add the trials of an export to the store; returns their ids in file order."""
    if on_conflict not in CONFLICTS:
        raise ValueError(f"on_conflict={on_conflict!r}: use one of {', '.join(CONFLICTS)}")
    source = Path(path)
    try:
        parquet = pq.ParquetFile(source)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DatastoreError(f"{source}: not a readable Parquet file ({exc})") from exc
    raw = (parquet.schema_arrow.metadata or {}).get(META_KEY)
    if raw is None:
        raise DatastoreError(
            f"{source}: not a cogment_jupyter trial export (no {META_KEY.decode()!r} metadata); "
            "create it with Datastore.export_parquet()"
        )
    meta = json.loads(raw)
    if meta.get("format") != EXPORT_FORMAT or meta.get("chunk_format") != chunks.CHUNK_FORMAT:
        raise DatastoreError(
            f"{source}: export format {meta.get('format')}/{meta.get('chunk_format')} is not readable by this "
            f"version (reads {EXPORT_FORMAT}/{chunks.CHUNK_FORMAT}); upgrade cogment_jupyter"
        )
    trials = meta["trials"]
    ids = [t["trial_id"] for t in trials]
    existing = {r.trial_id for r in store.records(ids, with_params=False)}
    if existing and on_conflict == "error":
        raise DatastoreError(
            f"{source}: trial(s) {', '.join(sorted(existing))} already in {store.file}; "
            "pass on_conflict='skip' or 'replace'"
        )
    table = parquet.read()

    def work(conn: sqlite3.Connection) -> list[str]:
        done = []
        for t in trials:
            tid = t["trial_id"]
            if tid in existing:
                if on_conflict == "skip":
                    continue
                delete_trials(conn, [tid])
            params = TrialParams.FromString(base64.b64decode(t["params"]))
            handle = upsert_trial(
                conn, tid, t["user_id"], params, closed=True, writer=None, created_ns=t.get("created_ns")
            )
            rows = table.filter(pc.equal(table.column("trial_id"), tid)).sort_by("sample")
            rows = rows.select(chunks.CHUNK_SCHEMA.names).cast(chunks.CHUNK_SCHEMA)
            for batch in rows.combine_chunks().to_batches(max_chunksize=MAX_CHUNK):
                write_chunk(conn, handle, batch)
            if rows.num_rows == 0:
                conn.execute("UPDATE trials SET state=? WHERE seq=?", (t.get("state", 0), handle.seq))
            done.append(tid)
        return done

    return store.writer.call(work).result()
