"""The configs our adapters exchange in Cogment ``SerializedMessage`` bytes.

They are the ``cogment_jupyter.EnvironmentConfig`` / ``ActorConfig`` protobuf messages of
``adapters.wire`` (the ``config_type`` of ``adapters.cog_settings``), so official-SDK
services, and our adapters served to the upstream orchestrator, parse them as any Cogment
config. The actor config carries the agent's spaces: a remote actor needs them to decode.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from google.protobuf.message import DecodeError

from cogment_jupyter.adapters import wire
from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.spaces import space_from_str, space_to_str

_space_texts: dict[int, tuple[gym.Space, str]] = {}


def space_text(space: gym.Space) -> str:
    """``space_to_str``, computed once per space object (trials reuse their env's spaces)."""
    entry = _space_texts.get(id(space))
    if entry is None or entry[0] is not space:
        entry = _space_texts[id(space)] = (space, space_to_str(space))
    return entry[1]


@functools.lru_cache(maxsize=1024)
def space_from_text(text: str) -> gym.Space:
    """``space_from_str``, parsed once per distinct text; the space object is shared."""
    return space_from_str(text)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str) if value else ""


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError as error:
        raise ValueError(f"the {what} is not valid JSON: {error}") from None


def _parse(message: Any, data: bytes, role: str) -> Any:
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise ValueError(
            f"the {role} config is not a cogment_jupyter.{type(message).__name__} message: was this trial "
            "started by another tool? Start it with the Lab, or send that message as the config"
        ) from None
    return message


@dataclass(slots=True)
class EnvConfig:
    seed: int | None = None
    render: bool = False
    options: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    #: the size frames are brought to (0: as rendered, or following the other side)
    render_width: int = 0
    render_height: int = 0
    #: the trial's payload format ("": ours; see ``adapters.payload_formats``)
    format: str = ""

    def to_bytes(self) -> bytes:
        message = wire.EnvironmentConfig(
            render=self.render,
            config_json=_dumps(self.config),
            reset_options_json=_dumps(self.options),
            render_width=self.render_width,
            render_height=self.render_height,
            format=self.format,
        )
        if self.seed is not None:
            message.seed = self.seed
        return message.SerializeToString()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> EnvConfig:
        if not data:
            return cls()
        message = _parse(wire.EnvironmentConfig(), data, "environment")
        return cls(
            message.seed if message.HasField("seed") else None,
            message.render,
            _loads(message.reset_options_json, "reset options"),
            _loads(message.config_json, "environment config") or {},
            message.render_width,
            message.render_height,
            message.format,
        )


@dataclass(slots=True)
class ActorConfig:
    spec: AgentSpec | None = None
    seed: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    render: bool = False
    #: the trial's payload format ("": ours; see ``adapters.payload_formats``)
    format: str = ""

    def to_bytes(self) -> bytes:
        message = wire.ActorConfig(config_json=_dumps(self.config), render=self.render, format=self.format)
        if self.seed is not None:
            message.seed = self.seed
        if self.spec is not None:
            message.observation_space_json = space_text(self.spec.observation_space)
            message.action_space_json = space_text(self.spec.action_space)
        return message.SerializeToString()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> ActorConfig:
        if not data:
            return cls()
        message = _parse(wire.ActorConfig(), data, "actor")
        spec = None
        if message.observation_space_json and message.action_space_json:
            spec = AgentSpec(
                space_from_text(message.observation_space_json), space_from_text(message.action_space_json)
            )
        return cls(
            spec,
            message.seed if message.HasField("seed") else None,
            _loads(message.config_json, "actor config") or {},
            message.render,
            message.format,
        )


#: the key byte of each config's ``seed`` (a varint field): one source, the messages' descriptors
_SEED_KEYS = {
    role: bytes([message.DESCRIPTOR.fields_by_name["seed"].number << 3])
    for role, message in (("environment", wire.EnvironmentConfig), ("actor", wire.ActorConfig))
}


def _varint(value: int) -> bytes:
    """``value`` as a protobuf int64 varint (a negative one as its 64-bit two's complement)."""
    value &= 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def with_seed(config: bytes, seed: int, role: str) -> bytes:
    """An environment's or actor's (``role``) config bytes, made without a seed, with ``seed``:
    a protobuf field appended to a message merges into it (the seed is then set). The field is
    encoded here, as the message would encode it, without making a message per trial."""
    return config + _SEED_KEYS[role] + _varint(seed)
