"""Per-agent numpy arrays of a recorded trial, compatible with Cogment Lab's ``TrialData``.

Built column by column from the stored envelopes (no Python object per step): the fields of
every observation are located with numpy (:class:`~cogment_jupyter.adapters.wire.EnvelopeColumn`)
and values decoded a column at a time by the space's codec.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from cogment_jupyter.adapters.trial_codec import AgentCodecs, TrialCodec
from cogment_jupyter.adapters.wire import INACTIVE, INFO_JSON, TERMINATED, TRUNCATED, VALUE, EnvelopeColumn

if TYPE_CHECKING:
    import pyarrow as pa

    from cogment_jupyter.adapters.codec import Codec
    from cogment_jupyter.datastore.api import Datastore

#: Cogment Lab's fields (its ``get_trial_data`` default).
COGMENT_LAB_FIELDS = ("observations", "actions", "rewards", "done", "next_observations", "last_observation")
#: Every field, the default here.
FIELDS = (*COGMENT_LAB_FIELDS, "terminated", "truncated", "info")


@dataclass
class TrialData:
    """One agent's transitions. With T transitions (the ticks where the agent acted):

    ``observations[t]`` the observation it acted on, ``actions[t]`` its action, ``rewards[t]``
    what it received from that action until its next one (rewards given on other agents'
    turns included, as PettingZoo's ``last()`` reports them), ``next_observations[t]`` what
    it observed when it next acted (or at the end), ``terminated[t]`` / ``truncated[t]`` the
    flags of that observation, ``done[t]`` 1.0 on the last transition (as Cogment Lab),
    ``info`` the environment's info of the T + 1 observations (the first one's, the reset's
    for an agent that acts first, then each next observation's) and ``last_observation`` the
    final observation with a leading axis of 1. A field not asked for (``fields=``) is None.
    """

    observations: Any = None
    actions: Any = None
    rewards: np.ndarray | None = None
    done: np.ndarray | None = None
    next_observations: Any = None
    last_observation: Any = None
    terminated: np.ndarray | None = None
    truncated: np.ndarray | None = None
    info: Infos | None = field(default=None)

    def __len__(self) -> int:
        for name in ("rewards", "done", "terminated", "truncated"):
            value = getattr(self, name)
            if value is not None:
                return len(value)
        return 0 if self.info is None else max(0, len(self.info) - 1)


class Infos(Sequence[dict[str, Any]]):
    """The environment's info dicts of a run of observations: a read-only sequence that
    decodes an info (recorded as JSON) when it is read, so a million-step trial does not
    make a million dicts up front. ``list(infos)`` makes them all."""

    __slots__ = ("_texts",)

    def __init__(self, texts: pa.Array) -> None:
        self._texts = texts  # JSON text per observation, null: no info

    def __len__(self) -> int:
        return len(self._texts)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Infos(self._texts[index])
        if index < 0:
            index += len(self._texts)
        if not 0 <= index < len(self._texts):
            raise IndexError(f"info index out of range (there are {len(self._texts)})")
        text = self._texts[index].as_py()
        return json.loads(text) if text else {}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for text in self._texts.to_pylist():
            yield json.loads(text) if text else {}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def of(cls, infos: Iterable[dict[str, Any]]) -> Infos:
        """From dicts (kept as the JSON the recorder writes)."""
        import pyarrow as pa

        from cogment_jupyter.adapters.payloads import info_to_json

        return cls(pa.array([info_to_json(i) or None for i in infos], pa.string()))

    @classmethod
    def joined(cls, parts: Sequence[Infos]) -> Infos:
        import pyarrow as pa

        return cls(pa.concat_arrays([p._texts for p in parts]) if parts else pa.array([], pa.string()))

    def __repr__(self) -> str:
        shown = [self[i] for i in range(min(len(self), 3))]
        more = f", ... ({len(self)} infos)" if len(self) > 3 else ""
        return f"Infos({repr(shown)[1:-1]}{more})"


def check_fields(wanted: Iterable[str]) -> tuple[str, ...]:
    """The fields asked for, or a ValueError naming the unknown ones and the known ones."""
    wanted = (wanted,) if isinstance(wanted, str) else tuple(wanted)
    unknown = [f for f in wanted if f not in FIELDS]
    if unknown:
        raise ValueError(f"unknown TrialData field(s) {unknown}; the fields are {list(FIELDS)}")
    return wanted


def trial_data(
    store: Datastore, trial_id: str, agents: Sequence[str] | None = None, wanted: Sequence[str] = FIELDS
) -> dict[str, TrialData]:
    """``TrialData`` of the actors of a recorded trial (``agents``: only these), by name."""
    params = store.params(trial_id)
    codec = TrialCodec.from_params(params)
    if codec is None:
        raise ValueError(f"trial {trial_id!r} recorded no spaces: it was not run by a cogment_jupyter lab")
    names = [a.name for a in params.actors]
    steps = store.raw_steps(trial_id, ["observation", "action", "reward"])
    out = {}
    for index, name in enumerate(names):
        if agents is not None and name not in agents:
            continue
        rows = steps if len(names) == 1 else steps.take(np.arange(index, steps.num_rows, len(names)))
        observations = codec.observation_envelopes(name, rows.column("observation"))
        actions = codec.action_envelopes(name, rows.column("action"))
        out[name] = agent_trial_data(observations, actions, rows.column("reward"), codec[name], name, wanted)
    return out


def agent_trial_data(
    observation: pa.Array | pa.ChunkedArray,
    action: pa.Array | pa.ChunkedArray,
    reward: pa.Array | pa.ChunkedArray,
    codecs: AgentCodecs,
    agent: str,
    wanted: Sequence[str] = FIELDS,
) -> TrialData:
    """``TrialData`` of one agent from its rows of a trial's steps, in tick order: the stored
    observation and action envelopes and the rewards."""
    observed = EnvelopeColumn(observation)
    seen = observed.span(VALUE)[3]
    if not seen.any():
        raise ValueError(f"agent {agent!r} has no recorded observation in this trial")
    actions = EnvelopeColumn(action).span(VALUE)
    acted = np.flatnonzero((actions[3] & seen & ~observed.flag(INACTIVE))[:-1])
    last_seen = int(np.flatnonzero(seen)[-1])
    nexts = np.append(acted[1:], last_seen if len(acted) and last_seen > acted[-1] else acted[-1:]).astype(np.int64)
    data = TrialData()
    obs_codec, action_codec = codecs.observation, codecs.action
    if "observations" in wanted:
        data.observations = stacked(obs_codec, observed.span(VALUE), acted)
    if "next_observations" in wanted:
        data.next_observations = stacked(obs_codec, observed.span(VALUE), nexts)
    if "last_observation" in wanted:
        data.last_observation = stacked(obs_codec, observed.span(VALUE), np.array([last_seen]))
    if "actions" in wanted:
        data.actions = stacked(action_codec, actions, acted)
    if "rewards" in wanted:
        data.rewards = _rewards(reward, acted)
    if "done" in wanted:
        data.done = np.zeros(len(acted), dtype=np.float32)
        data.done[-1:] = 1.0
    if "terminated" in wanted:
        data.terminated = observed.flag(TERMINATED)[nexts]
    if "truncated" in wanted:
        data.truncated = observed.flag(TRUNCATED)[nexts]
    if "info" in wanted:
        data.info = _infos(observed, np.concatenate([acted[:1] if len(acted) else [last_seen], nexts]))
    return data


def _rewards(reward: pa.Array | pa.ChunkedArray, acted: np.ndarray) -> np.ndarray:
    """Per transition, every reward from its action up to the agent's next one (the first
    one also gets those received before the agent first acted: none is dropped)."""
    if not len(acted):
        return np.zeros(0, dtype=np.float32)
    values = np.nan_to_num(reward.to_numpy(zero_copy_only=False).astype(np.float64), nan=0.0)
    starts = acted.copy()
    starts[0] = 0
    return np.add.reduceat(values, starts).astype(np.float32)


def _infos(observed: EnvelopeColumn, rows: np.ndarray) -> Infos:
    import pyarrow as pa

    return Infos(observed.text(INFO_JSON).take(pa.array(rows)))


def stacked(codec: Codec, spans: tuple[np.ndarray, ...], rows: np.ndarray) -> Any:
    """The values of ``rows`` of a column of envelope spans, stacked the way Cogment Lab shapes
    them: ``(T, *shape)`` in the space's dtype, Discrete as int64, Dict as a dict, Tuple as
    a dict keyed by position, Text as ``<U{max_length}``. Fresh, writable arrays."""
    data, starts, lengths, present = spans
    return _from_arrow(codec.space, codec.decode_spans(data, starts[rows], lengths[rows], present[rows]))


def _from_arrow(space: gym.Space, values: pa.Array) -> Any:
    if isinstance(space, gym.spaces.Dict):
        return {key: _from_arrow(sub, values.field(str(key))) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return {i: _from_arrow(sub, values.field(str(i))) for i, sub in enumerate(space.spaces)}
    if isinstance(space, gym.spaces.Discrete):
        return values.to_numpy(zero_copy_only=False).astype(np.int64)
    if isinstance(space, gym.spaces.Text):
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=f"<U{max(space.max_length, 1)}")
    shape = tuple(space.shape)
    dtype = np.dtype(space.dtype)
    if not shape:
        return values.to_numpy(zero_copy_only=False).astype(dtype)
    n = len(values)
    if not n or not int(np.prod(shape)):
        return np.zeros((n, *shape), dtype=dtype)
    storage = getattr(values, "storage", values)  # a fixed-shape tensor's fixed-size lists
    return storage.flatten().to_numpy(zero_copy_only=False).astype(dtype).reshape(n, *shape)


def concatenate(parts: Sequence[TrialData]) -> TrialData:
    """Join several trials' data along the first axis (``last_observation`` of the last one)."""
    if not parts:
        raise ValueError("concatenate() needs at least one TrialData")
    joined = TrialData()
    for f in fields(TrialData):
        values = [getattr(p, f.name) for p in parts]
        if f.name == "last_observation":
            setattr(joined, f.name, values[-1])
        elif all(v is None for v in values):
            setattr(joined, f.name, None)
        elif f.name == "info":
            joined.info = Infos.joined([v if isinstance(v, Infos) else Infos.of(v) for v in values if v is not None])
        else:
            setattr(joined, f.name, _concat(values))
    return joined


def _concat(values: list[Any]) -> Any:
    if isinstance(values[0], dict):
        return {key: _concat([v[key] for v in values]) for key in values[0]}
    return np.concatenate(values, axis=0)
