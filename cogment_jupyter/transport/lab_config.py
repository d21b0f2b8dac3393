"""The configs our adapters exchange inside Cogment ``SerializedMessage`` bytes (JSON).

Environment config: ``{"seed": int | null, "render": bool, "options": {...}, "config": {...}}``.
Actor config: ``{"observation_space": space, "action_space": space, "seed": int | null,
"config": {...}}`` (spaces in ``adapters.spaces`` JSON), so an actor served in another
process, or by the upstream orchestrator, can decode what it receives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.spaces import space_from_json, space_to_json


@dataclass(slots=True)
class EnvConfig:
    seed: int | None = None
    render: bool = False
    options: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"seed": self.seed, "render": self.render, "options": self.options, "config": self.config},
            default=str,
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> EnvConfig:
        if not data:
            return cls()
        raw = _load(data, "environment")
        return cls(
            raw.get("seed"), bool(raw.get("render", False)), raw.get("options"), raw.get("config") or {}
        )


@dataclass(slots=True)
class ActorConfig:
    spec: AgentSpec | None = None
    seed: int | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        raw: dict[str, Any] = {"seed": self.seed, "config": self.config}
        if self.spec is not None:
            raw["observation_space"] = space_to_json(self.spec.observation_space)
            raw["action_space"] = space_to_json(self.spec.action_space)
        return json.dumps(raw, default=str).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> ActorConfig:
        if not data:
            return cls()
        raw = _load(data, "actor")
        spec = None
        if "observation_space" in raw and "action_space" in raw:
            spec = AgentSpec(_space(raw["observation_space"]), _space(raw["action_space"]))
        return cls(spec, raw.get("seed"), raw.get("config") or {})


def _space(value: Any) -> gym.Space:
    return space_from_json(value)


def _load(data: bytes, role: str) -> dict[str, Any]:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"the {role} config is not cogment_jupyter JSON ({error}); was this trial started by "
            "another tool? Start it with the Lab, or pass a JSON config"
        ) from None
    if not isinstance(raw, dict):
        raise ValueError(f"the {role} config must be a JSON object, got {type(raw).__name__}")
    return raw
