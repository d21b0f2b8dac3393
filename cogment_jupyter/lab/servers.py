"""The servers a lab runs on its loop, and its connections: the datastore and the datalog served
from it, the orchestrator (or, attached to another one, the server of the lab's environments and
actors), the connection to another orchestrator (attached or shared), the model registry (on
first use), the entries in a directory. Started together, stopped together."""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from cogment_jupyter.access import Reach, bind, target
from cogment_jupyter.adapters.trial_codec import TrialCodec
from cogment_jupyter.directory.client import DirectoryClient
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.lab.directory_entries import LAB_KEY, DirectoryEntries
from cogment_jupyter.lab.remote import RemoteTrials
from cogment_jupyter.proto import common_pb2
from cogment_jupyter.transport.component_host import ComponentHost
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.inprocess import InProcessServices
from cogment_jupyter.transport.server import OrchestratorServer

if TYPE_CHECKING:
    from cogment_jupyter.channels import ChannelPool
    from cogment_jupyter.datastore import Datastore
    from cogment_jupyter.lab.loop_thread import LoopThread
    from cogment_jupyter.lab.models import Models

#: how long the other orchestrator may take to answer its first call (seconds)
CONNECT_TIMEOUT = 10.0
#: the environment variable giving ``Lab(fused_ticks=...)`` its default ("0": off)
FUSED_TICKS_VARIABLE = "COGMENT_JUPYTER_FUSED_TICKS"


def fused_ticks_default() -> bool:
    """Whether labs run in-process trials on the fused loop unless told (``FUSED_TICKS_VARIABLE``)."""
    return os.environ.get(FUSED_TICKS_VARIABLE, "1").strip() != "0"


@dataclass(frozen=True)
class ServerSettings:
    """What a lab's servers are started with (``Lab``'s arguments)."""

    reach: Reach
    datastore_path: Path | None
    #: the orchestrator to attach to (the lab then runs none), or the shared runtime's
    remote_orchestrator: str | None
    shared_orchestrator: str | None
    directory: str | None
    directory_token: str | None
    fused_ticks: bool
    #: a model registry to use instead of the lab's own
    model_registry: str | None


class LabServers:
    """A lab's servers and connections, on its loop."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        #: the environments and actors served in this kernel
        self.components = ComponentHost()
        self.datastore: Datastore | None = None
        #: the lab's own orchestrator (None when attached to another)
        self.orchestrator: Orchestrator | None = None
        #: the other orchestrator (attached or shared mode)
        self.remote: RemoteTrials | None = None
        #: where the lab's environments and actors are served (and its orchestrator, when it has one)
        self.endpoint = ""
        self.datastore_endpoint: str | None = None
        self.entries: DirectoryEntries | None = None
        self.models: Models | None = None
        self._factory: GrpcComponentFactory | None = None
        self._datastore_server: Any = None
        self._server: OrchestratorServer | None = None
        self._services_server: grpc.aio.Server | None = None
        self._registry_server: Any = None
        self._loop_thread: LoopThread | None = None
        self._models_lock = threading.Lock()

    @property
    def channels(self) -> ChannelPool:
        """The lab's gRPC channels, by address."""
        assert self._factory is not None
        return self._factory.channels

    async def start(self) -> None:
        settings, reach = self.settings, self.settings.reach
        if settings.datastore_path is not None:  # the datastore (and Arrow) load only for a lab that records
            from cogment_jupyter.datastore import Datastore

            self.datastore = Datastore(settings.datastore_path, decoders=[TrialCodec.from_params])
            self._datastore_server = await self.datastore.serve(address=reach.address("datastore"))
            self.datastore_endpoint = self._datastore_server.endpoint
        directory = DirectoryClient(settings.directory, settings.directory_token) if settings.directory else None
        factory = self._factory = GrpcComponentFactory(directory=directory)
        if settings.remote_orchestrator is None:
            self.orchestrator = Orchestrator(factory, fused_ticks=settings.fused_ticks)
            server = self._server = OrchestratorServer(self.orchestrator)
            await server.start(extra_services=self.components.add_to_server, address=reach.address("lab"))
            self.endpoint = server.endpoint
            if settings.shared_orchestrator is not None:
                await self._connect(settings.shared_orchestrator)
        else:
            services_server = self._services_server = grpc.aio.server()
            self.components.add_to_server(services_server)
            self.endpoint = bind(services_server, reach.address("services"))
            await services_server.start()
            await self._connect(settings.remote_orchestrator)
        factory.local[target(self.endpoint)] = self.components.services
        if self.datastore is not None and self.datastore_endpoint is not None:
            store = self.datastore
            datalog_services = InProcessServices(datalog_factory=lambda _trial_id: store.datalog())
            factory.local[target(self.datastore_endpoint)] = datalog_services
        if directory is not None:
            entries = self.entries = DirectoryEntries(directory, reach)
            orchestrator = self.endpoint if self.orchestrator is not None else None
            await entries.add_lab(orchestrator, self.datastore_endpoint)

    async def _connect(self, endpoint: str) -> None:
        store = self.datastore.store if self.datastore is not None else None
        remote = self.remote = RemoteTrials(grpc.aio.insecure_channel(target(endpoint)), endpoint, self.channels, store)
        await asyncio.wait_for(remote.lifecycle.Version(common_pb2.VersionRequest()), CONNECT_TIMEOUT)

    def open_models(self, loop_thread: LoopThread) -> Models | None:
        """The registry ``lab.models`` uses, started on first use (from any thread but the loop's)."""
        with self._models_lock:
            if self.models is None:
                loop_thread.run(self.start_models(loop_thread))
        return self.models

    @property
    def model_registry_endpoint(self) -> str | None:
        """Where ``lab.models`` publishes, or will (None: it has no registry)."""
        if self.models is not None:
            return self.models.endpoint
        if self.settings.model_registry:
            return self.settings.model_registry
        return "(this lab's own, started on first use of lab.models)" if self.datastore is not None else None

    async def start_models(self, loop_thread: LoopThread) -> Models | None:
        """The registry ``lab.models`` uses: the one given, or the lab's own beside its datastore
        (started on first use: a lab that never touches models pays nothing for it); None
        without either."""
        from cogment_jupyter.lab.models import Models
        from cogment_jupyter.model_registry.client import RegistryClient

        spool = None
        endpoint = self.settings.model_registry
        if self.datastore is not None:
            spool = self.datastore.file.parent / ".spool"
            if endpoint is None:
                from cogment_jupyter.model_registry.service import ModelRegistryServer
                from cogment_jupyter.proto import directory_pb2

                archive = self.datastore.file.parent / "model_registry"
                address = self.settings.reach.address("model-registry")
                server = ModelRegistryServer(archive, address=address, drop_transient=False)
                await server.start()
                self._registry_server = server
                endpoint = server.endpoint
                if self.entries is not None:
                    await self.entries.add(LAB_KEY, directory_pb2.MODEL_REGISTRY_SERVICE, endpoint)
        if endpoint is None:
            return None
        self._loop_thread = loop_thread
        self.models = Models(loop_thread, RegistryClient(endpoint, spool))
        return self.models

    async def stop(self) -> None:
        """Stop whatever started (a start that failed half way too): the directory's entries first."""
        if self.entries is not None:
            await self.entries.remove_all()
        if self.models is not None and self._loop_thread is not None:
            from cogment_jupyter.model_registry.follow import LatestModel

            LatestModel.stop_following(self._loop_thread.loop)
            await self.models.client.close()
        if self._registry_server is not None:
            await self._registry_server.stop(0.5)
        if self._server is not None:
            await self._server.stop(grace=0.5)
        if self._services_server is not None:
            await self._services_server.stop(0.5)
        if self.remote is not None:
            await self.remote.close()
            await self.remote.channel.close()
        if self._datastore_server is not None:
            await self._datastore_server.stop(0.5)
        if self._factory is not None:
            await self._factory.close()
