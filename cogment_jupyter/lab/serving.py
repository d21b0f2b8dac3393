"""Serving a lab's environments and actors: in this kernel (Python objects, or official-SDK
session functions over gRPC), each in its own process, or named where they are served
elsewhere. Each is recorded in the lab's ``ServiceRegistry`` and, with a directory, there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.engine.endpoints import EndpointKind, parse_endpoint
from cogment_jupyter.lab.logs import LabLogs
from cogment_jupyter.lab.processes import start_service_process
from cogment_jupyter.lab.protocols import COGMENT, remote_agents
from cogment_jupyter.lab.services import Placement, Service, ServiceKind, ServiceRegistry

if TYPE_CHECKING:
    from cogment_jupyter.lab.loop_thread import LoopThread
    from cogment_jupyter.lab.models import Models
    from cogment_jupyter.lab.servers import LabServers

#: How long ``serve_remote`` waits for a gRPC service to say whether it serves environments.
REMOTE_DESCRIBE_TIMEOUT = 5.0


class LabServices:
    """Serves and stops a lab's environments and actors, by name."""

    def __init__(
        self,
        registry: ServiceRegistry,
        loop_thread: Callable[[], LoopThread],
        servers: LabServers,
        logs: LabLogs | None,
        models: Callable[[], Models],
    ) -> None:
        """``servers``: the lab's, where its ``components`` are served in this kernel, its
        channels and its directory entries; ``models``: the lab's model registry (bound to
        actors that load a model)."""
        self.registry = registry
        self._loop_thread = loop_thread
        self._components = servers.components
        self._endpoint = servers.endpoint
        self._reach = servers.settings.reach
        self._channels = servers.channels
        self._entries = servers.entries
        self._logs = logs
        self._models = models

    def serve(self, name: str, kind: ServiceKind, component: Any, process: bool, replace: bool) -> None:
        """Serve an environment or actor object in this kernel, or in its own process."""
        loop_thread = self._loop_thread()
        self._check_name(name, replace)
        if hasattr(component, "bind_registry") and getattr(component, "model", None) and component.registry is None:
            models = self._models()  # (raises when the lab has no registry)
            spool = models.client.spool_dir
            component.bind_registry(models.endpoint, str(spool) if spool is not None else None)
        environment = kind is ServiceKind.ENVIRONMENT
        template = component if environment else None
        if process:
            log_file = self._logs.service_file(kind.value, name) if self._logs is not None else None
            started = start_service_process(name, kind.value, component, self._reach, log_file)
            service = Service(name, kind, Placement.PROCESS, started.endpoint, name, template, process=started)
        else:
            add = self._components.add_environment if environment else self._components.add_actor
            loop_thread.run(_call_async(add, name, component))
            service = Service(name, kind, Placement.IN_PROCESS, self._endpoint, name, template)
        self._add(service)

    def serve_sdk(
        self, name: str, kind: ServiceKind, implementation: Callable[[Any], Any], agents: Mapping[str, AgentSpec] | None
    ) -> None:
        """Serve an official-SDK session function in this kernel (an environment's ``agents`` given)."""
        loop_thread = self._loop_thread()
        self._check_name(name, replace=True)
        environment = kind is ServiceKind.ENVIRONMENT
        add = self._components.add_sdk_environment if environment else self._components.add_sdk_actor
        loop_thread.run(_call_async(add, name, implementation))
        specs = dict(agents) if environment and agents is not None else None
        self._add(Service(name, kind, Placement.SDK, self._endpoint, name, template=specs, agents=specs))

    def _add(self, service: Service) -> None:
        self.registry.add(service)
        if self._entries is not None:
            self._loop_thread().run(self._entries.add_service(service.name, service.kind, service.endpoint))

    def serve_remote(self, name: str, endpoint: str, implementation: str, protocol: str, agents: Any) -> None:
        """Name a service served elsewhere; an environment when it says so or ``agents`` are given."""
        parsed = parse_endpoint(endpoint, role="actor")
        if parsed.kind is EndpointKind.CLIENT:
            raise ValueError(
                f"serve_remote() needs a 'grpc://HOST:PORT' or 'cogment://discover/…' endpoint, got {endpoint!r}"
            )
        if parsed.kind is EndpointKind.DISCOVER and self._entries is None:
            raise ValueError(
                f"{endpoint!r} is found through a directory, and this lab has none: "
                "Lab(directory='grpc://HOST:PORT') or set COGMENT_DIRECTORY_ENDPOINT"
            )
        specs = remote_agents(agents, protocol) if agents is not None else None
        self._check_name(name, replace=True)
        if not implementation:  # what the service is asked to run: its name in the query, else ours
            named = [value for key, value in parsed.query if key == "__implementation"]
            implementation = named[0] if named else "" if parsed.path else name
        if specs is None and parsed.kind is EndpointKind.GRPC and protocol == COGMENT:
            environments = self._loop_thread().run(self._describe_remote(parsed.address))
            if environments is not None and implementation in environments:
                specs = environments[implementation]
        kind = ServiceKind.ACTOR if specs is None else ServiceKind.ENVIRONMENT
        self.registry.add(
            Service(
                name, kind, Placement.REMOTE, endpoint, implementation, template=specs, agents=specs, protocol=protocol
            )
        )

    async def _describe_remote(self, address: str) -> dict[str, dict[str, AgentSpec]] | None:
        from cogment_jupyter.transport.service_description import served_environments

        return await served_environments(self._channels.get(address), REMOTE_DESCRIBE_TIMEOUT)

    def _check_name(self, name: str, replace: bool) -> None:
        if not name or not isinstance(name, str):
            raise ValueError("a service needs a non-empty name")
        if name in self.registry and not replace:
            raise ValueError(f"a service named {name!r} already exists: stop_service({name!r}) first, or replace=True")
        if name in self.registry:
            self.stop(name)

    def get(self, name: str) -> Service:
        """The service named ``name``; the error lists the served ones."""
        service = self.registry.get(name)
        if service is None:
            raise KeyError(f"no service named {name!r}; served: {sorted(self.registry.names())}")
        return service

    def stop(self, name: str) -> None:
        """Stop serving ``name`` (trials already running keep their instance)."""
        loop_thread = self._loop_thread()
        if self._entries is not None:
            loop_thread.run(self._entries.remove(name))
        service = self.get(name)
        self.registry.remove(name)
        if service.process is not None:
            service.process.stop()
        elif service.placement is not Placement.REMOTE:
            loop_thread.run(_call_async(self._components.remove, name))

    def stop_processes(self) -> None:
        """Stop the services running in their own process (the lab is closing)."""
        for service in self.registry.all():
            if service.process is not None:
                service.process.stop()
                self.registry.remove(service.name)

    def log_files(self) -> dict[str, Path]:
        """The log file of each service in its own process, by name."""
        processes = [service.process for service in self.registry.all() if service.process is not None]
        return {process.name: process.log_file for process in processes if process.log_file is not None}

    def processes(self) -> dict[str, int]:
        """The pid of every service running in its own process, by name."""
        return {s.name: s.process.process.pid for s in self.registry.all() if s.process is not None}

    def teacher_environment(self, env: str, template: Any, agent: str | None, teacher: str) -> str:
        """The name ``env`` (served as ``template`` in this kernel) is served under wrapped in a
        :class:`Teacher` (served on first use)."""
        from cogment_jupyter.adapters.conversions import Teacher

        if isinstance(template, Teacher):
            return env
        served = self.registry.get(env)
        if served is None or served.placement is not Placement.IN_PROCESS:
            raise ValueError(f"lab.teach needs an environment served in this kernel; {env!r} is served elsewhere")
        wrapped = f"{env}+{teacher}"
        if wrapped not in self.registry:
            self.serve(wrapped, ServiceKind.ENVIRONMENT, Teacher(template, agent=agent, teacher=teacher), False, True)
        return wrapped


async def _call_async(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)
