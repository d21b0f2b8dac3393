"""A gRPC server exposing an :class:`Orchestrator` as a Cogment orchestrator."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from cogment_jupyter.access import Reach, bind, port_of
from cogment_jupyter.channels import CHANNEL_OPTIONS
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.proto import orchestrator_pb2_grpc
from cogment_jupyter.transport.servicers import ClientActorServicer, TrialLifecycleServicer


class OrchestratorServer:
    """``TrialLifecycleSP`` and ``ClientActorSP``; on one server when the ports are equal (§1.1)."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self._servers: list[grpc.aio.Server] = []
        self.lifecycle_port = 0
        self.actor_port = 0
        #: where the lifecycle service listens (``grpc://HOST:PORT`` or a Unix socket's endpoint)
        self.endpoint = ""

    async def start(
        self,
        host: str = "127.0.0.1",
        lifecycle_port: int = 0,
        actor_port: int | None = None,
        extra_services: Callable[[grpc.aio.Server], None] | None = None,
        *,
        address: str | None = None,
    ) -> None:
        """Bind and start on TCP ``host``; port 0 picks a free port. ``actor_port=None`` shares the
        lifecycle port. ``address`` (``unix:/path`` or ``HOST:PORT``, see ``cogment_jupyter.access``)
        serves both there instead.

        ``extra_services`` adds servicers to the lifecycle server (the lab's environments and
        actors), so one address serves everything.
        """
        lifecycle = grpc.aio.server(options=CHANNEL_OPTIONS)
        if extra_services is not None:
            extra_services(lifecycle)
        orchestrator_pb2_grpc.add_TrialLifecycleSPServicer_to_server(
            TrialLifecycleServicer(self.orchestrator), lifecycle
        )
        self.endpoint = bind(lifecycle, address or Reach(host).address("orchestrator", lifecycle_port))
        self.lifecycle_port = port_of(self.endpoint)
        if address is not None or actor_port is None or (actor_port == lifecycle_port and lifecycle_port != 0):
            actors = lifecycle
            self.actor_port = self.lifecycle_port
        else:
            actors = grpc.aio.server(options=CHANNEL_OPTIONS)
            self.actor_port = port_of(bind(actors, Reach(host).address("client-actors", actor_port)))
        orchestrator_pb2_grpc.add_ClientActorSPServicer_to_server(ClientActorServicer(self.orchestrator), actors)
        self._servers = [lifecycle] if actors is lifecycle else [lifecycle, actors]
        for server in self._servers:
            await server.start()
        self.orchestrator.start()

    async def stop(self, grace: float = 1.0) -> None:
        await self.orchestrator.shutdown()
        for server in self._servers:
            await server.stop(grace)
        self._servers = []
