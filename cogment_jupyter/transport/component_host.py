"""Environments and actors served by name, both in-process and as Cogment gRPC services.

One registry feeds two paths: the engine's factory reaches the objects directly (the fast
path), and official-SDK servicers registered on a gRPC server reach the very same objects
for remote orchestrators and other processes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
from cogment.agent_service import AgentServicer
from cogment.env_service import EnvironmentServicer

from cogment_jupyter.adapters import cog_settings
from cogment_jupyter.adapters.base import Actor, Environment
from cogment_jupyter.proto import agent_pb2_grpc, environment_pb2_grpc
from cogment_jupyter.transport.inprocess import InProcessServices
from cogment_jupyter.transport.sdk_bridge import actor_implementation, environment_implementation


class ComponentHost:
    def __init__(self) -> None:
        self.services = InProcessServices()
        self._sdk_environments: dict[str, SimpleNamespace] = {}
        self._sdk_actors: dict[str, SimpleNamespace] = {}
        self._environment_impl = environment_implementation(self.services.environments)
        self._actor_impl = actor_implementation(self.services.actors)

    @property
    def environments(self) -> dict[str, Environment]:
        return self.services.environments

    @property
    def actors(self) -> dict[str, Actor]:
        return self.services.actors

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Serve ``EnvironmentSP`` and ``ServiceActorSP`` for everything registered, now and later."""
        environment_pb2_grpc.add_EnvironmentSPServicer_to_server(
            EnvironmentServicer(self._sdk_environments, cog_settings, None), server
        )
        agent_pb2_grpc.add_ServiceActorSPServicer_to_server(AgentServicer(self._sdk_actors, cog_settings, None), server)

    def add_environment(self, name: str, environment: Environment) -> None:
        self.services.environments[name] = environment
        self._sdk_environments[name] = SimpleNamespace(impl=self._environment_impl, properties={})

    def add_actor(self, name: str, actor: Actor) -> None:
        self.services.actors[name] = actor
        self._sdk_actors[name] = SimpleNamespace(
            impl=self._actor_impl, actor_classes=[cog_settings.PLAYER], properties={}
        )

    def add_sdk_environment(self, name: str, implementation: Any) -> None:
        """An official-SDK session-style ``async def env(session)``: served over gRPC only."""
        self._sdk_environments[name] = SimpleNamespace(impl=implementation, properties={})

    def add_sdk_actor(self, name: str, implementation: Any, actor_classes: list[str] | None = None) -> None:
        """An official-SDK session-style ``async def actor(session)``: served over gRPC only."""
        self._sdk_actors[name] = SimpleNamespace(
            impl=implementation, actor_classes=actor_classes or [cog_settings.PLAYER], properties={}
        )

    def names(self) -> dict[str, str]:
        """Every served name and its kind (``environment``/``actor``, ``sdk`` when session style)."""
        out = {name: "sdk environment" for name in self._sdk_environments}
        out.update({name: "sdk actor" for name in self._sdk_actors})
        out.update({name: "environment" for name in self.services.environments})
        out.update({name: "actor" for name in self.services.actors})
        return out

    def remove(self, name: str) -> bool:
        found = False
        for registry in (self.services.environments, self.services.actors, self._sdk_environments, self._sdk_actors):
            found = registry.pop(name, None) is not None or found
        return found
