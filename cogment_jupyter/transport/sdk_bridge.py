"""Our Gymnasium-style environments and actors as official-SDK implementations.

This is how the lab serves its components as ordinary Cogment services (to the upstream
orchestrator, to another process, or from a ``process=True`` service): the SDK speaks the
protocol, and the same in-process connections used by the engine run inside the SDK
session, with a port that turns their output into SDK session calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cogment

from cogment_jupyter.adapters.base import Actor, Environment
from cogment_jupyter.engine.components import ActorPort, EnvironmentPort, InitError
from cogment_jupyter.engine.records import (
    Action,
    ActionSet,
    ActorInit,
    EnvInit,
    Message,
    Observation,
    ObservationSet,
    Reward,
    RewardSource,
    TrialActor,
    as_bytes,
)
from cogment_jupyter.transport.inprocess import InProcessActor, InProcessEnvironment


class ComponentFailed(RuntimeError):
    """Raised in an SDK session so that the SDK ends the stream: the orchestrator sees it go."""


class _Serialized:
    """What the SDK serialises: it only calls ``SerializeToString()`` on observations and actions."""

    __slots__ = ("_payload",)

    def __init__(self, payload: Any) -> None:
        self._payload = payload

    def SerializeToString(self) -> bytes:
        return as_bytes(self._payload)


def _config_bytes(config: Any) -> bytes | None:
    return None if config is None else config.SerializeToString()


def _rewards(event: Any) -> list[Reward]:
    return [
        Reward(
            r.tick_id,
            r.receiver_name,
            r.value,
            [RewardSource(s.sender_name, s.value, s.confidence, s.user_data) for s in r.all_sources()],
        )
        for r in event.rewards
    ]


def _send_reward(session: Any, reward: Reward) -> None:
    for source in reward.sources:
        user_data = source.user_data if hasattr(source.user_data, "SerializeToString") else None
        session.add_reward(source.value, source.confidence, [reward.receiver_name], user_data=user_data)


def _send_message(session: Any, message: Message) -> None:
    if hasattr(message.payload, "SerializeToString"):
        session.send_message(message.payload, [message.receiver_name])


class _EnvironmentSessionPort(EnvironmentPort):
    def __init__(self, session: Any, names: list[str]) -> None:
        self.session = session
        self.names = names
        self.started = False
        self.ending = False
        self.error: str | None = None

    def observations(self, observation_set: ObservationSet) -> None:
        contents = observation_set.observations
        pairs = [
            (name, _Serialized(contents[index]))
            for name, index in zip(self.names, observation_set.actors_map, strict=True)
        ]
        if not self.started:
            self.started = True
            self.session.start(pairs)
        elif self.ending:
            self.session.end(pairs)
        else:
            self.session.produce_observations(pairs)

    def last(self) -> None:
        self.ending = True

    def last_ack(self) -> None:
        """The SDK acknowledges by itself."""

    def reward(self, reward: Reward) -> None:
        _send_reward(self.session, reward)

    def message(self, message: Message) -> None:
        _send_message(self.session, message)

    def lost(self, reason: str) -> None:
        self.error = reason

    def failed(self, error: str) -> None:
        self.error = error


class _ActorSessionPort(ActorPort):
    def __init__(self, session: Any) -> None:
        self.session = session
        self.error: str | None = None

    def action(self, action: Action) -> None:
        self.session.do_action(_Serialized(action.content))

    def reward(self, reward: Reward) -> None:
        _send_reward(self.session, reward)

    def message(self, message: Message) -> None:
        _send_message(self.session, message)

    def last_ack(self) -> None:
        """The SDK acknowledges by itself."""

    def lost(self, reason: str) -> None:
        self.error = reason

    def failed(self, error: str) -> None:
        self.error = error


def environment_implementation(templates: Mapping[str, Environment]) -> Any:
    """An SDK environment implementation serving every template of ``templates`` by name."""

    async def implementation(session: cogment.EnvironmentSession) -> None:
        actors = session.get_active_actors()
        names = [actor.actor_name for actor in actors]
        port = _EnvironmentSessionPort(session, names)
        connection = InProcessEnvironment(templates, session.get_trial_id())
        init = EnvInit(
            session.name,
            session.impl_name,
            0,
            [TrialActor(actor.actor_name, actor.actor_class_name) for actor in actors],
            _config_bytes(session.config),
        )
        try:
            await connection.init(init, port)
        except InitError as error:
            raise ComponentFailed(str(error)) from error
        try:
            async for event in session.all_events():
                for message in event.messages:
                    connection.message(
                        Message(message.tick_id, message.sender_name, message.receiver_name, message.payload)
                    )
                if event.actions:
                    unavailable = [
                        i for i, a in enumerate(event.actions) if a.status == cogment.ActorStatus.UNAVAILABLE
                    ]
                    action_set = ActionSet(event.actions[0].tick_id, [a.action for a in event.actions], unavailable)
                    connection.actions(action_set, last=event.type == cogment.EventType.ENDING)
                if port.error is not None:
                    raise ComponentFailed(port.error)
        finally:
            connection.end(None)

    return implementation


def actor_implementation(templates: Mapping[str, Actor]) -> Any:
    """An SDK actor implementation serving every template of ``templates`` by name."""

    async def implementation(session: cogment.ActorSession) -> None:
        port = _ActorSessionPort(session)
        connection = InProcessActor(templates, session.get_trial_id())
        init = ActorInit(
            session.name, session.class_name, session.impl_name, session.env_name, _config_bytes(session.config)
        )
        try:
            await connection.init(init, port)
        except InitError as error:
            raise ComponentFailed(str(error)) from error
        session.start()
        pending: list[Reward] = []
        try:
            async for event in session.all_events():
                pending.extend(_rewards(event))
                for message in event.messages:
                    connection.message(
                        Message(message.tick_id, message.sender_name, message.receiver_name, message.payload)
                    )
                if event.observation is not None:
                    observation = Observation(
                        event.observation.tick_id, event.observation.timestamp, event.observation.observation
                    )
                    connection.observation(observation, pending, last=event.type == cogment.EventType.ENDING)
                    pending = []
                if port.error is not None:
                    raise ComponentFailed(port.error)
        finally:
            connection.end(None)

    return implementation
