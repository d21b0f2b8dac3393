"""pandas views of the store: one row per trial, and the tidy one-row-per-tick-per-actor frame.

Everything is computed with vectorised Arrow/numpy on the stored chunks and handed to pandas
as ``pd.ArrowDtype`` columns, so a million-step trial becomes a DataFrame without a Python
loop over rows.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cogment_jupyter.datastore.decoding import TrialDecoder
from cogment_jupyter.datastore.records import TrialRecord
from cogment_jupyter.engine.records import TrialState

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
        ("events", pa.list_(pa.string())),
    ]
)


def state_name(state: int) -> str:
    try:
        return TrialState(state).name
    except ValueError:
        return str(state)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=pd.ArrowDtype, self_destruct=False)


# -- trials ------------------------------------------------------------------------------------


def trials_table(records: Sequence[TrialRecord]) -> pa.Table:
    """One row per trial; ``steps`` counts ticks (rows per actor in ``steps()``)."""
    actor_type = pa.list_(
        pa.struct([("name", pa.string()), ("actor_class", pa.string()), ("implementation", pa.string())])
    )
    started = [r.started_ns for r in records]
    ended = [r.ended_ns for r in records]
    duration = []
    for r in records:
        end = r.ended_ns if r.ended_ns is not None else r.last_ns
        duration.append(None if r.started_ns is None or end is None else end - r.started_ns)
    return pa.table(
        {
            "trial_id": pa.array([r.trial_id for r in records], pa.string()),
            "environment": pa.array([r.env_name for r in records], pa.string()),
            "environment_implementation": pa.array([r.env_impl for r in records], pa.string()),
            "actors": pa.array(
                [
                    [
                        {"name": a.name, "actor_class": a.actor_class, "implementation": a.implementation}
                        for a in r.actors
                    ]
                    for r in records
                ],
                actor_type,
            ),
            "state": pa.array([state_name(r.state) for r in records], pa.string()),
            "interrupted": pa.array([r.interrupted for r in records], pa.bool_()),
            "failed": pa.array([r.failed for r in records], pa.bool_()),
            "end_details": pa.array([r.end_details for r in records], pa.string()),
            "steps": pa.array([r.ticks for r in records], pa.int64()),
            "samples": pa.array([r.samples for r in records], pa.int64()),
            "returns": pa.array(
                [list(zip([a.name for a in r.actors], r.returns, strict=False)) for r in records],
                pa.map_(pa.string(), pa.float64()),
            ),
            "return": pa.array([float(sum(r.returns)) for r in records], pa.float64()),
            "started": pa.array(started, _TS),
            "ended": pa.array(ended, _TS),
            "duration": pa.array(duration, pa.duration("ns")),
            "properties": pa.array([list(r.properties.items()) for r in records], pa.map_(pa.string(), pa.string())),
            "user_id": pa.array([r.user_id for r in records], pa.string()),
            "created": pa.array([r.created_ns for r in records], _TS),
        }
    )


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
) -> pa.Table | dict[str, pd.Series]:
    """The tidy frame of one trial: one row per tick per actor, in tick then actor order.

    A dict of pandas columns instead of a table when actors decode to different types.

    Out-of-sync reward samples are folded into the row of their tick (their rewards add up, as
    an SDK client summing ``reward`` over samples would see). For ``default`` rows the action is
    the actor's default action from the params (what the environment received).
    """
    n = len(record.actors)
    rows_in = samples.num_rows
    if n == 0 or rows_in == 0:
        return STEPS_SCHEMA.empty_table()
    # Columns stay chunked (one chunk per stored chunk): where a stored column already is the
    # output (one actor, no out-of-sync sample) it is handed to pandas without a copy.
    t = samples.select(_STEP_INPUTS)
    oos = t.column("out_of_sync").to_numpy().astype(bool)
    flat_rewards = pc.list_flatten(t.column("rewards"))
    keep = ~oos
    rewards = None
    if oos.any():
        rewards = flat_rewards.to_numpy().reshape(rows_in, n).copy()
        _fold_out_of_sync(t.column("tick_id").to_numpy(), oos, rewards, keep)
    rows = np.flatnonzero(keep)
    count = len(rows) * n
    all_rows = len(rows) == rows_in
    direct = all_rows and n == 1  # stored per-sample columns are the per-row output
    sample_idx = np.repeat(rows, n)
    actor_idx = np.tile(np.arange(n, dtype=np.int64), len(rows))

    def per_row(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
        return column if direct else pc.take(column, pa.array(sample_idx))

    def per_actor(flat: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
        return flat if all_rows else pc.take(flat, pa.array(sample_idx * n + actor_idx))

    # observation: observations[observation_map[actor]] of the sample
    obs_col = t.column("observations")
    lengths = pc.list_value_length(obs_col).fill_null(0).to_numpy().astype(np.int64)
    starts = np.cumsum(lengths) - lengths
    flat_obs = pc.list_flatten(obs_col)
    omap = pc.list_flatten(t.column("observation_map")).to_numpy().astype(np.int64).reshape(rows_in, n)[rows]
    valid = (omap >= 0) & (omap < lengths[rows][:, None])
    obs_index = (starts[rows][:, None] + np.where(valid, omap, 0)).ravel()
    if valid.all() and len(flat_obs) == count and np.array_equal(obs_index, np.arange(count)):
        observation = flat_obs  # one observation per row, in row order
    else:
        observation = pc.take(flat_obs, pa.array(obs_index, pa.int64(), mask=~valid.ravel()))

    action = per_actor(pc.list_flatten(t.column("actions")))

    status = np.zeros((rows_in, n), dtype=np.int8)
    for column, code in (("default_actors", 1), ("unavailable_actors", 2)):
        col = t.column(column)
        per_sample = pc.list_value_length(col).fill_null(0).to_numpy()
        if per_sample.any():
            which = np.repeat(np.arange(rows_in), per_sample)
            actors = pc.list_flatten(col).to_numpy().astype(np.int64)
            ok = (actors >= 0) & (actors < n)
            status[which[ok], actors[ok]] = code
    status = status[rows].ravel()
    if default_actions and (status == 1).any():
        defaults = pa.array(list(default_actions) + [None] * (n - len(default_actions)), pa.binary())
        fill = pa.array((status == 1) & action.is_null().to_numpy(zero_copy_only=False))
        action = pc.if_else(fill, pc.take(defaults, pa.array(actor_idx)), action)

    observation_out: Any = observation
    action_out: Any = action
    if decoder is not None:
        observation_out = _decode(observation, actor_idx, n, decoder.decode_observations, "observations", record)
        action_out = _decode(action, actor_idx, n, decoder.decode_actions, "actions", record)

    if rewards is None:
        reward = per_actor(flat_rewards)
    else:
        reward = pa.array(rewards[rows].ravel(), pa.float32(), from_pandas=True)
    states = per_row(t.column("state")).to_numpy().astype(np.int64)
    columns = {
        "trial_id": pa.repeat(pa.scalar(record.trial_id, pa.string()), count),
        "tick": per_row(t.column("tick_id")),
        "timestamp": per_row(t.column("timestamp")).cast(_TS),
        "state": pc.take(_STATES, pa.array(np.clip(states, 0, len(_STATES) - 1))),
        "actor": pc.take(pa.array([a.name for a in record.actors], pa.string()), pa.array(actor_idx)),
        "observation": observation_out,
        "action": action_out,
        "action_status": pc.take(_STATUS, pa.array(status)),
        "reward": reward,
        "events": per_row(t.column("events")),
    }
    if any(isinstance(v, list) for v in columns.values()):
        return {
            k: pd.Series(v, dtype=object) if isinstance(v, list) else pd.Series(pd.arrays.ArrowExtensionArray(v))
            for k, v in columns.items()
        }
    return pa.table(columns)


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
    record: TrialRecord,
) -> pa.Array | list:
    """Decode a binary column actor by actor and put the values back in row order.

    Returns a Python list when actors decode to different Arrow types (pandas object column).
    """
    present = ~column.is_null().to_numpy(zero_copy_only=False)
    pieces: list[pa.Array] = []
    positions: list[np.ndarray] = []
    try:
        for a in range(n):
            pos = np.flatnonzero((actor_idx == a) & present)
            if not len(pos):
                continue
            contents = pc.take(column, pa.array(pos, pa.int64()))
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
        warnings.warn(
            f"trial {record.trial_id}: decoding {what} failed ({exc}); the column is left as raw bytes",
            stacklevel=4,
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
    missing = np.flatnonzero(~present)
    order = np.concatenate([*positions, missing])
    combined = pa.concat_arrays([*pieces, pa.nulls(len(missing), pieces[0].type)])
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return combined.take(pa.array(inverse, pa.int64()))


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
