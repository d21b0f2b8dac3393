"""Environments and actors served by name, both in-process and as Cogment gRPC services.

One registry feeds two paths: the engine's factory reaches the objects directly (the fast
path), and our ``EnvironmentSP`` / ``ServiceActorSP`` servicers reach the very same objects
for remote orchestrators and other processes. Official-SDK session functions are served on
the same servicers, by the SDK (which they need anyway).
"""

from __future__ import annotations

from typing import Any

import grpc

from cogment_jupyter.access import bind
from cogment_jupyter.adapters.base import Actor, Environment
from cogment_jupyter.adapters.wire import PLAYER
from cogment_jupyter.channels import CHANNEL_OPTIONS
from cogment_jupyter.proto import agent_pb2_grpc, environment_pb2_grpc
from cogment_jupyter.transport.component_servicers import EnvironmentServicer, ServiceActorServicer
from cogment_jupyter.transport.inprocess import InProcessServices
from cogment_jupyter.transport.sdk_bridge import SdkSessions


class ComponentHost:
    def __init__(self) -> None:
        self.services = InProcessServices()
        self.sdk = SdkSessions()

    @property
    def environments(self) -> dict[str, Environment]:
        return self.services.environments

    @property
    def actors(self) -> dict[str, Actor]:
        return self.services.actors

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Serve ``EnvironmentSP`` and ``ServiceActorSP`` for everything registered, now and later."""
        environment_pb2_grpc.add_EnvironmentSPServicer_to_server(
            EnvironmentServicer(self.services.environments, self.sdk), server
        )
        agent_pb2_grpc.add_ServiceActorSPServicer_to_server(
            ServiceActorServicer(self.services.actors, self.sdk), server
        )

    async def start_server(self, address: str) -> tuple[grpc.aio.Server, str]:
        """A gRPC server of its own serving everything registered, started at ``address``
        (``HOST:PORT``, port 0 a free one, or ``unix:/path``: see ``cogment_jupyter.access``);
        returns it and its endpoint. OSError naming the address if it cannot bind."""
        server = grpc.aio.server(options=CHANNEL_OPTIONS)
        self.add_to_server(server)
        endpoint = bind(server, address)
        await server.start()
        return server, endpoint

    @classmethod
    def serving(cls, kind: str, name: str, component: Any) -> ComponentHost:
        """A host of one ``environment`` or ``actor`` (a ``process=True`` service, ``cogment-jupyter serve``)."""
        host = cls()
        if kind == "environment":
            host.add_environment(name, component)
        else:
            host.add_actor(name, component)
        return host

    def add_environment(self, name: str, environment: Environment) -> None:
        self.services.environments[name] = environment

    def add_actor(self, name: str, actor: Actor) -> None:
        self.services.actors[name] = actor

    def add_sdk_environment(self, name: str, implementation: Any) -> None:
        """An official-SDK session-style ``async def env(session)``: served over gRPC only."""
        self.sdk.add_environment(name, implementation)

    def add_sdk_actor(self, name: str, implementation: Any, actor_classes: list[str] | None = None) -> None:
        """An official-SDK session-style ``async def actor(session)``: served over gRPC only."""
        self.sdk.add_actor(name, implementation, actor_classes or [PLAYER])

    def names(self) -> dict[str, str]:
        """Every served name and its kind (``environment``/``actor``, ``sdk`` when session style)."""
        out = {name: "sdk environment" for name in self.sdk.environments}
        out.update({name: "sdk actor" for name in self.sdk.actors})
        out.update({name: "environment" for name in self.services.environments})
        out.update({name: "actor" for name in self.services.actors})
        return out

    def remove(self, name: str) -> bool:
        found = False
        for registry in (self.services.environments, self.services.actors, self.sdk.environments, self.sdk.actors):
            found = registry.pop(name, None) is not None or found
        return found
