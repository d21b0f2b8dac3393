"""``EnvironmentSP`` and ``ServiceActorSP`` served from our own environments and actors (§5, §6.1).

Any Cogment orchestrator (ours in another process, the upstream binary) reaches the lab's
components through these servicers, on stubs generated into :mod:`cogment_jupyter.proto`;
the official SDK is not involved. An implementation name registered as an official-SDK
session function (``lab.serve_sdk_env``) is handed, stream and all, to the SDK's servicer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import grpc

from cogment_jupyter.adapters.base import Actor, Environment
from cogment_jupyter.engine.components import InitError
from cogment_jupyter.engine.records import ActorInit, EnvInit
from cogment_jupyter.engine.service_status import status_reply, version_info
from cogment_jupyter.proto import agent_pb2_grpc, common_pb2, environment_pb2, environment_pb2_grpc
from cogment_jupyter.transport import protobuf_records
from cogment_jupyter.transport.component_streams import ActorStream, EnvironmentStream
from cogment_jupyter.transport.inprocess import InProcessActor, InProcessEnvironment
from cogment_jupyter.transport.sdk_bridge import SdkSessions
from cogment_jupyter.transport.service_description import ENVIRONMENTS, describe
from cogment_jupyter.transport.streams import END, HEARTBEAT, LAST, LAST_ACK, NORMAL, StreamPump

#: How long a stream may wait for its ``init_input`` (the SDK's limit too).
INIT_TIMEOUT = 30.0


def _trial_id(context: grpc.aio.ServicerContext) -> str:
    return dict(context.invocation_metadata() or ()).get("trial-id", "")


async def _read_init(pump: StreamPump, output: type) -> Any:
    """The first ``NORMAL`` message (its ``init_input``), answering heartbeats; None if the
    trial ends first (``LAST`` is acknowledged, then ``END`` awaited, as the SDK does)."""
    ending = False
    while True:
        message = await pump.read()
        if message is None or message.state == END:
            return None
        if message.state == HEARTBEAT:
            await pump.write_now(output(state=HEARTBEAT))
        elif message.state == LAST and not ending:
            ending = True
            await pump.write_now(output(state=LAST_ACK))
        elif message.state == NORMAL and message.HasField("init_input") and not ending:
            return message
        else:
            raise InitError(f"unexpected message before init: state {message.state}, {message.WhichOneof('data')}")


def _served_by_sdk(implementation: str, ours: Mapping[str, Any], sdk: Mapping[str, Any]) -> bool:
    """Whether an implementation name is an SDK session function (empty: ours first, as listed)."""
    if implementation:
        return implementation in sdk and implementation not in ours
    return not ours and bool(sdk)


class _Replaying:
    """A servicer context whose first ``read()`` returns a message already read."""

    def __init__(self, context: grpc.aio.ServicerContext, first: Any) -> None:
        self._context = context
        self._first = first

    async def read(self) -> Any:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return await self._context.read()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


async def _handshake(context: grpc.aio.ServicerContext, pump: StreamPump, output: type, role: str) -> Any:
    try:
        return await asyncio.wait_for(_read_init(pump, output), INIT_TIMEOUT)
    except TimeoutError:
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"no init data for the {role} in {INIT_TIMEOUT:.0f} s")
    except (InitError, ConnectionError) as error:
        await context.abort(grpc.StatusCode.UNKNOWN, f"{role}: {error}")


class _ComponentServicer:
    """``RunTrial`` of one kind of component: each stream runs a fork of the registered object
    its ``impl_name`` names, or goes to the SDK's servicer when that name is a session function."""

    role: ClassVar[str]
    output: ClassVar[type]
    stream_type: ClassVar[type[EnvironmentStream] | type[ActorStream]]
    connection_type: ClassVar[type[InProcessEnvironment] | type[InProcessActor]]

    def __init__(self, registry: Mapping[str, Any], sdk: Mapping[str, Any], sdk_servicer: Callable[[], Any]) -> None:
        self._registry = registry
        self._sdk = sdk
        self._sdk_servicer = sdk_servicer

    @staticmethod
    def _init(first: Any) -> Any:
        raise NotImplementedError

    async def RunTrial(self, request_iterator, context):
        trial_id = _trial_id(context)
        pump = StreamPump(f"{self.role} for trial {trial_id}", context.read, context.write, None)
        first = await _handshake(context, pump, self.output, self.role)
        if first is None:
            return
        init, name = self._init(first.init_input)
        if _served_by_sdk(init.impl_name, self._registry, self._sdk):
            await self._sdk_servicer().RunTrial(request_iterator, _Replaying(context, first))
            return
        stream = self.stream_type(pump)
        connection = self.connection_type(self._registry, trial_id)
        try:
            await connection.init(init, stream)
        except InitError as error:
            await context.abort(grpc.StatusCode.UNKNOWN, f"{self.role} [{name}]: {error}")
        stream.initialised()
        try:
            await stream.run(connection)
        finally:
            pump.cancel()
        if stream.failure is not None:
            await context.abort(grpc.StatusCode.UNKNOWN, f"{self.role} [{name}] failed: {stream.failure}")

    async def Version(self, request, context):
        return version_info()


class EnvironmentServicer(_ComponentServicer, environment_pb2_grpc.EnvironmentSPServicer):
    """``EnvironmentSP``; its ``Status`` also describes the environments (agents and spaces)."""

    role = "environment"
    output = environment_pb2.EnvRunTrialOutput
    stream_type = EnvironmentStream
    connection_type = InProcessEnvironment

    def __init__(self, environments: Mapping[str, Environment], sdk: SdkSessions) -> None:
        super().__init__(environments, sdk.environments, sdk.environment_servicer)

    @staticmethod
    def _init(first: environment_pb2.EnvInitialInput) -> tuple[EnvInit, str]:
        init = protobuf_records.env_init_from_proto(first)
        return init, init.name

    async def Status(self, request, context):
        return status_reply(request, {ENVIRONMENTS: lambda: describe(self._registry)})


class ServiceActorServicer(_ComponentServicer, agent_pb2_grpc.ServiceActorSPServicer):
    """``ServiceActorSP``."""

    role = "actor"
    output = common_pb2.ActorRunTrialOutput
    stream_type = ActorStream
    connection_type = InProcessActor

    def __init__(self, actors: Mapping[str, Actor], sdk: SdkSessions) -> None:
        super().__init__(actors, sdk.actors, sdk.actor_servicer)

    @staticmethod
    def _init(first: common_pb2.ActorInitialInput) -> tuple[ActorInit, str]:
        init = protobuf_records.actor_init_from_proto(first)
        return init, init.actor_name

    async def Status(self, request, context):
        return status_reply(request)
