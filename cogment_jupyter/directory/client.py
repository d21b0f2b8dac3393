"""Talking to a directory: register, deregister and inquire (``DirectorySP``, asyncio).

``DirectoryClient`` is what our orchestrator resolves discovery endpoints with and what a lab
registers its services with; ``Registrations`` remembers what one owner registered so it can
take it all back. Any Cogment directory works (ours or the upstream one).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import grpc

from cogment_jupyter.channels import until_ready
from cogment_jupyter.proto import directory_pb2, directory_pb2_grpc

log = logging.getLogger(__name__)

TOKEN_METADATA = "authentication-token"
ENDPOINT_ENV = "COGMENT_DIRECTORY_ENDPOINT"
TOKEN_ENV = "COGMENT_DIRECTORY_AUTHENTICATION_TOKEN"
#: seconds a directory call may take before the caller is told the directory does not answer
CALL_TIMEOUT = 30.0
#: seconds a call waits for the directory to (re)connect
CONNECT_TIMEOUT = 10.0


class DirectoryError(RuntimeError):
    """A directory refused a request or could not be reached; the message says which and why."""


def directory_address(endpoint: str) -> str:
    """``grpc://host:port`` -> ``host:port``; anything else is refused as upstream does."""
    text = endpoint.strip()
    if not text.lower().startswith("grpc://") or ":" not in text[7:]:
        raise DirectoryError(
            f"Only gRPC endpoints are valid for the directory service (grpc://HOST:PORT): [{endpoint}]"
        )
    return text[7:]


@dataclass(frozen=True)
class Registration:
    service_id: int
    secret: str


class DirectoryClient:
    """One directory, one channel; ``token`` is sent as ``authentication-token`` metadata."""

    def __init__(self, endpoint: str, token: str | None = None) -> None:
        self.endpoint = endpoint.strip()
        self.address = directory_address(self.endpoint)
        self.token = token or ""
        self._channel: grpc.aio.Channel | None = None
        self._stub: directory_pb2_grpc.DirectorySPStub | None = None

    @classmethod
    def from_environment(cls) -> DirectoryClient | None:
        """The directory ``COGMENT_DIRECTORY_ENDPOINT`` names (with its token), if any."""
        endpoint = os.environ.get(ENDPOINT_ENV, "").strip()
        return cls(endpoint, os.environ.get(TOKEN_ENV)) if endpoint else None

    def __repr__(self) -> str:
        return f"DirectoryClient({self.endpoint!r}, token={'set' if self.token else 'none'})"

    async def _connected(self) -> directory_pb2_grpc.DirectorySPStub:
        """The stub, once the channel is connected (``DirectoryError`` after ``CONNECT_TIMEOUT`` s)."""
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self.address)
            self._stub = directory_pb2_grpc.DirectorySPStub(self._channel)
        assert self._channel is not None
        if not await until_ready(self._channel, CONNECT_TIMEOUT):
            raise DirectoryError(f"the directory at {self.endpoint} does not answer (after {CONNECT_TIMEOUT:g} s)")
        return self._stub

    def metadata(self, token: str | None = None) -> tuple[tuple[str, str], ...]:
        token = self.token if token is None else token
        return ((TOKEN_METADATA, token),) if token else ()

    async def register(
        self,
        service_type: int,
        host: str,
        port: int,
        properties: Mapping[str, str] | None = None,
        *,
        protocol: int = directory_pb2.ServiceEndpoint.GRPC,
        permanent: bool = False,
    ) -> Registration:
        request = directory_pb2.RegisterRequest(
            endpoint=directory_pb2.ServiceEndpoint(protocol=protocol, host=host, port=port),
            details=directory_pb2.ServiceDetails(type=service_type, properties=dict(properties or {})),
            permanent=permanent,
        )
        try:
            replies = [
                r
                async for r in (await self._connected()).Register(
                    iter([request]), metadata=self.metadata(), timeout=CALL_TIMEOUT
                )
            ]
        except grpc.aio.AioRpcError as error:
            raise DirectoryError(f"Directory register failure at {self.endpoint}: [{error.details()}]") from None
        if not replies:
            raise DirectoryError(f"No response to directory register request at {self.endpoint}")
        reply = replies[0]
        if reply.status != directory_pb2.RegisterReply.OK:
            status = directory_pb2.RegisterReply.Status.Name(reply.status)
            raise DirectoryError(f"Directory registration failed for host [{host}]: [{status}] [{reply.error_msg}]")
        return Registration(reply.service_id, reply.secret)

    async def deregister(self, registration: Registration) -> None:
        request = directory_pb2.DeregisterRequest(service_id=registration.service_id, secret=registration.secret)
        try:
            replies = [
                r
                async for r in (await self._connected()).Deregister(
                    iter([request]), metadata=self.metadata(), timeout=CALL_TIMEOUT
                )
            ]
        except grpc.aio.AioRpcError as error:
            raise DirectoryError(f"Directory deregister failure at {self.endpoint}: [{error.details()}]") from None
        if replies and replies[0].status != directory_pb2.DeregisterReply.OK:
            raise DirectoryError(replies[0].error_msg)

    async def inquire(
        self, request: directory_pb2.InquireRequest, token: str | None = None, *, first: bool = False
    ) -> list[directory_pb2.FullServiceData]:
        """What the directory answers (only its first answer with ``first``); ``token`` overrides ours."""
        found: list[directory_pb2.FullServiceData] = []
        call = (await self._connected()).Inquire(request, metadata=self.metadata(token), timeout=CALL_TIMEOUT)
        try:
            async for reply in call:
                found.append(reply.data)
                if first:
                    break
        except grpc.aio.AioRpcError as error:
            raise DirectoryError(f"Failed directory inquiry at {self.endpoint}: [{error.details()}]") from None
        finally:
            call.cancel()
        return found

    async def close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close(grace=None)


class Registrations:
    """What one owner (a lab, a service) registered, taken back together."""

    def __init__(self, client: DirectoryClient) -> None:
        self.client = client
        self._by_key: dict[str, list[Registration]] = {}

    async def add(self, key: str, service_type: int, host: str, port: int, properties: Mapping[str, str]) -> None:
        registration = await self.client.register(service_type, host, port, properties)
        self._by_key.setdefault(key, []).append(registration)

    async def remove(self, key: str) -> None:
        for registration in self._by_key.pop(key, []):
            with contextlib.suppress(DirectoryError):
                await self.client.deregister(registration)

    async def remove_all(self) -> None:
        for key in list(self._by_key):
            await self.remove(key)

    def keys(self) -> list[str]:
        return list(self._by_key)
