"""What a lab serves, by name: each service's kind, where it runs and how a trial reaches it.

The lab serves (``ComponentHost`` for this kernel, ``processes`` for ``process=True``) and
records each service here; trials look their environment and actors up here, by kind.
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass
from typing import Any

from cogment_jupyter.access import describe
from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.lab.processes import ServiceProcess
from cogment_jupyter.lab.protocols import COGMENT


class ServiceKind(enum.Enum):
    """What a trial uses a service as."""

    ENVIRONMENT = "environment"
    ACTOR = "actor"


class Placement(enum.Enum):
    """Where a service runs."""

    #: a Python object in this kernel, called in-process
    IN_PROCESS = "in-process"
    #: an official-SDK session function in this kernel, called over gRPC
    SDK = "this kernel, gRPC"
    #: its own process, started by the lab (``process=True``)
    PROCESS = "process"
    #: served elsewhere (``serve_remote``)
    REMOTE = "remote"


@dataclass(frozen=True)
class Service:
    """One served name."""

    name: str
    kind: ServiceKind
    placement: Placement
    #: the Cogment endpoint trials call it at, and the implementation name they ask for
    endpoint: str
    implementation: str
    #: environments: what trials build their codec from (the object, a local copy, or the agents)
    template: Any = None
    #: environments known only by their agents' spaces (SDK and remote ones)
    agents: dict[str, AgentSpec] | None = None
    process: ServiceProcess | None = None
    #: the wire format the service speaks (``lab.protocols``: ours, or Cogment Lab's)
    protocol: str = COGMENT

    @property
    def specs(self) -> dict[str, AgentSpec]:
        """An environment's agents and their spaces."""
        if self.agents is not None:
            return self.agents
        return self.template.agent_specs

    def describe(self) -> str:
        """How ``lab.services`` shows it."""
        kind = self.kind.value
        if self.placement is Placement.IN_PROCESS:
            return f"{kind} (in-process)"
        if self.placement is Placement.SDK:
            return f"sdk {kind} (this kernel, gRPC)"
        if self.placement is Placement.PROCESS:
            assert self.process is not None
            return f"{kind} (process {self.process.process.pid}, {describe(self.endpoint)})"
        where = f"remote {self.endpoint} [{self.implementation}]"
        if self.protocol != COGMENT:
            where += f", {self.protocol}"
        return f"environment ({where})" if self.kind is ServiceKind.ENVIRONMENT else where


class ServiceRegistry:
    """The services of one lab, by name (a name serves one thing at a time)."""

    def __init__(self) -> None:
        self._services: dict[str, Service] = {}

    def add(self, service: Service) -> None:
        self._services[service.name] = service

    def remove(self, name: str) -> Service | None:
        return self._services.pop(name, None)

    def get(self, name: str) -> Service | None:
        return self._services.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._services

    def names(self) -> list[str]:
        return list(self._services)

    def all(self) -> list[Service]:
        return list(self._services.values())

    def described(self) -> dict[str, str]:
        return {name: service.describe() for name, service in self._services.items()}

    def speaking(self, protocol: str) -> set[str]:
        """The names of the services that speak ``protocol``."""
        return {name for name, service in self._services.items() if service.protocol == protocol}

    def of_kind(self, kind: ServiceKind) -> list[str]:
        return [name for name, service in self._services.items() if service.kind is kind]

    def find(self, name: str, kind: ServiceKind) -> Service:
        """The service of that kind named ``name``; the error names the closest ones."""
        service = self._services.get(name)
        if service is not None and service.kind is kind:
            return service
        known = self.of_kind(kind)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        how = "lab.serve_env" if kind is ServiceKind.ENVIRONMENT else "lab.serve_actor"
        raise KeyError(f"no {kind.value} named {name!r} is served (serve it with {how}){hint} Served: {known}")
