"""Reading the shared datastore for the REST API: filters from query strings, JSON and Arrow.

The server reads the SQLite file directly (WAL lets it read while the runtime writes), so
recorded trials stay readable while the runtime is down or restarting. Every method blocks:
the handlers run them in threads, off the server's event loop.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from cogment_jupyter.datastore import Datastore

ARROW_STREAM = "application/vnd.apache.arrow.stream"


class BadQuery(ValueError):
    """A query string the API cannot use (HTTP 400)."""


@dataclass
class TrialFilter:
    """What ``GET trials`` selects: ``Datastore.trials`` arguments plus a row limit."""

    state: list[str] | None = None
    properties: dict[str, str] = field(default_factory=dict)
    since: Any = None
    until: Any = None
    limit: int | None = None


def _time_bound(name: str, raw: str) -> int:
    """Epoch ns digits, a duration meaning "that long ago" (``10min``, ``2h``) or a date/time."""
    import pandas as pd

    from cogment_jupyter.datastore.dataframes import to_ns

    raw = raw.strip()
    if raw.lstrip("-").isdigit():
        return int(raw)
    for parse in (pd.Timedelta, pd.Timestamp):
        try:
            value = parse(raw)
        except (ValueError, TypeError, OverflowError):
            continue
        if value is pd.NaT:
            continue
        try:
            return to_ns(value.to_pytimedelta() if isinstance(value, pd.Timedelta) else value)
        except (OverflowError, ValueError):
            raise BadQuery(f"{name}={raw!r} is out of range (years 1678 to 2261)") from None
    raise BadQuery(
        f"{name}={raw!r} is not a time: use an ISO date/time (2026-05-01T12:00), "
        "a duration ago (10min, 2h, 1d) or epoch nanoseconds"
    )


def parse_filter(arguments: Mapping[str, Sequence[str]]) -> TrialFilter:
    """``state`` (repeated or comma separated), ``property=key=value`` (repeated),
    ``properties`` (a JSON object), ``since``/``until`` and ``limit`` (the newest N)."""
    known = {"state", "property", "properties", "since", "until", "limit"}
    # JupyterLab's ServerConnection busts caches with a bare ``?<epoch ms>``: not a filter
    unknown = sorted(k for k in set(arguments) - known if not (k.isdigit() and not any(arguments[k])))
    if unknown:
        raise BadQuery(f"unknown filter(s) {', '.join(unknown)}; use {', '.join(sorted(known))}")
    out = TrialFilter()
    states = [s.strip() for raw in arguments.get("state", []) for s in raw.split(",") if s.strip()]
    out.state = states or None
    for raw in arguments.get("property", []):
        key, sep, value = raw.partition("=")
        if not sep or not key:
            raise BadQuery(f"property={raw!r}: write property=KEY=VALUE")
        out.properties[key] = value
    for raw in arguments.get("properties", []):
        try:
            mapping = json.loads(raw)
        except json.JSONDecodeError as error:
            raise BadQuery(f"properties is not JSON: {error}") from None
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise BadQuery('properties must be a JSON object of strings, e.g. {"env": "cartpole"}')
        out.properties.update(mapping)
    for name in ("since", "until"):
        if values := arguments.get(name):
            setattr(out, name, _time_bound(name, values[-1]))
    if values := arguments.get("limit"):
        out.limit = parse_count("limit", values[-1])
    return out


def parse_count(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name}={raw!r} is not an integer") from None
    if value < 0:
        raise BadQuery(f"{name} must be >= 0, got {value}")
    return value


def jsonable(value: Any) -> Any:
    """Arrow's Python values as JSON: ISO times, seconds, base64 bytes, maps as objects, no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):  # an Arrow map
            return {str(k): jsonable(v) for k, v in value}
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [jsonable(row) for row in table.to_pylist()]


def arrow_stream(table: pa.Table) -> bytes:
    """The Arrow IPC *stream* format (what ``pyarrow.ipc.open_stream`` and apache-arrow JS read)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


class RecordedTrials:
    """The recorded trials of the shared datastore as the REST API serves them (the file opened on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._datastore: Datastore | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Import pandas and the value decoders now, so the first request is not the slow one."""
        import cogment_jupyter.adapters.trial_codec  # noqa: F401
        from cogment_jupyter.datastore import Datastore  # noqa: F401

    @property
    def datastore(self) -> Datastore:
        with self._lock:
            if self._datastore is None:
                self.warm_up()
                from cogment_jupyter.adapters.trial_codec import TrialCodec
                from cogment_jupyter.datastore import Datastore

                self._datastore = Datastore(self.path, decoders=[TrialCodec.from_params])
            return self._datastore

    def close(self) -> None:
        with self._lock:
            if self._datastore is not None:
                self._datastore.close()
                self._datastore = None

    def trials(self, query: TrialFilter) -> dict[str, Any]:
        try:
            table = self.datastore.trials_table(
                state=query.state, properties=query.properties, since=query.since, until=query.until
            )
        except ValueError as error:  # an unknown state name
            raise BadQuery(str(error)) from None
        total = table.num_rows
        if query.limit is not None:
            table = table.slice(max(0, total - query.limit)) if query.limit else table.slice(0, 0)
        rows = table_rows(table)
        return {"trials": rows, "count": len(rows), "total": total}

    def trial(self, trial_id: str) -> dict[str, Any]:
        """One trial's row and its params; ``UnknownTrialError`` when it was never recorded."""
        from google.protobuf import json_format

        from cogment_jupyter.datastore.errors import UnknownTrialError

        store = self.datastore.store
        records = store.records([trial_id])
        if not records:
            raise UnknownTrialError(f"unknown trial {trial_id!r} in {store.file}")
        row = table_rows(self.datastore.trials_table(trial_ids=[trial_id]))[0]
        params = json_format.MessageToDict(records[0].params())
        return {"trial": row, "params": params}

    def steps(self, trial_id: str, *, decode: bool, offset: int, limit: int | None) -> tuple[pa.Table, bool]:
        """The trial's steps as an Arrow table, and whether values are decoded.

        Values that decode to types Arrow cannot hold in one column come back as raw bytes.
        """
        import pyarrow as pa

        frame = self.datastore.steps(trial_id, decode=decode)
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            if not decode:
                raise
            table = pa.Table.from_pandas(self.datastore.steps(trial_id, decode=False), preserve_index=False)
            decode = False
        table = table.replace_schema_metadata(None)
        end = table.num_rows if limit is None else min(table.num_rows, offset + limit)
        return table.slice(offset, max(0, end - offset)), decode
