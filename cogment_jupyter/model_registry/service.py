"""``ModelRegistrySP`` and the server that runs it, as the upstream registry's gRPC server.

Status codes and messages follow ``grpcservers/modelRegistryServer.go``: an unknown model or
iteration is ``NOT_FOUND`` (``no model "x" found``, ``no version "3" for model "x" found``), a
malformed request ``INVALID_ARGUMENT``; ``-1`` (``-n``) names the latest (n-th to last)
iteration; list replies carry the upstream ``next_*_handle`` values. File work runs in worker
threads, so a 100 MB upload never stalls the other calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import grpc

from cogment_jupyter.access import Reach, bind, port_of
from cogment_jupyter.engine.service_status import status_reply, version_info
from cogment_jupyter.model_registry import DEFAULT_CACHE_MAX_ITEMS, DEFAULT_CHUNK_SIZE
from cogment_jupyter.model_registry.infos import (
    InvalidRequestError,
    RegistryError,
    UnknownModelError,
    UnknownVersionError,
)
from cogment_jupyter.model_registry.storage import IncomingVersion, ModelStore
from cogment_jupyter.proto import common_pb2, model_registry_pb2, model_registry_pb2_grpc

log = logging.getLogger(__name__)

T = TypeVar("T")

#: server-side message limit: the SDK sends 2 MiB chunks, leave room for bigger clients
MAX_MESSAGE = 64 * 1024 * 1024


async def _abort(context: grpc.aio.ServicerContext, error: RegistryError) -> NoReturn:
    if isinstance(error, UnknownModelError | UnknownVersionError):
        await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
    if isinstance(error, InvalidRequestError):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
    await context.abort(grpc.StatusCode.INTERNAL, f"unexpected error: {error}")
    raise AssertionError("unreachable")


def _handle(handle: str, what: str) -> int:
    if not handle:
        return 0
    if not handle.isdigit():
        raise InvalidRequestError(
            f"Invalid value for `{what}` ({handle!r}) only empty or values provided by a previous call should be used"
        )
    return int(handle)


class ModelRegistryServicer(model_registry_pb2_grpc.ModelRegistrySPServicer):
    def __init__(self, store: ModelStore, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError("the chunk size of sent model data must be > 0 bytes")
        self.store = store
        self.chunk_size = chunk_size
        self._new_version = asyncio.Event()
        #: file work runs on two threads only: a thread's malloc arena keeps the chunks it touched,
        #: and asyncio's default pool (6+ threads) made large transfers grow the process
        self._executor = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="model-registry-io")

    async def _io(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _run(self, context: grpc.aio.ServicerContext, function: Callable[..., T], *args: Any) -> T:
        """Run a store operation in a worker thread; its errors become the upstream statuses."""
        try:
            return await self._io(function, *args)
        except RegistryError as error:
            await _abort(context, error)

    def _announce(self) -> None:
        """Wake every ``VersionUpdate`` stream: a model has a new iteration."""
        event, self._new_version = self._new_version, asyncio.Event()
        event.set()

    # ------------------------------------------------------------------ models

    async def CreateOrUpdateModel(self, request, context):
        info = request.model_info
        await self._run(context, self.store.create_or_update_model, info.model_id, dict(info.user_data))
        return model_registry_pb2.CreateOrUpdateModelReply()

    async def DeleteModel(self, request, context):
        await self._run(context, self.store.delete_model, request.model_id)
        return model_registry_pb2.DeleteModelReply()

    async def RetrieveModels(self, request, context):
        try:
            offset = _handle(request.model_handle, "model_handle")
        except InvalidRequestError as error:
            await _abort(context, error)
        if not request.model_ids:
            infos = await self._run(context, self.store.list_models, offset, request.models_count)
        else:
            wanted = list(request.model_ids)[offset:]
            if request.models_count > 0:
                wanted = wanted[: request.models_count]
            infos = [await self._run(context, self.store.model_info, model_id) for model_id in wanted]
        return model_registry_pb2.RetrieveModelsReply(
            model_infos=[info.to_proto() for info in infos], next_model_handle=str(offset + len(infos))
        )

    # ------------------------------------------------------------------ versions

    async def CreateVersion(self, request_iterator: AsyncIterator[Any], context):
        incoming: IncomingVersion | None = None
        header = None
        try:
            async for chunk in request_iterator:
                if header is None:
                    if chunk.WhichOneof("msg") != "header":
                        raise InvalidRequestError("first request chunk does not include a Header")
                    header = chunk.header.version_info
                    incoming = await self._io(self.store.incoming, header.model_id, header.data_size, header.data_hash)
                    continue
                if chunk.WhichOneof("msg") != "body":
                    raise InvalidRequestError("subsequent request chunk do not include a Body")
                await self._io(incoming.write, chunk.body.data_chunk)  # type: ignore[union-attr]
            if header is None or incoming is None:
                raise InvalidRequestError("empty request")
            info = await self._io(incoming.commit, header.archived, header.creation_timestamp, dict(header.user_data))
        except RegistryError as error:
            if incoming is not None:
                incoming.abort()
            await _abort(context, error)
        except BaseException:
            if incoming is not None:
                incoming.abort()
            raise
        log.info(
            "Model [%s] iteration [%d] %s (%d bytes)",
            info.model_id,
            info.version_number,
            "stored" if info.archived else "published",
            info.data_size,
        )
        self._announce()
        return model_registry_pb2.CreateVersionReply(version_info=info.to_proto())

    async def RetrieveVersionInfos(self, request, context):
        try:
            initial = _handle(request.version_handle, "version_handle")
        except InvalidRequestError as error:
            await _abort(context, error)
        if not request.version_numbers:
            infos = await self._run(
                context, self.store.list_versions, request.model_id, max(1, initial), request.versions_count
            )
        else:
            wanted = list(request.version_numbers)[initial:]
            if request.versions_count > 0:
                wanted = wanted[: request.versions_count]
            infos = [await self._run(context, self.store.version_info, request.model_id, n) for n in wanted]
        following = infos[-1].version_number + 1 if infos else initial
        return model_registry_pb2.RetrieveVersionInfosReply(
            version_infos=[info.to_proto() for info in infos], next_version_handle=str(following)
        )

    async def RetrieveVersionData(self, request, context):
        opened = contextlib.ExitStack()
        try:
            info, stream = await self._io(
                opened.enter_context, self.store.open_data(request.model_id, request.version_number)
            )
        except RegistryError as error:
            await _abort(context, error)
        with opened:
            if info.data_size == 0:
                yield model_registry_pb2.RetrieveVersionDataReplyChunk()
                return
            while chunk := await self._io(stream.read, self.chunk_size):
                yield model_registry_pb2.RetrieveVersionDataReplyChunk(data_chunk=chunk)

    async def VersionUpdate(self, request, context):
        if not await self._io(self.store.has_model, request.model_id):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown model id [{request.model_id}]")
        last = 0
        while True:
            changed = self._new_version
            try:
                info = await self._io(self.store.latest_version_info, request.model_id)
            except UnknownModelError:
                return  # deleted: the stream ends
            if info is not None and info.version_number > last:
                yield model_registry_pb2.VersionUpdateReply(version_info=info.to_proto())
                last = info.version_number
            await changed.wait()

    # ------------------------------------------------------------------ version / status

    async def Version(self, request: common_pb2.VersionRequest, context):
        return version_info()

    async def Status(self, request: common_pb2.StatusRequest, context):
        return status_reply(request)


class ModelRegistryServer:
    """A registry on TCP ``host:port`` (port 0: a free one), or at ``address`` (``unix:/path`` or
    ``HOST:PORT``, see ``cogment_jupyter.access``), storing into ``archive_dir``."""

    def __init__(
        self,
        archive_dir: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        address: str | None = None,
        cache_max_items: int = DEFAULT_CACHE_MAX_ITEMS,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        drop_transient: bool = True,
    ) -> None:
        self.store = ModelStore(archive_dir, cache_max_items)
        #: forget published iterations of a previous run when starting (as upstream loses its cache);
        #: a lab's own registry keeps them: other kernels may share the directory
        self.drop_transient = drop_transient
        self.servicer = ModelRegistryServicer(self.store, chunk_size)
        self.host = host
        self.address = address or Reach(host).address("model-registry", port)
        self.port = 0
        self._endpoint = ""
        self._server: grpc.aio.Server | None = None

    @property
    def endpoint(self) -> str:
        """Where it listens, once started."""
        return self._endpoint

    def add_to_server(self, server: grpc.aio.Server) -> None:
        model_registry_pb2_grpc.add_ModelRegistrySPServicer_to_server(self.servicer, server)

    async def start(self, on_server: Callable[[grpc.aio.Server], None] | None = None) -> None:
        """Forget what a previous run published (not stored), then bind and serve."""
        dropped = await asyncio.to_thread(self.store.drop_transient) if self.drop_transient else 0
        if dropped:
            log.info("Dropped %d published (not stored) iterations of a previous run", dropped)
        server = grpc.aio.server(
            options=[("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
        )
        self.add_to_server(server)
        if on_server is not None:
            on_server(server)
        self._endpoint = bind(server, self.address)
        self.port = port_of(self._endpoint)
        await server.start()
        self._server = server

    async def stop(self, grace: float | None = 1.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        self.servicer._executor.shutdown(wait=False)
