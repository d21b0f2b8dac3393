"""Turn endpoint strings into engine connections: in-process when the address is served by
this process, Cogment gRPC otherwise, a client slot for ``cogment://client``."""

from __future__ import annotations

from typing import Protocol

from cogment_jupyter.engine.components import (
    ActorConnection,
    ComponentFactory,
    DatalogConnection,
    EnvironmentConnection,
)
from cogment_jupyter.engine.endpoints import EndpointKind, parse_endpoint
from cogment_jupyter.engine.errors import OrchestratorError
from cogment_jupyter.proto import common_pb2, hooks_pb2, hooks_pb2_grpc
from cogment_jupyter.transport.channels import ChannelPool
from cogment_jupyter.transport.client_actor import ClientActorSlot
from cogment_jupyter.transport.grpc_components import (
    GrpcDatalog,
    GrpcEnvironment,
    GrpcServiceActor,
)

HOOK_TIMEOUT = 30.0


class LocalServices(Protocol):
    """Services this process serves at some address, reachable without gRPC."""

    def environment(self, trial_id: str, implementation: str) -> EnvironmentConnection | None: ...

    def actor(self, trial_id: str, implementation: str) -> ActorConnection | None: ...

    def datalog(self, trial_id: str) -> DatalogConnection | None: ...


_NO_DIRECTORY = "No directory service defined to inquire discovery endpoint"


class GrpcComponentFactory(ComponentFactory):
    """The default factory. ``local`` maps ``host:port`` to services living in this process."""

    def __init__(self, local: dict[str, LocalServices] | None = None) -> None:
        self.channels = ChannelPool()
        self.local: dict[str, LocalServices] = local if local is not None else {}

    def _address(self, endpoint: str, role: str) -> str:
        parsed = parse_endpoint(endpoint, role=role)
        if parsed.kind is EndpointKind.DISCOVER:
            raise OrchestratorError(f"{_NO_DIRECTORY} [{endpoint or '(empty)'}] for the {role}")
        if parsed.kind is EndpointKind.CLIENT:
            raise OrchestratorError(f"The {role} cannot be a client ([{endpoint}]); use 'grpc://HOST:PORT'")
        return parsed.address

    def _local(self, address: str) -> LocalServices | None:
        local = self.local.get(address)
        if local is None and address.startswith("localhost:"):
            local = self.local.get("127.0.0.1:" + address.partition(":")[2])
        return local

    def environment(self, trial_id: str, endpoint: str, implementation: str = "") -> EnvironmentConnection:
        address = self._address(endpoint, "environment")
        local = self._local(address)
        if local is not None and (connection := local.environment(trial_id, implementation)) is not None:
            return connection
        return GrpcEnvironment(self.channels.get(address), trial_id, address)

    def actor(self, trial_id: str, endpoint: str, implementation: str = "") -> ActorConnection:
        parsed = parse_endpoint(endpoint, role="actor")
        if parsed.kind is EndpointKind.CLIENT:
            return ClientActorSlot(trial_id)
        if parsed.kind is EndpointKind.DISCOVER:
            raise OrchestratorError(f"{_NO_DIRECTORY} [{endpoint or '(empty)'}] for an actor")
        local = self._local(parsed.address)
        if local is not None and (connection := local.actor(trial_id, implementation)) is not None:
            return connection
        return GrpcServiceActor(self.channels.get(parsed.address), trial_id, parsed.address)

    def datalog(self, trial_id: str, endpoint: str) -> DatalogConnection:
        address = self._address(endpoint, "datalog")
        local = self._local(address)
        if local is not None and (connection := local.datalog(trial_id)) is not None:
            return connection
        return GrpcDatalog(self.channels.get(address), trial_id, address)

    async def pre_trial_hook(
        self, endpoint: str, trial_id: str, user_id: str, params: common_pb2.TrialParams
    ) -> common_pb2.TrialParams:
        address = self._address(endpoint, "prehook")
        stub = hooks_pb2_grpc.TrialHooksSPStub(self.channels.get(address))
        reply = await stub.OnPreTrial(
            hooks_pb2.PreTrialParams(params=params),
            metadata=(("trial-id", trial_id), ("user-id", user_id)),
            timeout=HOOK_TIMEOUT,
        )
        return reply.params

    async def close(self) -> None:
        await self.channels.close()
