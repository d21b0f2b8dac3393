"""``RegistryClient``: the asyncio client a lab (or an actor) talks to a model registry with.

Any Cogment model registry works (ours or the upstream one). Sending streams an
:class:`~cogment_jupyter.model_registry.serialization.Encoded` model in chunks; receiving
streams an iteration into a spool file, checking its size and SHA-256 against the iteration's
info, then decodes it from there (see ``serialization``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from cogment_jupyter.channels import until_ready
from cogment_jupyter.model_registry.infos import (
    ModelInfo,
    RegistryError,
    UnknownModelError,
    UnknownVersionError,
    VersionInfo,
    model_info_from,
    sha256_base64,
    version_info_from,
)
from cogment_jupyter.model_registry.serialization import FORMAT_PROPERTY, Encoded, Receiver, encode, receiver
from cogment_jupyter.proto import model_registry_pb2, model_registry_pb2_grpc

#: gRPC message limit for what the registry sends (its chunks are 2 MiB by default)
MAX_MESSAGE = 64 * 1024 * 1024
#: seconds a call waits for the registry to (re)connect before saying it does not answer
CONNECT_TIMEOUT = 10.0
#: models and iterations asked for per list call
PAGE = 100

Progress = Callable[[int], None]


class RegistryUnavailable(RegistryError, ConnectionError):
    """The registry could not be reached."""


def registry_address(endpoint: str) -> str:
    text = endpoint.strip()
    if not text.lower().startswith("grpc://") or ":" not in text[7:]:
        raise ValueError(f"a model registry endpoint is 'grpc://HOST:PORT', got {endpoint!r}")
    return text[7:]


def _error(error: grpc.aio.AioRpcError, endpoint: str) -> RegistryError:
    """The registry's refusal as our error types (its messages are the upstream ones)."""
    details = error.details() or ""
    if error.code() == grpc.StatusCode.UNAVAILABLE:
        return RegistryUnavailable(f"the model registry at {endpoint} does not answer ({details})")
    if error.code() == grpc.StatusCode.NOT_FOUND and "version" in details:
        failure: RegistryError = UnknownVersionError("", 0)
        failure.args = (details,)
        return failure
    if error.code() == grpc.StatusCode.NOT_FOUND:
        failure = UnknownModelError("")
        failure.args = (details,)
        return failure
    return RegistryError(f"the model registry at {endpoint} refused: {details}")


class RegistryClient:
    """One registry, one channel (made on the loop of first use)."""

    def __init__(self, endpoint: str, spool_dir: str | os.PathLike[str] | None = None) -> None:
        self.endpoint = endpoint.strip()
        self.address = registry_address(self.endpoint)
        self.spool_dir = Path(spool_dir) if spool_dir is not None else None
        self._channel: grpc.aio.Channel | None = None
        self._stub: model_registry_pb2_grpc.ModelRegistrySPStub | None = None

    async def _connected(self) -> model_registry_pb2_grpc.ModelRegistrySPStub:
        """The stub, once the channel is connected (``RegistryUnavailable`` after ``CONNECT_TIMEOUT`` s)."""
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(
                self.address, options=[("grpc.max_receive_message_length", MAX_MESSAGE)]
            )
            self._stub = model_registry_pb2_grpc.ModelRegistrySPStub(self._channel)
        assert self._channel is not None
        if not await until_ready(self._channel, CONNECT_TIMEOUT):
            raise RegistryUnavailable(
                f"the model registry at {self.endpoint} does not answer (after {CONNECT_TIMEOUT:g} s): is it running?"
            )
        return self._stub

    async def close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close(grace=None)

    # ------------------------------------------------------------------ models

    async def model_info(self, name: str) -> ModelInfo | None:
        try:
            reply = await (await self._connected()).RetrieveModels(
                model_registry_pb2.RetrieveModelsRequest(model_ids=[name])
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _error(error, self.endpoint) from None
        return model_info_from(reply.model_infos[0]) if reply.model_infos else None

    async def set_model_info(self, name: str, properties: Mapping[str, str]) -> None:
        request = model_registry_pb2.CreateOrUpdateModelRequest(
            model_info=model_registry_pb2.ModelInfo(
                model_id=name, user_data={str(k): str(v) for k, v in properties.items()}
            )
        )
        try:
            await (await self._connected()).CreateOrUpdateModel(request)
        except grpc.aio.AioRpcError as error:
            raise _error(error, self.endpoint) from None

    async def models(self) -> list[ModelInfo]:
        out: list[ModelInfo] = []
        request = model_registry_pb2.RetrieveModelsRequest(models_count=PAGE)
        while True:
            try:
                reply = await (await self._connected()).RetrieveModels(request)
            except grpc.aio.AioRpcError as error:
                raise _error(error, self.endpoint) from None
            out.extend(model_info_from(m) for m in reply.model_infos)
            if len(reply.model_infos) < PAGE:
                return out
            request.model_handle = reply.next_model_handle

    async def delete(self, name: str) -> None:
        try:
            await (await self._connected()).DeleteModel(model_registry_pb2.DeleteModelRequest(model_id=name))
        except grpc.aio.AioRpcError as error:
            raise _error(error, self.endpoint) from None

    # ------------------------------------------------------------------ iterations

    async def iterations(self, name: str) -> list[VersionInfo]:
        out: list[VersionInfo] = []
        request = model_registry_pb2.RetrieveVersionInfosRequest(model_id=name, versions_count=PAGE)
        while True:
            try:
                reply = await (await self._connected()).RetrieveVersionInfos(request)
            except grpc.aio.AioRpcError as error:
                raise _error(error, self.endpoint) from None
            out.extend(version_info_from(v) for v in reply.version_infos)
            if len(reply.version_infos) < PAGE:
                return out
            request.version_handle = reply.next_version_handle

    async def iteration(self, name: str, iteration: int = -1) -> VersionInfo:
        request = model_registry_pb2.RetrieveVersionInfosRequest(model_id=name, version_numbers=[iteration])
        try:
            reply = await (await self._connected()).RetrieveVersionInfos(request)
        except grpc.aio.AioRpcError as error:
            raise _error(error, self.endpoint) from None
        return version_info_from(reply.version_infos[0])

    async def send(
        self,
        name: str,
        model: Encoded,
        *,
        store: bool,
        properties: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> VersionInfo:
        """A new iteration of ``name`` (created if it is a new model), streamed in chunks."""
        if await self.model_info(name) is None:
            await self.set_model_info(name, {})
        user_data = {str(k): str(v) for k, v in (properties or {}).items()}
        user_data[FORMAT_PROPERTY] = model.format
        header = model_registry_pb2.ModelVersionInfo(
            model_id=name, archived=store, data_size=model.size, user_data=user_data
        )

        def requests():
            yield model_registry_pb2.CreateVersionRequestChunk(
                header=model_registry_pb2.CreateVersionRequestChunk.Header(version_info=header)
            )
            for chunk in model.chunks():
                yield model_registry_pb2.CreateVersionRequestChunk(
                    body=model_registry_pb2.CreateVersionRequestChunk.Body(data_chunk=bytes(chunk))
                )
                if progress is not None:
                    progress(len(chunk))

        try:
            reply = await (await self._connected()).CreateVersion(requests())
        except grpc.aio.AioRpcError as error:
            raise _error(error, self.endpoint) from None
        finally:
            model.cleanup()
        return version_info_from(reply.version_info)

    async def publish(self, name: str, value: Any, *, store: bool, properties=None, progress=None) -> VersionInfo:
        """Encode ``value`` (the ``serialization`` rule) and send it."""
        encoded = await asyncio.to_thread(encode, value, self.spool_dir)
        return await self.send(name, encoded, store=store, properties=properties, progress=progress)

    async def load(self, name: str, iteration: int = -1, progress: Progress | None = None) -> tuple[VersionInfo, Any]:
        """An iteration (``-1``: the latest) and its value, decoded by the format it was published
        with; its size and SHA-256 are checked on the way."""
        info = await self.iteration(name, iteration)
        return info, await self.value_of(info, progress)

    async def value_of(self, info: VersionInfo, progress: Progress | None = None) -> Any:
        """The decoded value of the iteration ``info`` describes."""
        sink = receiver(info.user_data.get(FORMAT_PROPERTY, ""), info.data_size, self.spool_dir)
        try:
            await self._receive(info, sink, progress)
            return await asyncio.to_thread(sink.finish)
        finally:
            sink.close()

    async def _receive(self, info: VersionInfo, sink: Receiver, progress: Progress | None) -> None:
        request = model_registry_pb2.RetrieveVersionDataRequest(
            model_id=info.model_id, version_number=info.version_number
        )
        digest = hashlib.sha256()
        received = 0
        try:
            async for chunk in (await self._connected()).RetrieveVersionData(request):
                data = chunk.data_chunk
                await asyncio.to_thread(_take, sink, digest, data)
                received += len(data)
                if progress is not None:
                    progress(len(data))
        except grpc.aio.AioRpcError as error:
            raise _error(error, self.endpoint) from None
        what = f"iteration {info.version_number} of model {info.model_id!r}"
        if received != info.data_size:
            raise RegistryError(f"{what} arrived incomplete: {received} of {info.data_size} bytes")
        if info.data_hash and sha256_base64(digest) != info.data_hash:
            raise RegistryError(f"{what} arrived damaged: its SHA-256 differs")

    async def updates(self, name: str) -> AsyncIterator[VersionInfo]:
        """The latest iteration now (if any), then each new one as it is published."""
        call = (await self._connected()).VersionUpdate(model_registry_pb2.VersionUpdateRequest(model_id=name))
        try:
            async for reply in call:
                yield version_info_from(reply.version_info)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise UnknownModelError(name) from None
            raise _error(error, self.endpoint) from None
        finally:
            call.cancel()


def _take(sink: Receiver, digest: Any, data: bytes) -> None:
    sink.write(data)
    digest.update(data)
