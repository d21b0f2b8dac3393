"""Stored chunks back to ``StoredTrialSample`` protobufs, exactly as the upstream datastore builds them.

Follows Go ``trialSampleFromDatalogSample`` (``cogment-protocol.md`` §11): payloads are the
observations, then every actor's action content (placeholders included), then reward user
data (``Any.value``, one per receiver and source) and message payloads (``Any.value``);
wildcard receivers are expanded; senders that are not actors are ``-1``. Then the
``RetrieveSamples`` actor and field filters of Go ``AppliedTrialSampleFilter``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pyarrow as pa

from cogment_jupyter.datastore.actors import ActorDirectory
from cogment_jupyter.proto.trial_datastore_pb2 import StoredTrialSample, StoredTrialSampleField

F = StoredTrialSampleField
_COLUMNS = (
    "tick_id",
    "timestamp",
    "state",
    "observations",
    "observation_map",
    "has_actions",
    "actions",
    "rewards",
    "reward_sources",
    "messages",
    "stored",
)


class SampleConverter:
    """Converts one trial's stored samples, applying ``RetrieveSamplesRequest`` filters."""

    def __init__(
        self,
        trial_id: str,
        directory: ActorDirectory,
        *,
        actor_names: Iterable[str] = (),
        actor_classes: Iterable[str] = (),
        actor_implementations: Iterable[str] = (),
        fields: Iterable[int] = (),
    ) -> None:
        self.trial_id = trial_id
        self.directory = directory
        self.actors = directory.select(actor_names, actor_classes, actor_implementations)
        self.fields = {int(f) for f in fields if int(f) != F.STORED_TRIAL_SAMPLE_FIELD_UNKNOWN}
        self._all_fields = not list(fields)
        self.selects_all = all(self.actors) and self._all_fields

    def convert(self, table: pa.Table) -> Iterator[StoredTrialSample]:
        cols = {name: table.column(name).to_pylist() for name in _COLUMNS}
        for i in range(table.num_rows):
            yield self.filter(self.build(cols, i))

    def build(self, c: dict[str, list], i: int) -> StoredTrialSample:
        stored = c["stored"][i]
        if stored is not None:
            sample = StoredTrialSample.FromString(stored)
            sample.trial_id = self.trial_id
            return sample
        directory = self.directory
        sample = StoredTrialSample(
            trial_id=self.trial_id, tick_id=c["tick_id"][i], timestamp=c["timestamp"][i], state=c["state"][i]
        )
        actors = [sample.actor_samples.add(actor=k) for k in range(len(directory))]
        payloads: list[bytes] = []
        obs = c["observations"][i]
        if obs is not None:
            payloads.extend(b or b"" for b in obs)
            for k, m in enumerate(c["observation_map"][i]):
                if 0 <= m < len(obs):
                    actors[k].observation = m
        if c["has_actions"][i]:
            for k, content in enumerate(c["actions"][i]):
                actors[k].action = len(payloads)
                payloads.append(content or b"")
        for group in _by_reward(c["reward_sources"][i]):
            for target in directory.expand(group[0]["receiver"]):
                for src in group:
                    if src["sender"] is None:  # a Reward without sources
                        continue
                    ud_index = None
                    if src["user_data"]:
                        ud_index = len(payloads)
                        payloads.append(src["user_data"])
                    sender = directory.index(src["sender"])
                    received = actors[target].received_rewards.add(
                        sender=sender, reward=src["source_value"], confidence=src["confidence"]
                    )
                    if ud_index is not None:
                        received.user_data = ud_index
                    if sender >= 0:
                        sent = actors[sender].sent_rewards.add(
                            receiver=target, reward=src["source_value"], confidence=src["confidence"]
                        )
                        if ud_index is not None:
                            sent.user_data = ud_index
        for k, value in enumerate(c["rewards"][i]):
            if value is not None:
                actors[k].reward = value
        for m in c["messages"][i] or ():
            index = len(payloads)
            payloads.append(m["payload"] or b"")
            receiver = directory.index(m["receiver"])
            sender = directory.index(m["sender"])
            if receiver >= 0:
                actors[receiver].received_messages.add(sender=sender, payload=index)
            if sender >= 0:
                actors[sender].sent_messages.add(receiver=receiver, payload=index)
        sample.payloads.extend(payloads)
        return sample

    def filter(self, sample: StoredTrialSample) -> StoredTrialSample:
        if self.selects_all:
            return sample
        wants = self._wants
        out = StoredTrialSample(
            user_id=sample.user_id,
            trial_id=sample.trial_id,
            tick_id=sample.tick_id,
            timestamp=sample.timestamp,
            state=sample.state,
        )
        src = sample.payloads
        payloads: list[bytes] = [b""] * len(src)
        for a in sample.actor_samples:
            if a.actor >= len(self.actors) or not self.actors[a.actor]:
                continue
            fa = out.actor_samples.add(actor=a.actor)
            if a.HasField("observation") and wants(F.STORED_TRIAL_SAMPLE_FIELD_OBSERVATION):
                fa.observation = a.observation
                _copy(payloads, src, a.observation)
            if a.HasField("action") and wants(F.STORED_TRIAL_SAMPLE_FIELD_ACTION):
                fa.action = a.action
                _copy(payloads, src, a.action)
            if a.HasField("reward") and wants(F.STORED_TRIAL_SAMPLE_FIELD_REWARD):
                fa.reward = a.reward
            for name, field in (
                ("received_rewards", F.STORED_TRIAL_SAMPLE_FIELD_RECEIVED_REWARDS),
                ("sent_rewards", F.STORED_TRIAL_SAMPLE_FIELD_SENT_REWARDS),
            ):
                if wants(field):
                    for r in getattr(a, name):
                        getattr(fa, name).append(r)
                        if r.HasField("user_data"):
                            _copy(payloads, src, r.user_data)
            for name, field in (
                ("received_messages", F.STORED_TRIAL_SAMPLE_FIELD_RECEIVED_MESSAGES),
                ("sent_messages", F.STORED_TRIAL_SAMPLE_FIELD_SENT_MESSAGES),
            ):
                if wants(field):
                    for m in getattr(a, name):
                        getattr(fa, name).append(m)
                        _copy(payloads, src, m.payload)
        out.payloads.extend(payloads)
        return out

    def _wants(self, field: int) -> bool:
        return self._all_fields or field in self.fields


def _copy(dst: list[bytes], src: Sequence[bytes], index: int) -> None:
    if 0 <= index < len(src):
        dst[index] = src[index]


def _by_reward(sources: list[dict] | None) -> Iterator[list[dict]]:
    """Consecutive reward sources grouped by the Reward they came from."""
    group: list[dict] = []
    for src in sources or ():
        if group and group[0]["reward"] != src["reward"]:
            yield group
            group = []
        group.append(src)
    if group:
        yield group
