"""The columnar chunk: how a batch of samples is stored (one Arrow record batch per commit).

Row-per-value SQLite tables read far too slowly from Python for a million-step DataFrame; a
chunk is one BLOB holding a whole batch as Arrow columns, so reading a trial is a few memcpy's
and the tidy frame is built with vectorised Arrow compute. One row per sample, with per-actor
lists of a fixed length (the trial's actor count), keeps everything needed to rebuild the exact
``StoredTrialSample`` of §11 (observations + actors map, action contents, reward sources with
their receiver patterns, messages).

Four producers fill the same columns: plain ticks as rows (``engine.components.TickRows``:
a fused loop's, and the plain samples among the engine's records), the other engine records
(in-process, no protobuf at all), ``DatalogSample`` protobufs (``DatalogSP``) and
``StoredTrialSample`` protobufs (``AddSample``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import any_pb2
from google.protobuf.message import Message as ProtobufMessage

from cogment_jupyter.datastore.actors import ActorDirectory
from cogment_jupyter.engine.components import TickRows
from cogment_jupyter.engine.records import FORCED_TERMINATION, NO_DATA_TICK, Sample, TrialState, as_bytes

#: Version of the layout below, stored with every chunk.
CHUNK_FORMAT = 1

SOURCE_TYPE = pa.struct(
    [
        ("reward", pa.int32()),  # index of the Reward in the sample
        ("tick_id", pa.int64()),
        ("receiver", pa.string()),  # receiver pattern as sent (may be a wildcard)
        ("value", pa.float32()),  # Reward.value
        ("sender", pa.string()),  # null: the Reward had no source
        ("source_value", pa.float32()),
        ("confidence", pa.float32()),
        ("user_data_type", pa.string()),
        ("user_data", pa.binary()),  # null: no user data
    ]
)
MESSAGE_TYPE = pa.struct(
    [
        ("tick_id", pa.int64()),
        ("sender", pa.string()),
        ("receiver", pa.string()),
        ("payload_type", pa.string()),
        ("payload", pa.binary()),  # null: no payload
    ]
)
CHUNK_SCHEMA = pa.schema(
    [
        ("tick_id", pa.int64()),
        ("timestamp", pa.int64()),
        ("state", pa.int8()),
        ("out_of_sync", pa.bool_()),
        ("events", pa.list_(pa.string())),
        ("observations", pa.list_(pa.binary())),  # null: no ObservationSet in the sample
        ("observation_map", pa.list_(pa.int32())),  # per actor: index in observations, -1 none
        ("has_actions", pa.bool_()),  # False: the sample had no actions field
        ("actions", pa.list_(pa.binary())),  # per actor: content, null = placeholder (tick -2)
        ("rewards", pa.list_(pa.float32())),  # per actor: confidence-weighted reward, null = none
        ("default_actors", pa.list_(pa.int32())),
        ("unavailable_actors", pa.list_(pa.int32())),
        ("reward_sources", pa.list_(SOURCE_TYPE)),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("stored", pa.binary()),  # verbatim StoredTrialSample of samples added with AddSample
    ]
)

_SOURCE_FIELDS = [f.name for f in SOURCE_TYPE]
_MESSAGE_FIELDS = [f.name for f in MESSAGE_TYPE]


def any_parts(value: Any) -> tuple[str | None, bytes | None]:
    """``(type_url, value bytes)`` of a reward user data / message payload, whatever its form.

    Over gRPC it is a ``google.protobuf.Any``; in-process it may be any Python value, which is
    stored as bytes, a packed protobuf, text or JSON so that nothing makes the datalog fail.
    """
    if value is None:
        return None, None
    if isinstance(value, any_pb2.Any):
        return value.type_url, value.value
    if isinstance(value, ProtobufMessage):
        packed = any_pb2.Any()
        packed.Pack(value)
        return packed.type_url, packed.value
    if isinstance(value, bytes | bytearray | memoryview):
        return "", bytes(value)
    if isinstance(value, str):
        return "text/plain", value.encode()
    if not isinstance(value, bool | int | float) and callable(getattr(value, "to_bytes", None)):
        return "", value.to_bytes()
    try:
        return "application/json", json.dumps(value).encode()
    except (TypeError, ValueError):
        return "text/plain", repr(value).encode()


def _fit(values: Sequence[Any], n: int, fill: Any) -> list[Any]:
    values = list(values[:n])
    return values + [fill] * (n - len(values))


def _encoded(value: Any) -> bytes | None:
    """A payload's bytes (None stays None: no payload)."""
    if value is None or type(value) is bytes:
        return value
    return as_bytes(value)


def _action_bytes(action: Any) -> bytes | None:
    """An engine action record's bytes (None: no data)."""
    return None if action is None or action.tick_id == NO_DATA_TICK else _encoded(action.content)


def _recorded(value: Any, k: int, events: list[tuple[int, str]]) -> bytes | None:
    """A payload's bytes. One that cannot be encoded (an action outside its space: the trial
    ends for it) is stored as missing, with an event of sample ``k`` saying why, so that the
    rest of the trial is kept and the columns stay aligned."""
    try:
        return _encoded(value)
    except Exception as error:
        events.append((k, f"Payload not recorded: {type(error).__name__}: {error}"))
        return None


class ChunkBuilder:
    """Accumulates samples of one trial into a :data:`CHUNK_SCHEMA` record batch.

    This is the ingest hot path: per sample it does a handful of list appends. Rare things
    (events, default/unavailable actors, messages, missing fields) are kept as sparse
    ``(sample, value)`` pairs and turned into list offsets with numpy at :meth:`build`; so are
    the state, sync flag and observation layout of the rows that are not plain ticks (a plain
    tick is RUNNING, in sync, every actor observed by its own observation), so that a plain
    tick costs only the columns that vary.
    """

    def __init__(self, directory: ActorDirectory) -> None:
        self.directory = directory
        n = self.n = len(directory)
        self._none_n: list[Any] = [None] * n
        self._minus_n = [-1] * n
        self._identity = list(range(n))  # the actors map of an observation per actor
        # Flat lists of atoms: per-sample tuples would be GC-tracked survivors, and full
        # collections walking them cost more than the appends.
        self.ticks: list[int] = []
        self.stamps: list[int] = []
        #: the rows that are not plain ticks (in order), and their state, sync flag, observation
        #: count and actors map (``n`` each)
        self.general: list[int] = []
        self.states: list[int] = []
        self.oos: list[bool] = []
        self.obs_counts: list[int] = []
        self.obs_map: list[int] = []
        self.events: list[tuple[int, str]] = []
        self.obs: list[bytes | None] = []
        self.no_obs: list[int] = []
        self.no_actions: list[int] = []
        self.actions: list[bytes | None] = []
        self.rewards: list[float | None] = []
        self.defaults: list[tuple[int, int]] = []
        self.unavailable: list[tuple[int, int]] = []
        self.sources: list[tuple] = []  # SOURCE_TYPE fields
        self.sources_k: list[int] = []  # sample of each source
        #: the sources of plain ticks, field by field (tick -1, confidence 1, no user data): Arrow
        #: builds these columns several times faster than structs from tuples
        self.plain_k: list[int] = []  # sample of each
        self.plain_numbers: list[int] = []  # index of its reward in the sample
        self.plain_receivers: list[str] = []
        self.plain_values: list[float] = []
        self.plain_senders: list[str] = []
        self.messages: list[tuple] = []  # (sample, *MESSAGE_TYPE fields)
        self.stored: list[tuple[int, bytes]] = []
        #: plain engine records taken since the last other row, written at once by add_rows
        self._plain = TickRows()

    def __len__(self) -> int:
        return len(self.ticks) + len(self._plain.ticks)

    def extend(self, other: ChunkBuilder) -> None:
        """Append the rows of another builder of the same actor count (its sample indices shifted)."""
        if other.n != self.n:
            raise ValueError(f"cannot merge a builder of {other.n} actors into one of {self.n}")
        self._flush_plain()
        other._flush_plain()
        k = len(self.ticks)
        self.ticks += other.ticks
        self.stamps += other.stamps
        self.states += other.states
        self.oos += other.oos
        self.obs += other.obs
        self.obs_counts += other.obs_counts
        self.obs_map += other.obs_map
        self.actions += other.actions
        self.rewards += other.rewards
        self.sources += other.sources
        self.plain_numbers += other.plain_numbers
        self.plain_receivers += other.plain_receivers
        self.plain_values += other.plain_values
        self.plain_senders += other.plain_senders
        # rows that name a sample by its index: shifted by the rows already here
        indices = (
            (self.general, other.general),
            (self.no_obs, other.no_obs),
            (self.no_actions, other.no_actions),
            (self.sources_k, other.sources_k),
            (self.plain_k, other.plain_k),
        )
        tagged = (
            (self.events, other.events),
            (self.defaults, other.defaults),
            (self.unavailable, other.unavailable),
            (self.messages, other.messages),
            (self.stored, other.stored),
        )
        if not k:  # merging into an empty builder: nothing to shift
            for mine, theirs in (*indices, *tagged):
                mine += theirs
            return
        for mine, theirs in indices:
            mine += [i + k for i in theirs]
        for mine, theirs in tagged:
            mine += [(i + k, *rest) for i, *rest in theirs]

    # -- producers -------------------------------------------------------------------------

    def add_records(self, samples: Iterable[Sample]) -> None:
        """Engine records (in-process path): payloads are bytes or ``to_bytes()`` objects.
        Plain ticks are written by :meth:`add_rows`, as a fused loop's are; the rest here."""
        for sample in samples:
            if sample.state != _RUNNING or not self._take_plain(sample):  # (a trial's end: at once)
                if self._plain.ticks:
                    self._flush_plain()
                self._add_record(sample)

    def _flush_plain(self) -> None:
        """Write the plain records taken so far (before any other row)."""
        plain = self._plain
        if plain.ticks:
            self._plain = TickRows()
            self.add_rows(plain)

    def _take_plain(self, s: Sample) -> bool:
        """Keep sample ``s`` for :meth:`add_rows` if it is a plain tick (see :class:`TickRows`)."""
        if s.state != TrialState.RUNNING or s.out_of_sync or s.special_events or s.messages:
            return False
        if s.default_actors or s.unavailable_actors:
            return False
        observation_set = s.observations
        n = self.n
        if observation_set is None or len(observation_set.observations) != n or len(s.actions) != n:
            return False
        if observation_set.actors_map != self._identity:
            return False
        rewards = s.rewards
        receivers: list[int] = []
        for reward in rewards:
            sources = reward.sources
            if reward.tick_id != -1 or len(sources) != 1:
                return False
            source = sources[0]
            if source.confidence != 1.0 or source.user_data is not None or source.value != reward.value:
                return False
            targets = self.directory.expand(reward.receiver_name)
            if len(targets) != 1 or targets[0] in receivers:
                return False
            receivers.append(targets[0])
        try:
            observations = list(map(_encoded, observation_set.observations))
            actions = list(map(_action_bytes, s.actions))
        except Exception:  # the general path records why
            return False
        rows = self._plain
        row = len(rows.ticks)
        rows.ticks.append(s.tick_id)
        rows.timestamps.append(s.timestamp)
        rows.observations += observations
        rows.actions += actions
        for reward, receiver in zip(rewards, receivers, strict=True):
            rows.reward_rows.append(row)
            rows.receivers.append(receiver)
            rows.rewards.append(reward.value)
            rows.names.append(reward.receiver_name)
            rows.senders.append(reward.sources[0].sender_name)
        return True

    def _add_record(self, s: Sample) -> None:
        """One engine record, whatever it holds (after the plain ones taken before it)."""
        n = self.n
        k = len(self.ticks)
        self.ticks.append(s.tick_id)
        self.stamps.append(s.timestamp)
        self.general.append(k)
        self.states.append(s.state)
        self.oos.append(s.out_of_sync)
        if s.special_events:
            self.events.extend((k, e) for e in s.special_events)
        obs = s.observations
        if obs is None:
            self.no_obs.append(k)
            self.obs_counts.append(0)
            self.obs_map.extend(self._minus_n)
        else:
            values = obs.observations
            self.obs_counts.append(len(values))
            self.obs.extend([_recorded(o, k, self.events) for o in values])
            m = obs.actors_map
            self.obs_map.extend(m if len(m) == n else _fit(m, n, -1))
        acts = s.actions
        if acts:
            if len(acts) != n:
                acts = _fit(acts, n, None)
            self.actions.extend(
                [None if a is None or a.tick_id == NO_DATA_TICK else _recorded(a.content, k, self.events) for a in acts]
            )
        else:
            self.no_actions.append(k)
            self.actions.extend(self._none_n)
        if s.rewards:
            self._add_rewards(k, s.rewards, _record_user_data)
        else:
            self.rewards.extend(self._none_n)
        if s.default_actors:
            self.defaults.extend((k, i) for i in s.default_actors)
        if s.unavailable_actors:
            self.unavailable.extend((k, i) for i in s.unavailable_actors)
        if s.messages:
            self._add_messages(k, s.messages, _record_payload)

    def add_rows(self, rows: TickRows) -> None:
        """Plain ticks (:class:`TickRows`), whichever loop ran them: the one writer of their
        columns. (Copies what it keeps: the caller may reuse ``rows``.)"""
        if self._plain.ticks:
            self._flush_plain()
        n = self.n
        m = len(rows)
        k = len(self.ticks)
        self.ticks += rows.ticks
        self.stamps += rows.timestamps
        self.obs += rows.observations
        self.actions += rows.actions
        reward_rows, values = rows.reward_rows, rows.rewards
        count = len(reward_rows)
        if n == 1:  # the common case: a row has at most one reward, the first of its row
            if count == m:  # every row rewarded
                self.rewards += values
            else:
                per_actor: list[float | None] = [None] * m
                for row, value in zip(reward_rows, values, strict=True):
                    per_actor[row] = value
                self.rewards += per_actor
        else:
            per_actor = [None] * (n * m)
            numbers = []
            previous = number = -1
            for row, receiver, value in zip(reward_rows, rows.receivers, values, strict=True):
                per_actor[row * n + receiver] = value
                number = number + 1 if row == previous else 0
                previous = row
                numbers.append(number)
            self.rewards += per_actor
            self.plain_numbers += numbers  # (one actor: each row's reward is its first, see build)
        if n == 1 and count == m:  # (rows k, k + 1, ...)
            self.plain_k += range(k, k + m)
        else:
            self.plain_k += [k + row for row in reward_rows] if k else reward_rows
        self.plain_receivers += rows.names
        self.plain_values += values
        self.plain_senders += rows.senders

    def add_datalog(self, samples: Iterable[Any]) -> None:
        """``cogmentAPI.DatalogSample`` protobufs (``DatalogSP``)."""
        self._flush_plain()
        n = self.n
        none_n, minus_n = self._none_n, self._minus_n
        ticks, stamps, states, oos = self.ticks.append, self.stamps.append, self.states.append, self.oos.append
        general = self.general.append
        obs_values, obs_counts, obs_map = self.obs.extend, self.obs_counts.append, self.obs_map.extend
        actions, rewards = self.actions.extend, self.rewards.extend
        sources, sources_k = self.sources.append, self.sources_k.append
        expand = self.directory.expand
        k = len(self.ticks)
        for s in samples:
            info = s.info
            ticks(info.tick_id)
            stamps(info.timestamp)
            general(k)
            states(info.state)
            oos(info.out_of_sync)
            if info.special_events:
                self.events.extend((k, e) for e in info.special_events)
            if s.HasField("observations"):
                o = s.observations
                values = o.observations
                obs_values(values)
                obs_counts(len(values))
                m = o.actors_map
                obs_map(m if len(m) == n else _fit(m, n, -1))
            else:
                self.no_obs.append(k)
                obs_counts(0)
                obs_map(minus_n)
            acts = s.actions
            if len(acts):
                contents = [None if a.tick_id == NO_DATA_TICK else a.content for a in acts]
                actions(contents if len(contents) == n else _fit(contents, n, None))
            else:
                self.no_actions.append(k)
                actions(none_n)
            rw = s.rewards
            if not len(rw):
                rewards(none_n)
            elif len(rw) == 1 and len(rw[0].sources) == 1 and not rw[0].sources[0].HasField("user_data"):
                r = rw[0]
                src = r.sources[0]
                value, confidence = src.value, src.confidence
                sources_k(k)
                sources((0, r.tick_id, r.receiver_name, r.value, src.sender_name, value, confidence, None, None))
                out = list(none_n)
                value = value if confidence > 0 else 0.0
                for i in expand(r.receiver_name):
                    out[i] = value
                rewards(out)
            else:
                self._add_rewards(k, rw, _pb_user_data)
            if len(s.default_actors):
                self.defaults.extend((k, i) for i in s.default_actors)
            if len(s.unavailable_actors):
                self.unavailable.extend((k, i) for i in s.unavailable_actors)
            if len(s.messages):
                self._add_messages(k, s.messages, _pb_payload)
            k += 1

    def add_stored(self, sample: Any, raw: bytes) -> None:
        """A ``cogmentAPI.StoredTrialSample`` (``AddSample``), kept verbatim for the SDK."""
        self._flush_plain()
        n = self.n
        k = len(self.ticks)
        self.ticks.append(sample.tick_id)
        self.stamps.append(sample.timestamp)
        self.general.append(k)
        self.states.append(sample.state)
        self.oos.append(False)
        payloads = sample.payloads
        obs_map = list(self._minus_n)
        actions: list[bytes | None] = list(self._none_n)
        rewards: list[float | None] = list(self._none_n)
        n_obs = 0
        has_actions = False
        for a in sample.actor_samples:
            i = a.actor
            if i >= n:
                continue
            if a.HasField("observation") and a.observation < len(payloads):
                obs_map[i] = n_obs
                n_obs += 1
                self.obs.append(payloads[a.observation])
            if a.HasField("action") and a.action < len(payloads):
                actions[i] = payloads[a.action]
                has_actions = True
            if a.HasField("reward"):
                rewards[i] = a.reward
        self.obs_counts.append(n_obs)
        if not n_obs:
            self.no_obs.append(k)
        if not has_actions:
            self.no_actions.append(k)
        self.obs_map.extend(obs_map)
        self.actions.extend(actions)
        self.rewards.extend(rewards)
        self.stored.append((k, raw))

    # -- shared pieces ---------------------------------------------------------------------

    def _add_rewards(self, k: int, rewards: Iterable[Any], user_data_of: Callable[[Any], Any]) -> None:
        """Flatten the reward sources and aggregate per actor (confidence-weighted mean, §7.3)."""
        add, add_k = self.sources.append, self.sources_k.append
        acc: dict[int, list[float]] = {}
        for r_no, r in enumerate(rewards):
            receiver = r.receiver_name
            targets = self.directory.expand(receiver)
            for i in targets:
                if i not in acc:
                    acc[i] = [0.0, 0.0]
            sources = r.sources
            if not len(sources):
                add_k(k)
                add((r_no, r.tick_id, receiver, r.value, None, None, None, None, None))
                continue
            for s in sources:
                value, confidence = s.value, s.confidence
                add_k(k)
                add(
                    (
                        r_no,
                        r.tick_id,
                        receiver,
                        r.value,
                        s.sender_name,
                        value,
                        confidence,
                        *any_parts(user_data_of(s)),
                    )
                )
                if confidence > 0:
                    for i in targets:
                        a = acc[i]
                        a[0] += value * confidence
                        a[1] += confidence
        out = list(self._none_n)
        for i, (num, den) in acc.items():
            out[i] = num / den if den > 0 else 0.0
        self.rewards.extend(out)

    def _add_messages(self, k: int, messages: Iterable[Any], payload_of: Callable[[Any], Any]) -> None:
        for m in messages:
            self.messages.append((k, m.tick_id, m.sender_name, m.receiver_name, *any_parts(payload_of(m))))

    # -- output ----------------------------------------------------------------------------

    def build(self) -> pa.RecordBatch:
        self._flush_plain()
        rows = len(self.ticks)
        n = self.n
        per_actor = pa.array(np.arange(rows + 1, dtype=np.int32) * n)
        no_lists = _no_lists(rows)
        obs_mask = np.zeros(rows, dtype=bool)
        obs_mask[self.no_obs] = True
        has_actions = np.ones(rows, dtype=bool)
        has_actions[self.no_actions] = False
        if self.stored:
            stored_values: list[bytes | None] = [None] * rows
            for k, raw in self.stored:
                stored_values[k] = raw
            stored = pa.array(stored_values, pa.binary())
        else:
            stored = pa.nulls(rows, pa.binary())
        # the rows that are not plain ticks say their state, sync, observation count and map
        general = _ints(self.general, np.int64)
        states = np.full(rows, _RUNNING, dtype=np.int8)
        states[general] = _ints(self.states, np.int8)
        out_of_sync = np.zeros(rows, dtype=bool)
        out_of_sync[general] = _ints(self.oos, np.bool_)
        obs_counts = np.full(rows, n, dtype=np.int64)
        obs_counts[general] = _ints(self.obs_counts, np.int64)
        obs_map = np.tile(np.arange(n, dtype=np.int32), rows)
        if n:
            obs_map.reshape(rows, n)[general] = _ints(self.obs_map, np.int32).reshape(-1, n)
        t = CHUNK_SCHEMA.field
        columns = [
            pa.array(_ints(self.ticks, np.int64)),
            pa.array(_ints(self.stamps, np.int64)),
            pa.array(states),
            pa.array(out_of_sync),
            _sparse(self.events, rows, t("events").type, no_lists),
            pa.ListArray.from_arrays(
                _offsets(obs_counts),
                pa.array(self.obs, pa.binary()),
                type=t("observations").type,
                mask=pa.array(obs_mask),
            ),
            pa.ListArray.from_arrays(per_actor, pa.array(obs_map), type=t("observation_map").type),
            pa.array(has_actions),
            pa.ListArray.from_arrays(per_actor, pa.array(self.actions, pa.binary()), type=t("actions").type),
            pa.ListArray.from_arrays(per_actor, pa.array(self.rewards, pa.float32()), type=t("rewards").type),
            _sparse(self.defaults, rows, t("default_actors").type, no_lists),
            _sparse(self.unavailable, rows, t("unavailable_actors").type, no_lists),
            self._reward_sources(rows),
            _sparse(self.messages, rows, t("messages").type, no_lists),
            stored,
        ]
        return pa.RecordBatch.from_arrays(columns, schema=CHUNK_SCHEMA)

    def _reward_sources(self, rows: int) -> pa.Array:
        """The ``reward_sources`` column: the general sources (tuples) and those of plain ticks
        (columns), in sample order (a sample's sources are all of one kind)."""
        plain_k = _ints(self.plain_k, np.int64)
        general_k = _ints(self.sources_k, np.int64)
        parts, ks = [], []
        if len(general_k) or not len(plain_k):
            parts.append(pa.array(self.sources, SOURCE_TYPE))
            ks.append(general_k)
        if len(plain_k):
            m = len(plain_k)
            values = pa.array(np.array(self.plain_values, dtype=np.float32))
            # (one actor: a row has one reward at most, its first)
            numbers = np.zeros(m, dtype=np.int32) if self.n == 1 else _ints(self.plain_numbers, np.int32)
            fields = [
                pa.array(numbers),
                pa.array(np.full(m, -1, dtype=np.int64)),
                _strings(self.plain_receivers),
                values,
                _strings(self.plain_senders),
                values,
                pa.array(np.ones(m, dtype=np.float32)),
                pa.nulls(m, pa.string()),
                pa.nulls(m, pa.binary()),
            ]
            parts.append(pa.StructArray.from_arrays(fields, fields=list(SOURCE_TYPE)))
            ks.append(plain_k)
        if len(parts) == 1:
            values, k = parts[0], ks[0]
        else:
            k = np.concatenate(ks)
            order = np.argsort(k, kind="stable")
            values, k = pa.concat_arrays(parts).take(pa.array(order)), k[order]
        return pa.ListArray.from_arrays(
            _offsets(np.bincount(k, minlength=rows)), values, type=CHUNK_SCHEMA.field("reward_sources").type
        )


_RUNNING = int(TrialState.RUNNING)


def _ints(values: list[int], dtype: type[np.integer]) -> np.ndarray:
    """A list of Python ints as an array (numpy reads them faster than ``pa.array``)."""
    return np.fromiter(values, dtype=dtype, count=len(values))


def _strings(values: list[str]) -> pa.Array:
    """A string column; one whose every value is the same (a reward's receiver and sender when
    one actor plays) is made from a repeated buffer, without reading each value."""
    m = len(values)
    if not m or type(values[0]) is not str or values.count(values[0]) != m:
        return pa.array(values, pa.string())
    data = values[0].encode()
    offsets = np.arange(m + 1, dtype=np.int32) * len(data)
    return pa.StringArray.from_buffers(m, pa.py_buffer(offsets), pa.py_buffer(data * m))


def _offsets(counts: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.array(offsets)


def _no_lists(rows: int) -> pa.Array:
    """The offsets of a list column whose every row is empty."""
    return pa.array(np.zeros(rows + 1, dtype=np.int32))


#: an empty array of each list column's item type, for columns that are empty in a chunk
_EMPTY: dict[pa.DataType, pa.Array] = {}


def _sparse(pairs: list[tuple], rows: int, list_type: pa.ListType, no_lists: pa.Array) -> pa.Array:
    """A list column from ``(sample, value...)`` tuples given in sample order (``no_lists``:
    :func:`_no_lists` of ``rows``)."""
    item = list_type.value_type
    if not pairs:
        empty = _EMPTY.get(item)
        if empty is None:
            empty = _EMPTY[item] = pa.array([], item)
        return pa.ListArray.from_arrays(no_lists, empty, type=list_type)
    columns = list(zip(*pairs, strict=False))
    counts = np.bincount(np.asarray(columns[0], dtype=np.int64), minlength=rows)
    if pa.types.is_struct(item):
        values = pa.StructArray.from_arrays(
            [pa.array(c, f.type) for c, f in zip(columns[1:], item, strict=True)], fields=list(item)
        )
    else:
        values = pa.array(columns[1], item)
    return pa.ListArray.from_arrays(_offsets(counts), values, type=list_type)


def _record_user_data(source: Any) -> Any:
    return source.user_data


def _pb_user_data(source: Any) -> Any:
    return source.user_data if source.HasField("user_data") else None


def _record_payload(message: Any) -> Any:
    return message.payload


def _pb_payload(message: Any) -> Any:
    return message.payload if message.HasField("payload") else None


#: Compression of stored chunks. zstd makes them smaller than LZ4 but has a fixed cost per
#: chunk, both ways, that LZ4 mostly has not (figures: docs/decisions/hot-path-costs.md). A
#: chunk holds the samples of every trial a writer batch holds (see ``segments``), so most are
#: zstd; one under ``SMALL_CHUNK`` raw bytes (a lone short trial, a live trial's few last ticks)
#: is LZ4. zstd's fast level -1 compresses and decompresses a third faster than its default
#: level 1, for chunks ~15% larger.
CODEC = "zstd"
SMALL_CODEC = "lz4"
SMALL_CHUNK = 16 * 1024
#: zstd's compression level (readers need not know it)
ZSTD_LEVEL = -1
_CODECS = {"zstd": pa.Codec("zstd", compression_level=ZSTD_LEVEL), "lz4": pa.Codec("lz4")}


@dataclass(frozen=True, slots=True)
class Blob:
    """A chunk as stored: ``(format, codec, raw_size, data)`` columns of the ``chunks`` table."""

    format: int
    codec: str
    raw_size: int
    data: bytes | memoryview


def serialize(batch: pa.RecordBatch, codec: str | None = None) -> Blob:
    """An IPC message without schema (the schema is the code's), compressed (``codec``:
    ``"zstd"``, ``"lz4"`` or ``"none"``; by default by size, see :data:`CODEC`)."""
    raw = batch.serialize()
    if codec is None:
        codec = SMALL_CODEC if raw.size < SMALL_CHUNK else CODEC
    if codec == "none":
        return Blob(CHUNK_FORMAT, codec, raw.size, memoryview(raw))
    compressor = _CODECS.get(codec)
    if compressor is None:
        raise ValueError(f"unknown chunk codec {codec!r}: 'zstd', 'lz4' or 'none'")
    return Blob(CHUNK_FORMAT, codec, raw.size, compressor.compress(raw, asbytes=True))


def deserialize(data: bytes, fmt: int = CHUNK_FORMAT, codec: str = "none", raw_size: int = 0) -> pa.RecordBatch:
    if fmt != CHUNK_FORMAT:
        raise ValueError(f"chunk format {fmt} is not readable by this version (expects {CHUNK_FORMAT})")
    buffer = pa.py_buffer(data) if codec == "none" else pa.decompress(data, raw_size, codec=codec)
    return pa.ipc.read_record_batch(buffer, CHUNK_SCHEMA)


@dataclass(slots=True)
class ChunkStats:
    """What a chunk changes in its trial's summary row."""

    samples: int
    ticks: int
    last_state: int
    first_tick_ns: int | None
    last_ns: int | None
    ended_ns: int | None
    returns: list[float]
    #: why the trial was forced to end, from its ENDED sample's events (None: a normal end)
    end_details: str | None = None


def stats(batch: pa.RecordBatch | pa.Table, n_actors: int) -> ChunkStats:
    return segment_stats(batch, n_actors, [(0, batch.num_rows)])[0]


def segment_stats(
    batch: pa.RecordBatch | pa.Table, n_actors: int, bounds: Sequence[tuple[int, int]]
) -> list[ChunkStats]:
    """The stats of rows ``[start, stop)`` of a batch, per segment (see :func:`segment_columns`)."""
    columns = segment_columns(batch, n_actors, bounds)
    return [ChunkStats(*values) for values in zip(*columns, strict=True)]


@dataclass(slots=True)
class SegmentColumns:
    """:class:`ChunkStats` of many segments, field by field (a list each, one item per segment)."""

    samples: list[int]
    ticks: list[int]
    last_state: list[int]
    first_tick_ns: list[int | None]
    last_ns: list[int | None]
    ended_ns: list[int | None]
    returns: list[list[float]]
    end_details: list[str | None]

    def __iter__(self):
        return iter(
            (
                self.samples,
                self.ticks,
                self.last_state,
                self.first_tick_ns,
                self.last_ns,
                self.ended_ns,
                self.returns,
                self.end_details,
            )
        )


def segment_columns(
    batch: pa.RecordBatch | pa.Table, n_actors: int, bounds: Sequence[tuple[int, int]]
) -> SegmentColumns:
    """The stats of rows ``[start, stop)`` of a batch, per segment: a batch holding many
    trials' samples is read once, and every segment is summed at once (``reduceat``), not
    with a dozen numpy calls per trial."""
    count = len(bounds)
    starts = np.fromiter((start for start, _ in bounds), dtype=np.int64, count=count)
    stops = np.fromiter((stop for _, stop in bounds), dtype=np.int64, count=count)
    if count == 0 or not (stops > starts).all():
        return _with_empty_segments(batch, n_actors, bounds, starts, stops)
    rows = batch.num_rows
    out_of_sync = batch.column("out_of_sync").to_numpy(zero_copy_only=False).astype(bool)
    ts = batch.column("timestamp").to_numpy(zero_copy_only=False)
    states = batch.column("state").to_numpy(zero_copy_only=False)
    # reduceat over [start, stop, start, stop, ...] sums each [start, stop) at the even places;
    # one padding row makes a stop at the end of the batch a valid index
    edges = np.column_stack([starts, stops]).reshape(-1)
    if out_of_sync.any():
        in_sync = ~out_of_sync
        ticks = np.add.reduceat(np.append(in_sync, False).astype(np.int64), edges)[::2].tolist()
        first_tick_ns, _ = _first_in(np.flatnonzero(in_sync), starts, stops, ts)
    else:  # (the usual case: every row is a tick)
        ticks = (stops - starts).tolist()
        first_tick_ns = ts[starts].tolist()
    last_ns = np.maximum.reduceat(np.append(ts, 0), edges)[::2].tolist()
    ended_rows = np.flatnonzero(states == TrialState.ENDED)
    ended_ns, ended_at = _first_in(ended_rows, starts, stops, ts)
    end_details: list[str | None] = [None] * count
    events = batch.column("events")
    if len(ended_rows) and _may_contain(events, FORCED_TERMINATION):
        for k in np.flatnonzero(ended_at >= 0).tolist():
            end_details[k] = _forced_end(events[int(ended_at[k])].as_py())
    last_state = states[stops - 1].tolist()
    if n_actors:
        flat = pc.list_flatten(batch.column("rewards")).to_numpy(zero_copy_only=False)
        rewards = np.zeros((rows + 1, n_actors))  # (+ the padding row)
        rewards[:rows] = flat.reshape(rows, n_actors)
        np.nan_to_num(rewards, copy=False, nan=0.0)  # (a missing reward is no reward)
        with np.errstate(over="ignore"):  # an infinite reward makes an infinite return, as it should
            returns = np.add.reduceat(rewards, edges, axis=0)[::2].tolist()
    else:
        returns = [[] for _ in range(count)]
    samples = (stops - starts).tolist()
    return SegmentColumns(samples, ticks, last_state, first_tick_ns, last_ns, ended_ns, returns, end_details)


def _with_empty_segments(
    batch: pa.RecordBatch | pa.Table,
    n_actors: int,
    bounds: Sequence[tuple[int, int]],
    starts: np.ndarray,
    stops: np.ndarray,
) -> SegmentColumns:
    """:func:`segment_columns` when some segments are empty: those have zero stats."""
    count = len(bounds)
    filled = np.flatnonzero(stops > starts).tolist()
    out = SegmentColumns(
        [0] * count,
        [0] * count,
        [0] * count,
        [None] * count,
        [None] * count,
        [None] * count,
        [[0.0] * n_actors for _ in range(count)],
        [None] * count,
    )
    if filled:
        found = segment_columns(batch, n_actors, [bounds[i] for i in filled])
        for mine, theirs in zip(out, found, strict=True):
            for i, value in zip(filled, theirs, strict=True):
                mine[i] = value
    return out


def _may_contain(strings: pa.Array | pa.ChunkedArray, text: str) -> bool:
    """Whether some string of a list-of-strings column may contain ``text`` (False: none
    does): one search through the bytes of all its strings, without a string object each."""
    needle = text.encode()
    for chunk in strings.chunks if isinstance(strings, pa.ChunkedArray) else (strings,):
        data = chunk.values.buffers()[2]
        if data is not None and needle in data.to_pybytes():
            return True
    return False


def _forced_end(events: list[str] | None) -> str | None:
    """The details of the hard termination among an ENDED row's events (None: a normal end)."""
    for event in events or ():
        if event.startswith(FORCED_TERMINATION):
            return event[len(FORCED_TERMINATION) :]
    return None


def _first_in(
    positions: np.ndarray, starts: np.ndarray, stops: np.ndarray, ts: np.ndarray
) -> tuple[list[int | None], np.ndarray]:
    """Per segment, the timestamp of the first of ``positions`` (sorted rows) inside it, or
    None; and that row (-1: none)."""
    found = np.searchsorted(positions, starts)
    inside = found < len(positions)
    inside[inside] = positions[found[inside]] < stops[inside]
    if not len(positions):
        return [None] * len(starts), np.full(len(starts), -1)
    at = np.where(inside, positions[np.minimum(found, len(positions) - 1)], -1)
    values = ts[np.maximum(at, 0)].tolist()
    return [value if ok else None for value, ok in zip(values, inside.tolist(), strict=True)], at
