"""pandas views of the store: one row per trial, and the tidy one-row-per-tick-per-actor frame.

Everything is computed with vectorised Arrow/numpy on the stored chunks and handed to pandas
as ``pd.ArrowDtype`` columns, so a million-step trial becomes a DataFrame without a Python
loop over rows.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cogment_jupyter.datastore.decoding import TrialDecoder
from cogment_jupyter.datastore.records import TrialRecord, writer_alive
from cogment_jupyter.datastore.store import SUMMARY_SCHEMA, WRITER_COLUMNS
from cogment_jupyter.engine.records import TrialState, is_failure

_STATUS = pa.array(["normal", "default", "unavailable"], pa.string())
_STATES = pa.array([s.name for s in sorted(TrialState)], pa.string())
_TS = pa.timestamp("ns", tz="UTC")

_STEP_INPUTS = [
    "tick_id",
    "timestamp",
    "state",
    "out_of_sync",
    "events",
    "observations",
    "observation_map",
    "actions",
    "rewards",
    "default_actors",
    "unavailable_actors",
]
STEPS_SCHEMA = pa.schema(
    [
        ("trial_id", pa.string()),
        ("tick", pa.int64()),
        ("timestamp", _TS),
        ("state", pa.string()),
        ("actor", pa.string()),
        ("observation", pa.binary()),
        ("action", pa.binary()),
        ("action_status", pa.string()),
        ("reward", pa.float32()),
        ("info", pa.string()),  # the environment's info dict, as JSON
        ("events", pa.list_(pa.string())),
    ]
)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=pd.ArrowDtype, self_destruct=False)


# -- trials ------------------------------------------------------------------------------------

_ACTOR = pa.struct([("name", pa.string()), ("actor_class", pa.string()), ("implementation", pa.string())])


def trials_table(pages: Sequence[tuple[bytes, bytes]]) -> pa.Table:
    """One row per trial, from the pages of :meth:`TrialStore.summaries`; built column by
    column (no Python object per trial), so its cost grows with the trial count alone.

    ``steps`` counts ticks (rows per actor in ``steps()``). ``return`` is the first actor's
    return when no other actor has its class (the agent, beside people giving feedback);
    ``return_<actor>`` is each actor's, ``returns`` all of them as a map; rewards of different
    actors are never added up. ``duration`` is in seconds.
    """
    parsed, properties = _parse_summaries(pages)
    n = parsed.num_rows
    rows = {name: parsed.column(name).combine_chunks() for name in SUMMARY_SCHEMA.names}
    actors = rows["actors"]
    flat_actors = pc.list_flatten(actors)
    names, classes, implementations = (
        pc.list_element(flat_actors, i) if n else pa.array([], pa.string()) for i in range(3)
    )
    counts = pc.list_value_length(actors).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = _offsets(counts)
    flat_returns = _fit_returns(rows["returns"], counts)
    state = rows["state"].to_numpy(zero_copy_only=False)
    started = rows["started_ns"]
    ended = rows["ended_ns"]
    table = {
        "trial_id": rows["trial_id"],
        "environment": rows["env_name"],
        "environment_implementation": rows["env_impl"],
        "actors": pa.ListArray.from_arrays(
            offsets, pa.StructArray.from_arrays([names, classes, implementations], fields=list(_ACTOR))
        ),
        "state": _state_names(state),
        "interrupted": pa.array(_interrupted(rows, state), pa.bool_()),
        "failed": pa.array(_failed(rows["end_details"]), pa.bool_()),
        "end_details": rows["end_details"],
        "steps": rows["ticks"],
        "samples": rows["samples"],
        "return": pa.array(_agent_return(classes, flat_returns, counts), pa.float64(), from_pandas=True),
        "returns": pa.MapArray.from_arrays(offsets, names, pa.array(flat_returns, pa.float64())),
        "started": started.cast(_TS),
        "ended": ended.cast(_TS),
        "duration": pc.divide(pc.subtract(pc.coalesce(ended, rows["last_ns"]), started).cast(pa.float64()), 1e9),
        "properties": properties,
        "user_id": rows["user_id"],
        "created": rows["created_ns"].cast(_TS),
    }
    for name, values in _returns_by_actor(names, flat_returns, counts, n).items():
        table[f"return_{name}"] = values
    return pa.table(table)


def _parse_summaries(pages: Sequence[tuple[bytes, bytes]]) -> tuple[pa.Table, pa.MapArray]:
    """The summaries as a table of ``SUMMARY_SCHEMA`` in ``seq`` order, parsed by Arrow's JSON
    reader (trial by trial with :mod:`json` for what it cannot read, such as an infinite
    return), and their properties."""
    import pyarrow.json as pj

    properties = _properties([text for _, texts in pages for text in texts.split(b"\x1e")] if pages else [])
    if not pages:
        return SUMMARY_SCHEMA.empty_table(), properties
    try:
        longest = max(len(line) for documents, _ in pages for line in documents.split(b"\n", 64)[:64])
        parsed = pa.concat_tables(
            pj.read_json(
                pa.BufferReader(documents),
                read_options=pj.ReadOptions(block_size=max(1 << 20, 4 * longest)),
                parse_options=pj.ParseOptions(explicit_schema=SUMMARY_SCHEMA, unexpected_field_behavior="error"),
            )
            for documents, _ in pages
        )
        return parsed, properties
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    loaded = [json.loads(line, parse_constant=float) for documents, _ in pages for line in documents.split(b"\n")]
    return pa.Table.from_pylist(
        [{k: d.get(k) for k in SUMMARY_SCHEMA.names} for d in loaded], schema=SUMMARY_SCHEMA
    ), properties


def _properties(texts: Sequence[bytes]) -> pa.MapArray:
    """Every trial's properties (JSON); each distinct text is parsed once: the trials of one
    environment share theirs."""
    index: dict[bytes, int] = {}
    codes = np.fromiter((index.setdefault(text, len(index)) for text in texts), dtype=np.int64, count=len(texts))
    distinct = pa.array([list(json.loads(text).items()) for text in index], pa.map_(pa.string(), pa.string()))
    return distinct.take(pa.array(codes))


def _offsets(counts: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.array(offsets)


def _fit_returns(returns: pa.ListArray, counts: np.ndarray) -> np.ndarray:
    """One return per actor, in actor order (a row may hold fewer: 0 for the missing ones)."""
    lengths = pc.list_value_length(returns).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(returns).to_numpy(zero_copy_only=False).astype(np.float64)
    if np.array_equal(lengths, counts):
        return flat
    parent = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    source = (np.cumsum(lengths) - lengths)[parent] + position
    there = position < lengths[parent]
    return np.where(there, flat[np.where(there, source, 0)] if len(flat) else 0.0, 0.0)


def _agent_return(classes: pa.Array, flat_returns: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per trial: its first actor's return if no other actor has that class, else NaN."""
    out = np.full(len(counts), np.nan)
    has = counts > 0
    if not has.any():
        return out
    firsts = (np.cumsum(counts) - counts)[has]
    parent = np.repeat(np.arange(len(counts)), counts)
    first_class = pc.take(classes, pa.array(np.repeat(np.cumsum(counts) - counts, counts)))
    same = pc.equal(classes, first_class).to_numpy(zero_copy_only=False)
    alone = np.bincount(parent, weights=same, minlength=len(counts)) == 1
    out[has] = np.where(alone[has], flat_returns[firsts], np.nan)
    return out


def _returns_by_actor(names: pa.Array, flat_returns: np.ndarray, counts: np.ndarray, n: int) -> dict[str, pa.Array]:
    """A return column per actor name (null for trials without such an actor), first seen first."""
    if not len(names):
        return {}
    parent = np.repeat(np.arange(n), counts)
    encoded = pc.dictionary_encode(names)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    out = {}
    for code, name in enumerate(encoded.dictionary.to_pylist()):
        at = codes == code
        values = np.full(n, np.nan)
        values[parent[at]] = flat_returns[at]
        mask = np.ones(n, dtype=bool)
        mask[parent[at]] = False
        out[name] = pa.array(values, pa.float64(), mask=mask)
    return out


def _state_names(state: np.ndarray) -> pa.Array:
    known = (state >= 0) & (state < len(_STATES))
    names = pc.take(_STATES, pa.array(np.where(known, state, 0)))
    if known.all():
        return names
    return pc.if_else(pa.array(known), names, pa.array(state).cast(pa.string()))


def _failed(end_details: pa.Array) -> np.ndarray:
    """``failed`` of every trial: only those forced to end need a look at why."""
    out = np.zeros(len(end_details), dtype=bool)
    forced = np.flatnonzero(end_details.is_valid().to_numpy(zero_copy_only=False))
    for row, details in zip(forced.tolist(), end_details.take(pa.array(forced)).to_pylist(), strict=True):
        out[row] = is_failure(details)
    return out


def _interrupted(rows: dict[str, pa.Array], state: np.ndarray) -> np.ndarray:
    """``interrupted`` of every trial: only those not ENDED need a look at their writer."""
    out = np.zeros(len(state), dtype=bool)
    pending = np.flatnonzero(state != TrialState.ENDED)
    if len(pending):
        at = pa.array(pending)
        writer = [rows[name].take(at).to_pylist() for name in WRITER_COLUMNS]
        for row, closed, host, pid, start in zip(pending.tolist(), *writer, strict=True):
            out[row] = bool(closed) or not writer_alive(host, pid, start)
    return out


def to_ns(value: Any) -> int:
    """A user's time bound as epoch ns: datetime/Timestamp/str (naive = local time), ns int, or a timedelta ago."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, pd.Timedelta | np.timedelta64) or hasattr(value, "total_seconds"):
        return time.time_ns() - int(pd.Timedelta(value).value)
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = pd.Timestamp(ts.to_pydatetime().astimezone())
    return int(ts.value)


# -- steps -------------------------------------------------------------------------------------


def steps_table(
    record: TrialRecord,
    samples: pa.Table,
    *,
    decoder: TrialDecoder | None = None,
    default_actions: Sequence[bytes | None] = (),
    columns: Sequence[str] | None = None,
) -> pa.Table | dict[str, pd.Series]:
    """The tidy frame of one trial: one row per tick per actor, in tick then actor order
    (``columns``: only these of :data:`STEPS_SCHEMA`, the others are not computed).

    A dict of pandas columns instead of a table when actors decode to different types.

    Out-of-sync reward samples are folded into the row of their tick (their rewards add up, as
    an SDK client summing ``reward`` over samples would see). For ``default`` rows the action is
    the actor's default action from the params (what the environment received). ``info`` is
    the environment's info as JSON text, when the decoder reads it from observations.
    """
    wanted = _wanted(columns)
    if not len(record.actors) or samples.num_rows == 0:
        return pa.schema([STEPS_SCHEMA.field(c) for c in wanted]).empty_table()
    group = StepGroup([record], samples, [samples.num_rows], decoder, [default_actions])
    return _steps(group, wanted, alone=True)


class Ungroupable(Exception):
    """Some trials of a :class:`StepGroup` would not come out as they do read alone."""

    def __init__(self, trials: Sequence[int] | None = None) -> None:
        super().__init__(trials)
        #: their positions in the group (None: the group as a whole)
        self.trials = trials


class StepGroup:
    """Trials of the same actor count whose decoders decode alike, their samples one after
    the other (``counts``: each trial's samples), turned into steps together."""

    def __init__(
        self,
        records: Sequence[TrialRecord],
        samples: pa.Table,
        counts: Sequence[int],
        decoder: TrialDecoder | None,
        default_actions: Sequence[Sequence[bytes | None]],
    ) -> None:
        self.records = records
        self.samples = samples
        self.counts = np.asarray(counts, dtype=np.int64)
        self.decoder = decoder
        self.default_actions = default_actions


def group_samples(samples: Sequence[pa.Table]) -> pa.Table:
    """What :func:`group_steps_table` reads of trials' samples, one trial after the other,
    each column in one piece (not one per trial)."""
    return pa.concat_tables([t.select(_STEP_INPUTS) for t in samples]).combine_chunks()


def group_steps_table(group: StepGroup) -> pa.Table:
    """The steps of every trial of ``group``, trial after trial: the rows each would have if
    read alone (:func:`steps_table`). Raises :class:`Ungroupable` naming the trials for which
    that would not hold (an out-of-sync sample, a column with nothing to decode), or for the
    whole group (a decoder failure, actors decoding to different types)."""
    return _steps(group, list(STEPS_SCHEMA.names), alone=False)


def _wanted(columns: Sequence[str] | None) -> list[str]:
    wanted = list(STEPS_SCHEMA.names if columns is None else columns)
    unknown = [c for c in wanted if c not in STEPS_SCHEMA.names]
    if unknown:
        raise ValueError(f"unknown steps column(s) {unknown}; the columns are {STEPS_SCHEMA.names}")
    return wanted


def _steps(group: StepGroup, wanted: list[str], *, alone: bool) -> pa.Table | dict[str, pd.Series]:
    """:func:`steps_table` of a group (``alone``: of one trial, which decoding failures only
    warn about)."""
    records = group.records
    n = len(records[0].actors)
    rows_in = group.samples.num_rows
    # Columns stay chunked (one chunk per stored chunk): where a stored column already is the
    # output (one actor, no out-of-sync sample) it is handed to pandas without a copy.
    t = group.samples.select(_STEP_INPUTS)
    oos = t.column("out_of_sync").to_numpy().astype(bool)
    trial_of_sample = None if alone else np.repeat(np.arange(len(records)), group.counts)
    keep = ~oos
    folded = None
    if oos.any():
        if not alone:  # each trial's ticks are its own: folded trial by trial
            raise Ungroupable(np.unique(trial_of_sample[oos]).tolist())
        folded = pc.list_flatten(t.column("rewards")).to_numpy(zero_copy_only=False).reshape(rows_in, n).copy()
        _fold_out_of_sync(t.column("tick_id").to_numpy(), oos, folded, keep)
    rows = np.flatnonzero(keep)
    count = len(rows) * n
    all_rows = len(rows) == rows_in
    direct = all_rows and n == 1  # stored per-sample columns are the per-row output
    sample_idx = np.repeat(rows, n)
    actor_idx = np.tile(np.arange(n, dtype=np.int64), len(rows))
    # each row's (trial, actor) among every trial's actors
    trial_actor = actor_idx if trial_of_sample is None else trial_of_sample[sample_idx] * n + actor_idx

    def per_row(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
        return column if direct else pc.take(column, pa.array(sample_idx))

    def per_actor(flat: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
        return flat if all_rows else pc.take(flat, pa.array(sample_idx * n + actor_idx))

    def of_trial_actor(values: list[Any], value_type: pa.DataType) -> pa.Array:
        return pc.take(pa.array(values, value_type), pa.array(trial_actor))

    def observation() -> pa.ChunkedArray | pa.Array:
        """observations[observation_map[actor]] of the sample"""
        obs_col = t.column("observations")
        lengths = pc.list_value_length(obs_col).fill_null(0).to_numpy().astype(np.int64)
        starts = np.cumsum(lengths) - lengths
        flat_obs = pc.list_flatten(obs_col)
        omap = pc.list_flatten(t.column("observation_map")).to_numpy().astype(np.int64).reshape(rows_in, n)[rows]
        valid = (omap >= 0) & (omap < lengths[rows][:, None])
        obs_index = (starts[rows][:, None] + np.where(valid, omap, 0)).ravel()
        if valid.all() and len(flat_obs) == count and np.array_equal(obs_index, np.arange(count)):
            return flat_obs  # one observation per row, in row order
        return pc.take(flat_obs, pa.array(obs_index, pa.int64(), mask=~valid.ravel()))

    def status() -> np.ndarray:
        out = np.zeros((rows_in, n), dtype=np.int8)
        for column, code in (("default_actors", 1), ("unavailable_actors", 2)):
            col = t.column(column)
            per_sample = pc.list_value_length(col).fill_null(0).to_numpy()
            if per_sample.any():
                which = np.repeat(np.arange(rows_in), per_sample)
                actors = pc.list_flatten(col).to_numpy().astype(np.int64)
                ok = (actors >= 0) & (actors < n)
                out[which[ok], actors[ok]] = code
        return out[rows].ravel()

    def action(codes: np.ndarray) -> pa.ChunkedArray | pa.Array:
        out = per_actor(pc.list_flatten(t.column("actions")))
        if any(group.default_actions) and (codes == 1).any():
            defaults = [d for given in group.default_actions for d in (list(given) + [None] * n)[:n]]
            fill = pa.array((codes == 1) & out.is_null().to_numpy(zero_copy_only=False))
            out = pc.if_else(fill, of_trial_actor(defaults, pa.binary()), out)
        return out

    def decoded(column: Any, what: str) -> Any:
        fn = getattr(group.decoder, f"decode_{what}", None)
        if fn is None:
            return column if what != "infos" else pa.nulls(count, pa.string())
        if not alone:
            _check_present(column, trial_of_sample[sample_idx])
        return _decode(column, actor_idx, n, fn, what, records[0] if alone else None)

    out: dict[str, Any] = {}
    raw_observation = observation() if {"observation", "info"} & set(wanted) else None
    codes = status() if {"action", "action_status"} & set(wanted) else None
    for name in wanted:
        if name == "trial_id":
            if trial_of_sample is None:
                out[name] = pa.repeat(pa.scalar(records[0].trial_id, pa.string()), count)
            else:
                out[name] = pc.take(pa.array([r.trial_id for r in records], pa.string()), pa.array(trial_actor // n))
        elif name in ("tick", "timestamp", "events"):
            value = per_row(t.column({"tick": "tick_id"}.get(name, name)))
            out[name] = value.cast(_TS) if name == "timestamp" else value
        elif name == "state":
            out[name] = _state_names(per_row(t.column("state")).to_numpy().astype(np.int64))
        elif name == "actor":
            out[name] = of_trial_actor([a.name for r in records for a in r.actors], pa.string())
        elif name == "observation":
            out[name] = decoded(raw_observation, "observations")
        elif name == "info":
            out[name] = decoded(raw_observation, "infos")
        elif name == "action":
            out[name] = decoded(action(codes), "actions")
        elif name == "action_status":
            out[name] = pc.take(_STATUS, pa.array(codes))
        elif name == "reward":
            flat = pc.list_flatten(t.column("rewards"))
            out[name] = (
                per_actor(flat) if folded is None else pa.array(folded[rows].ravel(), pa.float32(), from_pandas=True)
            )
    if any(isinstance(v, list) for v in out.values()):
        if not alone:
            raise Ungroupable()
        return {
            k: pd.Series(v, dtype=object) if isinstance(v, list) else pd.Series(pd.arrays.ArrowExtensionArray(v))
            for k, v in out.items()
        }
    return pa.table(out)


def _check_present(column: pa.Array | pa.ChunkedArray, row_trial: np.ndarray) -> None:
    """A trial read alone leaves a column with no value to decode as raw bytes: such trials
    are not decoded with others."""
    present = ~column.is_null().to_numpy(zero_copy_only=False)
    found = np.bincount(row_trial[present], minlength=int(row_trial.max()) + 1)
    if not found.all():
        raise Ungroupable(np.flatnonzero(found == 0).tolist())


def _fold_out_of_sync(ticks: np.ndarray, oos: np.ndarray, rewards: np.ndarray, keep: np.ndarray) -> None:
    """Add each out-of-sync sample's rewards to its tick's row (kept as its own row if absent)."""
    in_rows = np.flatnonzero(~oos)
    in_ticks = ticks[in_rows]
    ordered = bool(np.all(in_ticks[:-1] <= in_ticks[1:])) if len(in_ticks) > 1 else True
    for r in np.flatnonzero(oos):
        if ordered:
            j = int(np.searchsorted(in_ticks, ticks[r], side="right")) - 1
            target = int(in_rows[j]) if j >= 0 and in_ticks[j] == ticks[r] else -1
        else:
            hits = in_rows[in_ticks == ticks[r]]
            target = int(hits[-1]) if len(hits) else -1
        if target < 0:
            keep[r] = True
            continue
        both = np.isnan(rewards[target]) & np.isnan(rewards[r])
        rewards[target] = np.where(both, np.nan, np.nan_to_num(rewards[target]) + np.nan_to_num(rewards[r]))


def _decode(
    column: pa.Array | pa.ChunkedArray,
    actor_idx: np.ndarray,
    n: int,
    fn: Callable[[int, pa.BinaryArray], pa.Array],
    what: str,
    record: TrialRecord | None,
) -> pa.Array | list:
    """Decode a binary column actor by actor and put the values back in row order.

    Returns a Python list when actors decode to different Arrow types (pandas object column).
    A failure leaves the column raw with a warning naming ``record``'s trial (None: the column
    is a group's, see :class:`Ungroupable`).
    """
    present = ~column.is_null().to_numpy(zero_copy_only=False)
    pieces: list[pa.Array] = []
    positions: list[np.ndarray] = []
    try:
        for a in range(n):
            pos = np.flatnonzero(present if n == 1 else (actor_idx == a) & present)
            if not len(pos):
                continue
            # every row this actor's and present (one agent, no gap): the column as it is
            contents = column if len(pos) == len(column) else pc.take(column, pa.array(pos, pa.int64()))
            if isinstance(contents, pa.ChunkedArray):
                contents = contents.combine_chunks()  # the decoder gets one BinaryArray
            out = fn(a, contents)
            if isinstance(out, pa.ChunkedArray):
                out = out.combine_chunks()
            if not isinstance(out, pa.Array) or len(out) != len(pos):
                raise TypeError(f"decoder returned {type(out).__name__} of length {len(out)} for {len(pos)} values")
            pieces.append(out)
            positions.append(pos)
    except Exception as exc:
        if record is None:
            raise Ungroupable() from exc
        warnings.warn(
            f"trial {record.trial_id}: decoding {what} failed ({exc}); the column is left as raw bytes",
            stacklevel=9,  # the caller of Datastore.steps()
        )
        return column
    if not pieces:
        return column
    types = {p.type for p in pieces}
    if len(types) > 1:
        values: list[Any] = [None] * len(column)
        for piece, pos in zip(pieces, positions, strict=True):
            for p, v in zip(pos.tolist(), piece.to_pylist(), strict=True):
                values[p] = v
        return values
    if len(pieces) == 1 and len(positions[0]) == len(column):
        return pieces[0]
    # one take puts every value back at its row (rows without one: null)
    source = np.full(len(column), -1, dtype=np.int64)
    offset = 0
    for pos in positions:
        source[pos] = np.arange(offset, offset + len(pos))
        offset += len(pos)
    combined = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
    return combined.take(pa.array(source, pa.int64(), mask=source < 0))


def steps_frame(parts: Sequence[pa.Table | dict[str, Any]]) -> pd.DataFrame:
    """Concatenate per-trial step tables; columns whose types differ between trials become objects."""
    tables = [p for p in parts if isinstance(p, pa.Table)]
    if len(tables) == len(parts):
        try:
            return to_pandas(
                pa.concat_tables(tables, promote_options="permissive") if tables else STEPS_SCHEMA.empty_table()
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
    frames = []
    for p in parts:
        if isinstance(p, pa.Table):
            frames.append(to_pandas(p))
        else:
            frames.append(pd.DataFrame(p))
    return pd.concat(frames, ignore_index=True) if frames else to_pandas(STEPS_SCHEMA.empty_table())
