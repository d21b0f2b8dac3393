"""Turn endpoint strings into engine connections: in-process when the address is served by
this process, Cogment gRPC otherwise, a client slot for ``cogment://client``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from cogment_jupyter.channels import ChannelPool
from cogment_jupyter.engine.components import (
    ActorConnection,
    ComponentFactory,
    DatalogConnection,
    EnvironmentConnection,
)
from cogment_jupyter.engine.endpoints import EndpointKind, ParsedEndpoint, parse_endpoint
from cogment_jupyter.engine.errors import OrchestratorError
from cogment_jupyter.proto import common_pb2, hooks_pb2, hooks_pb2_grpc
from cogment_jupyter.transport.client_actor import ClientActorSlot
from cogment_jupyter.transport.grpc_components import (
    GrpcDatalog,
    GrpcEnvironment,
    GrpcServiceActor,
)
from cogment_jupyter.transport.http2 import ConnectionPool

if TYPE_CHECKING:
    from cogment_jupyter.directory.client import DirectoryClient

HOOK_TIMEOUT = 30.0


class LocalServices(Protocol):
    """Services this process serves at some address, reachable without gRPC."""

    def environment(self, trial_id: str, implementation: str) -> EnvironmentConnection | None: ...

    def actor(self, trial_id: str, implementation: str) -> ActorConnection | None: ...

    def datalog(self, trial_id: str) -> DatalogConnection | None: ...


class GrpcComponentFactory(ComponentFactory):
    """The default factory. ``local`` maps ``host:port`` to services living in this process;
    ``directory`` resolves discovery endpoints (``cogment://discover/…``)."""

    def __init__(self, local: dict[str, LocalServices] | None = None, directory: DirectoryClient | None = None) -> None:
        #: grpc.aio channels: unary calls (pre-trial hooks) and the lab's clients
        self.channels = ChannelPool()
        #: the component streams of trials (see ``transport.http2``)
        self.connections = ConnectionPool()
        self.local: dict[str, LocalServices] = local if local is not None else {}
        self.directory = directory

    async def discover(
        self, endpoint: ParsedEndpoint, role: str, actor_class: str = "", implementation: str = ""
    ) -> str:
        if self.directory is None:
            return await super().discover(endpoint, role, actor_class, implementation)
        from cogment_jupyter.directory.client import DirectoryError
        from cogment_jupyter.directory.inquiry import address_of, describe, inquiry_for

        inquiry = inquiry_for(endpoint, role, actor_class, implementation)
        where = self.directory.endpoint
        try:
            found = await self.directory.inquire(inquiry.request, inquiry.token, first=True)
        except DirectoryError as error:
            raise OrchestratorError(f"Failed to inquire from directory [{where}]: [{error}]") from None
        if not found:
            raise OrchestratorError(
                f"No service found in directory [{where}] for [{endpoint.original}] (asked for {describe(inquiry)})"
            )
        return address_of(found[0], endpoint.original, where)

    def _address(self, endpoint: str, role: str) -> str:
        parsed = parse_endpoint(endpoint, role=role)
        if parsed.kind is EndpointKind.DISCOVER:  # the orchestrator resolves these before connecting
            raise OrchestratorError(f"Unresolved discovery endpoint [{endpoint}] for the {role}")
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
        return GrpcEnvironment(self.connections, trial_id, address)

    def actor(self, trial_id: str, endpoint: str, implementation: str = "") -> ActorConnection:
        parsed = parse_endpoint(endpoint, role="actor")
        if parsed.kind is EndpointKind.CLIENT:
            return ClientActorSlot(trial_id)
        if parsed.kind is EndpointKind.DISCOVER:
            raise OrchestratorError(f"Unresolved discovery endpoint [{endpoint}] for an actor")
        local = self._local(parsed.address)
        if local is not None and (connection := local.actor(trial_id, implementation)) is not None:
            return connection
        return GrpcServiceActor(self.connections, trial_id, parsed.address)

    def datalog(self, trial_id: str, endpoint: str) -> DatalogConnection:
        address = self._address(endpoint, "datalog")
        local = self._local(address)
        if local is not None and (connection := local.datalog(trial_id)) is not None:
            return connection
        return GrpcDatalog(self.connections, trial_id, address)

    def makers(
        self, environment: tuple[str, str], actor: tuple[str, str], datalog: str
    ) -> tuple[
        Callable[[str], EnvironmentConnection], Callable[[str], ActorConnection], Callable[[str], DatalogConnection]
    ]:
        """:meth:`ComponentFactory.makers`: components served in this process (the most
        common case: a lab's own) are found once, not once a trial."""
        environment_endpoint, environment_implementation = environment
        actor_endpoint, actor_implementation = actor
        make_environment, make_actor, make_datalog = super().makers(environment, actor, datalog)
        try:
            environment_local = self._local(self._address(environment_endpoint, "environment"))
            actor_parsed = parse_endpoint(actor_endpoint, role="actor")
            actor_local = self._local(actor_parsed.address) if actor_parsed.kind is EndpointKind.GRPC else None
            datalog_local = self._local(self._address(datalog, "datalog")) if datalog else None
        except (OrchestratorError, ValueError):  # (each trial's connection then fails as it would)
            return make_environment, make_actor, make_datalog
        return (
            _local_first(environment_local, "environment", environment_implementation, make_environment),
            _local_first(actor_local, "actor", actor_implementation, make_actor),
            _local_first(datalog_local, "datalog", None, make_datalog),
        )

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
        self.connections.close()
        await self.channels.close()
        if self.directory is not None:
            await self.directory.close()


def _local_first(
    local: LocalServices | None, role: str, implementation: str | None, otherwise: Callable[[str], Any]
) -> Callable[[str], Any]:
    """A maker of ``role`` connections: ``local``'s (asked each trial, for it may not serve the
    implementation any more), else ``otherwise``'s."""
    if local is None:
        return otherwise
    make = getattr(local, role)
    if implementation is None:  # (a datalog)

        def made(trial_id: str) -> Any:
            connection = make(trial_id)
            return connection if connection is not None else otherwise(trial_id)

        return made

    def made_with(trial_id: str) -> Any:
        connection = make(trial_id, implementation)
        return connection if connection is not None else otherwise(trial_id)

    return made_with
