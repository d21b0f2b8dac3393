"""The component's end of Cogment environment and actor streams, once initialised (§5, §6.3).

Client actors joining over ``ClientActorSP`` (:func:`.client_actor.join_over_grpc`) and the
environments and actors we serve (:mod:`.component_servicers`) differ only in their
handshakes; from then on each stream feeds an in-process connection what the orchestrator
sends, and is the port through which that connection answers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from cogment_jupyter.engine.components import (
    ActorConnection,
    ActorPort,
    ComponentPort,
    EnvironmentConnection,
    EnvironmentPort,
)
from cogment_jupyter.engine.records import Action, Message, ObservationSet, Reward
from cogment_jupyter.proto import common_pb2, environment_pb2
from cogment_jupyter.transport import protobuf_records
from cogment_jupyter.transport.streams import END, HEARTBEAT, LAST, LAST_ACK, NORMAL, StreamPump

log = logging.getLogger(__name__)


class _ComponentStream(ComponentPort):
    """What environment and actor streams share: rewards, messages, acknowledgements, the end."""

    #: the message type this side writes, and its ``init_output``'s
    output: ClassVar[type]
    init_output: ClassVar[type]

    def __init__(self, pump: StreamPump, role: str) -> None:
        self._pump = pump
        self._role = role
        self._initialised = False
        self._connection: Any = None
        self._last = False
        self._finished = asyncio.Event()
        #: why the component stopped early (it raised), or None
        self.failure: str | None = None

    def initialised(self) -> None:
        """Send ``init_output``, once: first of all (an environment's first observations may
        come during its init, and send it then)."""
        if not self._initialised:
            self._initialised = True
            self._pump.send(self.output(state=NORMAL, init_output=self.init_output()))

    def reward(self, reward: Reward) -> None:
        self._pump.send(self.output(state=NORMAL, reward=protobuf_records.reward_to_proto(reward)))

    def message(self, message: Message) -> None:
        self._pump.send(self.output(state=NORMAL, message=protobuf_records.message_to_proto(message)))

    def last_ack(self) -> None:
        self._pump.send(self.output(state=LAST_ACK))

    def lost(self, reason: str) -> None:
        self._pump.close()
        self._finish(None)

    def failed(self, error: str) -> None:
        log.warning("%s failed: %s", self._role, error)
        self.failure = error
        self._pump.close()
        self._finish(f"the {self._role} failed: {error}")

    async def run(self, connection: Any) -> None:
        """Feed ``connection`` until ``END``, the end of the stream or its failure; then flush."""
        self._connection = connection
        self._pump.start(self._on_message, self._on_closed)
        await self._finished.wait()
        await self._pump.wait_writer()

    def _finish(self, details: str | None) -> None:
        if self._finished.is_set():
            return
        self._finished.set()
        if self._connection is not None:
            self._connection.end(details)

    def _on_message(self, message: Any) -> None:
        state = message.state
        if state == NORMAL:
            self._on_data(message)
        elif state == LAST:
            self._last = True
        elif state == END:
            self._pump.close()
            self._finish(message.details or None)
        elif state == HEARTBEAT:
            self._pump.send(self.output(state=HEARTBEAT))
        else:
            log.warning("%s: unexpected state %s from the orchestrator", self._role, state)

    def _on_data(self, message: Any) -> None:
        raise NotImplementedError

    def _on_closed(self, reason: str) -> None:
        self._finish(f"the orchestrator closed the stream: {reason}")


class ActorStream(_ComponentStream, ActorPort):
    """An actor's stream (``ActorRunTrialInput`` in, ``ActorRunTrialOutput`` out)."""

    output = common_pb2.ActorRunTrialOutput
    init_output = common_pb2.ActorInitialOutput
    _connection: ActorConnection | None

    def __init__(self, pump: StreamPump) -> None:
        super().__init__(pump, "actor")
        self._rewards: list[Reward] = []

    def action(self, action: Action) -> None:
        self._pump.send(common_pb2.ActorRunTrialOutput(state=NORMAL, action=protobuf_records.action_to_proto(action)))

    def _on_data(self, message: common_pb2.ActorRunTrialInput) -> None:
        connection = self._connection
        assert connection is not None
        kind = message.WhichOneof("data")
        if kind == "reward":
            self._rewards.append(protobuf_records.reward_from_proto(message.reward))
        elif kind == "observation":
            pending, self._rewards = self._rewards, []
            connection.observation(protobuf_records.observation_from_proto(message.observation), pending, self._last)
        elif kind == "message":
            connection.message(protobuf_records.message_from_proto(message.message))


class EnvironmentStream(_ComponentStream, EnvironmentPort):
    """An environment's stream (``EnvRunTrialInput`` in, ``EnvRunTrialOutput`` out)."""

    output = environment_pb2.EnvRunTrialOutput
    init_output = environment_pb2.EnvInitialOutput
    _connection: EnvironmentConnection | None

    def __init__(self, pump: StreamPump) -> None:
        super().__init__(pump, "environment")

    def observations(self, observation_set: ObservationSet) -> None:
        self.initialised()
        proto = protobuf_records.observation_set_to_proto(observation_set)
        self._pump.send(environment_pb2.EnvRunTrialOutput(state=NORMAL, observation_set=proto))

    def last(self) -> None:
        self._pump.send(environment_pb2.EnvRunTrialOutput(state=LAST))

    def _on_data(self, message: environment_pb2.EnvRunTrialInput) -> None:
        connection = self._connection
        assert connection is not None
        kind = message.WhichOneof("data")
        if kind == "action_set":
            connection.actions(protobuf_records.action_set_from_proto(message.action_set), self._last)
        elif kind == "message":
            connection.message(protobuf_records.message_from_proto(message.message))
