"""What a lab tells its directory: its orchestrator, datastore and model registry, and each
environment and actor it serves, so that ``cogment://discover/...`` endpoints find them."""

from __future__ import annotations

from collections.abc import Mapping

from cogment_jupyter.access import LOOPBACK, Reach, port_of
from cogment_jupyter.adapters.wire import PLAYER
from cogment_jupyter.directory.client import DirectoryClient, Registrations
from cogment_jupyter.lab.services import ServiceKind
from cogment_jupyter.proto import directory_pb2

#: the entry key of what the lab itself serves (its environments and actors go by their names)
LAB_KEY = "lab"


class DirectoryEntries:
    """A lab's entries in one directory, removed when the lab stops."""

    def __init__(self, directory: DirectoryClient, reach: Reach) -> None:
        self._registrations = Registrations(directory)
        self._reach = reach

    async def add(self, key: str, service_type: int, endpoint: str, properties: Mapping[str, str] = {}) -> None:
        """Register ``endpoint`` (reached at this lab's host) as a service of ``service_type`` under ``key``."""
        from cogment_jupyter import __version__
        from cogment_jupyter.directory.registration import registration_host

        tags = {"__registration_source": "cogment_jupyter.Lab", "__version": __version__, **properties}
        host = registration_host(self._reach.host or LOOPBACK, None)
        await self._registrations.add(key, service_type, host, port_of(endpoint), tags)

    async def add_lab(self, orchestrator: str | None, datastore: str | None) -> None:
        """What this lab serves besides its environments and actors (endpoints it does not serve: None)."""
        d = directory_pb2
        if orchestrator is not None:
            await self.add(LAB_KEY, d.TRIAL_LIFE_CYCLE_SERVICE, orchestrator)
            await self.add(LAB_KEY, d.CLIENT_ACTOR_CONNECTION_SERVICE, orchestrator)
        if datastore is not None:
            await self.add(LAB_KEY, d.DATALOG_SERVICE, datastore)
            await self.add(LAB_KEY, d.DATASTORE_SERVICE, datastore)

    async def add_service(self, name: str, kind: ServiceKind, endpoint: str) -> None:
        """A served environment or actor, found by ``cogment://discover/<kind>?__implementation=<name>``."""
        await self._registrations.remove(name)
        if kind is ServiceKind.ENVIRONMENT:
            await self.add(name, directory_pb2.ENVIRONMENT_SERVICE, endpoint, {"__implementation": name})
        else:
            properties = {"__implementation": name, "__actor_class": PLAYER}
            await self.add(name, directory_pb2.ACTOR_SERVICE, endpoint, properties)

    async def remove(self, name: str) -> None:
        await self._registrations.remove(name)

    async def remove_all(self) -> None:
        await self._registrations.remove_all()
