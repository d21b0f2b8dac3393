"""Every actor's (observation, action) codecs for one trial, recorded with the trial.

The lab builds a :class:`TrialCodec` from the environment's ``agent_specs`` and stores
:meth:`TrialCodec.properties` in ``TrialParams.properties``; the datastore rebuilds it with
:meth:`TrialCodec.from_params` and decodes stored envelopes column by column, so DataFrames
show values, not bytes, even for a trial recorded by another kernel long ago.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import Codec, codec_for
from cogment_jupyter.adapters.spaces import SpaceFormatError, space_from_json, space_to_json
from cogment_jupyter.adapters.wire import INFO_JSON, EnvelopeColumn, envelope_value_spans

if TYPE_CHECKING:
    import pyarrow as pa

    from cogment_jupyter.adapters.payloads import LabObservation

__all__ = ["FORMAT_KEY", "PROPERTY_KEY", "AgentCodecs", "TrialCodec"]

#: The ``TrialParams.properties`` key holding the spaces JSON.
PROPERTY_KEY = "cogment_jupyter.spaces"
#: The key naming the trial's payload format when it is not ours (``"cogment_lab"``: Cogment Lab's).
FORMAT_KEY = "cogment_jupyter.format"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class AgentCodecs:
    observation: Codec
    action: Codec


class TrialCodec:
    """Per-actor codecs; actor ``i`` is ``actor_names[i]`` (the trial's actor order).

    Satisfies the datastore's decoder protocol (``decode_observations`` /
    ``decode_actions`` on columns of wire envelopes).
    """

    def __init__(self, agents: Mapping[str, AgentCodecs], actor_names: Sequence[str] | None = None) -> None:
        self.agents = dict(agents)
        self.actor_names = list(actor_names) if actor_names is not None else list(self.agents)

    @classmethod
    def from_specs(cls, specs: Mapping[str, AgentSpec], actor_names: Sequence[str] | None = None) -> TrialCodec:
        """From an environment's ``agent_specs`` (raises SpaceFormatError for unsupported spaces)."""
        return cls(
            {n: AgentCodecs(codec_for(s.observation_space), codec_for(s.action_space)) for n, s in specs.items()},
            actor_names,
        )

    # -- serialisation -------------------------------------------------------------------

    def to_json(self) -> str:
        actors = {
            name: {"observation": space_to_json(c.observation.space), "action": space_to_json(c.action.space)}
            for name, c in self.agents.items()
        }
        return json.dumps({"version": FORMAT_VERSION, "actors": actors}, separators=(",", ":"), allow_nan=False)

    def properties(self) -> dict[str, str]:
        """What to merge into ``TrialParams.properties``."""
        return {PROPERTY_KEY: self.to_json()}

    @classmethod
    def from_json(cls, text: str, actor_names: Sequence[str] | None = None) -> TrialCodec:
        return cls(_agent_codecs(text), actor_names)

    @classmethod
    def from_params(cls, params: Any) -> TrialCodec | None:
        """From a ``common_pb2.TrialParams``; ``None`` if the trial did not record
        spaces (not one of ours), so the datastore leaves its values as bytes."""
        text = params.properties.get(PROPERTY_KEY) if params is not None else None
        if not text:
            return None
        names = [a.name for a in params.actors] or None
        payload_format = params.properties.get(FORMAT_KEY, "")
        if payload_format and cls is TrialCodec:  # a trial recorded in another format reads through its codec
            from cogment_jupyter.adapters.payload_formats import payload_format as format_named

            return format_named(payload_format).trial_codec.from_json(text, names)
        return cls.from_json(text, names)

    @property
    def decoding_key(self) -> tuple[AgentCodecs | None, ...]:
        """Each actor's codecs, in actor order: the trials of a spaces document share them
        (made once per document), so the datastore decodes those trials together."""
        return tuple(self.agents.get(name) for name in self.actor_names)

    # -- lookup --------------------------------------------------------------------------

    def __getitem__(self, actor: str | int) -> AgentCodecs:
        name = self.actor_names[actor] if isinstance(actor, int) else actor
        try:
            return self.agents[name]
        except KeyError:
            raise KeyError(
                f"actor {name!r} has no recorded spaces (known: {sorted(self.agents)}); its environment "
                "did not declare it in agent_specs"
            ) from None

    def observation_codec(self, actor: str | int) -> Codec:
        return self[actor].observation

    def action_codec(self, actor: str | int) -> Codec:
        return self[actor].action

    # -- stored payloads as our envelopes (a trial of another format converts them) -------------

    def observation_envelopes(self, actor: str | int, contents: pa.Array) -> pa.Array:
        """A column of stored observations of ``actor`` as our envelopes (ours: as they are)."""
        return contents

    def action_envelopes(self, actor: str | int, contents: pa.Array) -> pa.Array:
        """A column of stored actions of ``actor`` as our envelopes (ours: as they are)."""
        return contents

    def observation(self, actor: str | int, content: bytes) -> LabObservation:
        """One stored observation of ``actor``, decoded (value, flags, frame, info)."""
        from cogment_jupyter.adapters.payloads import decode_observation

        return decode_observation(content, self[actor].observation)

    # -- the datastore's decoder protocol -------------------------------------------------

    def decode_observations(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array:
        """Observation values of actor ``actor_index`` from a column of envelopes (null = none)."""
        envelopes = self.observation_envelopes(actor_index, contents)
        return self[actor_index].observation.decode_spans(*envelope_value_spans(envelopes))

    def decode_infos(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array:
        """The environment's info of each observation envelope, as JSON text (null: none)."""
        return EnvelopeColumn(self.observation_envelopes(actor_index, contents)).text(INFO_JSON)

    def decode_actions(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array:
        """Action values of actor ``actor_index`` from a column of envelopes (null = no action)."""
        envelopes = self.action_envelopes(actor_index, contents)
        return self[actor_index].action.decode_spans(*envelope_value_spans(envelopes))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}: {c.observation.space} -> {c.action.space}" for n, c in self.agents.items())
        return f"TrialCodec({inner})"


@functools.lru_cache(maxsize=256)
def _agent_codecs(text: str) -> dict[str, AgentCodecs]:
    """The codecs a spaces document describes, made once per document: the trials of an
    environment share theirs, and reading thousands of them at once would otherwise parse it
    and build its spaces for each (codecs are immutable; ``TrialCodec`` copies the dict)."""
    try:
        doc = json.loads(text)
        actors = doc["actors"]
    except (ValueError, KeyError, TypeError) as e:
        raise SpaceFormatError(f"{PROPERTY_KEY} is not a spaces document: {e}") from e
    return {
        name: AgentCodecs(codec_for(space_from_json(d["observation"])), codec_for(space_from_json(d["action"])))
        for name, d in actors.items()
    }
