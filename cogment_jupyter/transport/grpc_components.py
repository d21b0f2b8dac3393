"""Engine components reached over Cogment gRPC: environments, service and client actors, datalogs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from cogment_jupyter.engine.components import (
    ActorPort,
    DatalogConnection,
    EnvironmentConnection,
    EnvironmentPort,
    InitError,
)
from cogment_jupyter.engine.records import (
    ActionSet,
    ActorInit,
    EnvInit,
    Message,
    Observation,
    Reward,
    Sample,
)
from cogment_jupyter.proto import agent_pb2, common_pb2, datalog_pb2, environment_pb2
from cogment_jupyter.transport import protobuf_records
from cogment_jupyter.transport.http2 import ConnectionPool
from cogment_jupyter.transport.liveness import Liveness
from cogment_jupyter.transport.streams import END, HEARTBEAT, LAST, LAST_ACK, NORMAL, CallStream, StreamPump

log = logging.getLogger(__name__)


def _method_path(module: Any, service: str, method: str) -> str:
    """The HTTP/2 path of a Cogment RPC, from the generated descriptors (``/cogmentAPI.Service/Method``)."""
    return f"/{module.DESCRIPTOR.services_by_name[service].full_name}/{method}"


ENVIRONMENT_RUN_TRIAL = _method_path(environment_pb2, "EnvironmentSP", "RunTrial")
SERVICE_ACTOR_RUN_TRIAL = _method_path(agent_pb2, "ServiceActorSP", "RunTrial")
DATALOG_RUN_TRIAL = _method_path(datalog_pb2, "DatalogSP", "RunTrialDatalog")


async def open_call(
    pool: ConnectionPool, address: str, path: str, metadata: Sequence[tuple[str, str]], name: str, reply_type: type
) -> CallStream:
    """Start one component call; what stops it is an :class:`InitError` naming the component."""
    stream = CallStream(name, reply_type)
    try:
        await stream.open(pool, address, path, metadata)
    except ConnectionError as error:
        raise InitError(str(error)) from error
    return stream


def _end_message(message_type: type, details: str | None) -> Any:
    return message_type(state=END, details=details) if details else message_type(state=END)


async def handshake(
    call: Any,
    pump: StreamPump | CallStream,
    first: Any,
    message_type: type,
    role: str,
    reply_field: str = "init_output",
) -> Any:
    """Send the first message and read until a ``NORMAL`` reply carrying ``reply_field``, answering
    heartbeats (§5, §6.1); returns that reply. Any failure cancels the call and raises :class:`InitError`.
    """
    try:
        await pump.write_now(first)
        while True:
            reply = await pump.read()
            if reply is None:
                raise InitError(f"the {role} closed its stream during init")
            if reply.state == HEARTBEAT:
                await pump.write_now(message_type(state=HEARTBEAT))
                continue
            if reply.state == NORMAL and reply.HasField(reply_field):
                return reply
            raise InitError(f"unexpected message from the {role} during init: state {reply.state}")
    except ConnectionError as error:
        call.cancel()
        raise InitError(str(error)) from error
    except BaseException:
        call.cancel()
        raise


class GrpcEnvironment(EnvironmentConnection):
    """``EnvironmentSP.RunTrial`` (the orchestrator is the client)."""

    def __init__(self, connections: ConnectionPool, trial_id: str, address: str) -> None:
        self._connections = connections
        self._trial_id = trial_id
        self._address = address
        self._pump: CallStream | None = None
        self._port: EnvironmentPort | None = None
        self._ended = False
        self._liveness: Liveness | None = None

    async def init(self, init: EnvInit, port: EnvironmentPort) -> None:
        pump = self._pump = await open_call(
            self._connections,
            self._address,
            ENVIRONMENT_RUN_TRIAL,
            (("trial-id", self._trial_id),),
            f"environment@{self._address}",
            environment_pb2.EnvRunTrialOutput,
        )
        first = environment_pb2.EnvRunTrialInput(state=NORMAL, init_input=protobuf_records.env_init_to_proto(init))
        await handshake(pump, pump, first, environment_pb2.EnvRunTrialInput, "environment")
        self._port = port
        self._liveness = Liveness(lambda: pump.send(environment_pb2.EnvRunTrialInput(state=HEARTBEAT)), port.lost)
        self._liveness.owed()  # its first observations
        pump.start(self._on_message, self._on_closed)

    def _on_message(self, reply: environment_pb2.EnvRunTrialOutput) -> None:
        port = self._port
        assert port is not None
        state = reply.state
        kind = reply.WhichOneof("data")
        self._liveness.heard(kind == "observation_set" or state == LAST_ACK)  # type: ignore[union-attr]
        if state == NORMAL:
            if kind == "observation_set":
                port.observations(protobuf_records.observation_set_from_proto(reply.observation_set))
            elif kind == "reward":
                port.reward(protobuf_records.reward_from_proto(reply.reward))
            elif kind == "message":
                port.message(protobuf_records.message_from_proto(reply.message))
            elif kind == "init_output":
                log.error("Environment [%s]: repeated init data", self._address)
            elif kind == "details":
                log.info("Environment [%s]: %s", self._address, reply.details)
        elif state == LAST:
            port.last()
            if kind == "observation_set":
                port.observations(protobuf_records.observation_set_from_proto(reply.observation_set))
        elif state == LAST_ACK:
            port.last_ack()
        elif state == END:
            port.lost("the environment sent END")

    def _on_closed(self, reason: str) -> None:
        if self._liveness is not None:
            self._liveness.close()
        if self._port is not None:
            self._port.lost(reason)

    def actions(self, action_set: ActionSet, last: bool) -> None:
        if self._pump is None:
            return
        self._liveness.owed()  # type: ignore[union-attr]
        if last:
            self._pump.send(environment_pb2.EnvRunTrialInput(state=LAST))
        self._pump.send(
            environment_pb2.EnvRunTrialInput(state=NORMAL, action_set=protobuf_records.action_set_to_proto(action_set))
        )

    def message(self, message: Message) -> None:
        if self._pump is not None:
            self._pump.send(
                environment_pb2.EnvRunTrialInput(state=NORMAL, message=protobuf_records.message_to_proto(message))
            )

    def end(self, details: str | None) -> None:
        if self._liveness is not None:
            self._liveness.close()
        if self._ended or self._pump is None:
            self._ended = True
            return
        self._ended = True
        self._pump.close(_end_message(environment_pb2.EnvRunTrialInput, details))


class ActorStreamBase:
    """What service and client actor streams share once initialised (§6.3)."""

    _pump: StreamPump | CallStream | None
    _port: ActorPort | None
    _ended: bool
    #: heartbeats while it owes an answer (service actors; None for clients, which call us)
    _liveness: Liveness | None = None

    def _on_message(self, reply: common_pb2.ActorRunTrialOutput) -> None:
        port = self._port
        assert port is not None
        state = reply.state
        kind = reply.WhichOneof("data")
        if self._liveness is not None:
            self._liveness.heard(kind == "action" or state == LAST_ACK)
        if state == NORMAL:
            if kind == "action":
                port.action(protobuf_records.action_from_proto(reply.action))
            elif kind == "reward":
                port.reward(protobuf_records.reward_from_proto(reply.reward))
            elif kind == "message":
                port.message(protobuf_records.message_from_proto(reply.message))
            elif kind == "init_output":
                log.error("Actor: repeated init data")
                port.lost("repeated init data")
        elif state == LAST_ACK:
            port.last_ack()
        elif state in (LAST, END):
            log.error("Actor sent unexpected state %s", state)

    def _on_closed(self, reason: str) -> None:
        if self._liveness is not None:
            self._liveness.close()
        if self._port is not None:
            self._port.lost(reason)

    def observation(self, observation: Observation, rewards: Sequence[Reward], last: bool) -> None:
        pump = self._pump
        if pump is None:
            return
        if self._liveness is not None:
            self._liveness.owed()
        for reward in rewards:
            pump.send(common_pb2.ActorRunTrialInput(state=NORMAL, reward=protobuf_records.reward_to_proto(reward)))
        if last:
            pump.send(common_pb2.ActorRunTrialInput(state=LAST))
        pump.send(
            common_pb2.ActorRunTrialInput(state=NORMAL, observation=protobuf_records.observation_to_proto(observation))
        )

    def message(self, message: Message) -> None:
        if self._pump is not None:
            self._pump.send(
                common_pb2.ActorRunTrialInput(state=NORMAL, message=protobuf_records.message_to_proto(message))
            )

    def _close(self, details: str | None) -> None:
        self._ended = True
        if self._liveness is not None:
            self._liveness.close()
        if self._pump is not None:
            self._pump.close(_end_message(common_pb2.ActorRunTrialInput, details))


class GrpcServiceActor(ActorStreamBase):
    """``ServiceActorSP.RunTrial`` (the orchestrator is the client)."""

    def __init__(self, connections: ConnectionPool, trial_id: str, address: str) -> None:
        self._connections = connections
        self._trial_id = trial_id
        self._address = address
        self._pump = None
        self._port = None
        self._ended = False

    async def init(self, init: ActorInit, port: ActorPort) -> None:
        pump = self._pump = await open_call(
            self._connections,
            self._address,
            SERVICE_ACTOR_RUN_TRIAL,
            (("trial-id", self._trial_id),),
            f"actor {init.actor_name}@{self._address}",
            common_pb2.ActorRunTrialOutput,
        )
        first = common_pb2.ActorRunTrialInput(state=NORMAL, init_input=protobuf_records.actor_init_to_proto(init))
        try:
            await handshake(pump, pump, first, common_pb2.ActorRunTrialInput, "actor")
        except BaseException:
            self._pump = None
            raise
        self._port = port
        self._liveness = Liveness(lambda: pump.send(common_pb2.ActorRunTrialInput(state=HEARTBEAT)), port.lost)
        pump.start(self._on_message, self._on_closed)

    def end(self, details: str | None) -> None:
        if not self._ended:
            self._close(details)


class GrpcDatalog(DatalogConnection):
    """``DatalogSP.RunTrialDatalog`` (the orchestrator is the client), §10."""

    def __init__(self, connections: ConnectionPool, trial_id: str, address: str) -> None:
        self._connections = connections
        self._trial_id = trial_id
        self._address = address
        self._pump: CallStream | None = None
        self._exclude_info = False
        #: why the datalog's stream broke (it then keeps nothing more of the trial)
        self._failure: str | None = None

    async def start(self, trial_id: str, user_id: str, params: common_pb2.TrialParams) -> None:
        self._exclude_info = any(f.lower() == "info" for f in params.datalog.exclude_fields)
        pump = self._pump = CallStream(f"datalog@{self._address}", datalog_pb2.RunTrialDatalogOutput)
        await pump.open(
            self._connections, self._address, DATALOG_RUN_TRIAL, (("trial-id", trial_id), ("user-id", user_id))
        )
        pump.send(datalog_pb2.RunTrialDatalogInput(trial_params=params))
        pump.start(lambda _reply: None, self._on_closed)

    def _on_closed(self, reason: str) -> None:
        if reason != "stream ended" and self._failure is None:
            self._failure = reason
            log.warning("Datalog [%s] for trial [%s] failed: %s", self._address, self._trial_id, reason)

    def add(self, samples: Sequence[Sample]) -> None:
        if self._pump is None or self._failure is not None:
            return
        for sample in samples:
            self._pump.send(
                datalog_pb2.RunTrialDatalogInput(sample=protobuf_records.sample_to_proto(sample, self._exclude_info))
            )

    async def close(self) -> None:
        if self._pump is None:
            return
        self._pump.close()
        await self._pump.wait_closed(timeout=10.0)
        if self._failure is not None:  # the trial records it among its errors
            raise ConnectionError(f"the datalog at {self._address} failed: {self._failure}")
