"""Plain-Python trial records shared by the engine, its components and the datalog.

The engine never serialises: a *payload* (observation, action, default action) is either
``bytes`` (what a gRPC peer sent, or what a codec produced) or any Python object that
knows how to become bytes (``to_bytes()``), which is what in-process components exchange.
Only the edges that need bytes (gRPC transport, storage) call :func:`as_bytes`.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: Placeholder tick id of an action slot that received no data (``Action{tick_id: -2}``).
NO_DATA_TICK = -2


#: The special event a hard termination adds to the trial's last sample (``FORCED_TERMINATION + details``).
FORCED_TERMINATION = "Forced termination: "
#: Hard terminations someone asked for (``TerminateTrial``, an orchestrator stopping): not failures.
EXTERNALLY_REQUESTED = "Externally requested"
ORCHESTRATOR_SHUTDOWN = "Orchestrator shutdown"
#: The special event a soft termination adds to the trial's current sample.
END_REQUESTED = "End requested"
#: The special event of the sample of the environment's last observations (upstream's spelling).
ENV_ENDED = "Evironment ended trial"
#: A hard termination the user asked for by interrupting the wait for the trial (a notebook's stop button).
INTERRUPTED = "Cancelled: the wait for it was interrupted"


def config_content(message: Any) -> bytes | None:
    """The config bytes of a params or init message (anything with an optional ``config``
    field), or None when it has none: Cogment tells an absent config from an empty one."""
    return message.config.content if message.HasField("config") else None


def is_failure(end_details: str | None) -> bool:
    """Whether a trial forced to end for this reason failed (a component died or misbehaved,
    it went stale...) rather than ended normally or because someone asked."""
    return end_details is not None and end_details not in (EXTERNALLY_REQUESTED, ORCHESTRATOR_SHUTDOWN, INTERRUPTED)


class TrialState(enum.IntEnum):
    """Same numbering as ``cogmentAPI.TrialState``."""

    UNKNOWN = 0
    INITIALIZING = 1
    PENDING = 2
    RUNNING = 3
    TERMINATING = 4
    ENDED = 5


@runtime_checkable
class Encodable(Protocol):
    """An in-process payload that can be put on the wire or stored."""

    def to_bytes(self) -> bytes: ...


Payload = Any  # bytes | Encodable | None


def as_bytes(payload: Payload) -> bytes:
    """The wire form of a payload: bytes as-is, ``None`` as empty, else ``to_bytes()``."""
    if type(payload) is bytes:  # what gRPC peers send: every tick, so tested first
        return payload
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    return payload.to_bytes()


#: Unix-epoch nanoseconds (the protocol's timestamps); an alias, not a wrapper: it is on every hot path
now_ns = time.time_ns


@dataclass(slots=True)
class ObservationSet:
    """``cogmentAPI.ObservationSet``: ``observations[actors_map[i]]`` is actor i's observation."""

    observations: list[Payload]
    actors_map: list[int]
    tick_id: int = -1
    timestamp: int = 0


@dataclass(slots=True)
class Action:
    tick_id: int
    content: Payload
    timestamp: int = 0


@dataclass(slots=True)
class ActionSet:
    tick_id: int
    actions: list[Payload]
    unavailable_actors: list[int]
    timestamp: int = 0


@dataclass(slots=True)
class RewardSource:
    sender_name: str
    value: float
    confidence: float = 1.0
    user_data: Any = None  # google.protobuf.Any, or an in-process Python value


@dataclass(slots=True)
class Reward:
    tick_id: int
    receiver_name: str
    value: float
    sources: list[RewardSource]


@dataclass(slots=True)
class Message:
    tick_id: int
    sender_name: str
    receiver_name: str
    payload: Any = None  # google.protobuf.Any, or an in-process Python value


@dataclass(slots=True)
class Observation:
    """What one actor receives at the start of a tick."""

    tick_id: int
    timestamp: int
    content: Payload


@dataclass(slots=True)
class Sample:
    """One ``DatalogSample``; ``actions[i] is None`` is the ``Action{tick_id: -2}`` placeholder."""

    tick_id: int
    timestamp: int
    state: TrialState = TrialState.RUNNING
    special_events: list[str] = field(default_factory=list)
    out_of_sync: bool = False
    observations: ObservationSet | None = None
    actions: list[Action | None] = field(default_factory=list)
    rewards: list[Reward] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    default_actors: list[int] = field(default_factory=list)
    unavailable_actors: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ActorInit:
    """``ActorInitialInput``."""

    actor_name: str
    actor_class: str
    impl_name: str
    env_name: str
    config: bytes | None = None
    #: seconds the actor has to answer an observation (0: no limit), for in-process actors
    #: that must then not answer on the engine's event loop
    response_timeout: float = 0.0


@dataclass(slots=True)
class TrialActor:
    name: str
    actor_class: str


@dataclass(slots=True)
class EnvInit:
    """``EnvInitialInput``."""

    name: str
    impl_name: str
    tick_id: int
    actors_in_trial: list[TrialActor]
    config: bytes | None = None
    #: the longest response timeout of the trial's actors (0: none): an in-process environment
    #: of a timed trial must not step on the engine's event loop
    response_timeout: float = 0.0
