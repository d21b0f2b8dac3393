"""The orchestrator's HTTP/2 gRPC client (``transport.http2``) against real grpc.aio servers:
messages both ways at any size, statuses, metadata, half-close, cancel, lost connections, Unix
sockets, many calls on one connection."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from cogment_jupyter.transport.http2 import ConnectionPool, Http2Stream

SERVICE = "test.Echo"


@dataclass
class Seen:
    """What the server saw."""

    metadata: list[dict[str, str]] = field(default_factory=list)
    requests_ended: asyncio.Event = field(default_factory=asyncio.Event)
    #: the handler returned or raised (a cancelled call ends it one way or the other)
    handler_done: asyncio.Event = field(default_factory=asyncio.Event)


def _handlers(seen: Seen) -> grpc.GenericRpcHandler:
    async def echo(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        seen.metadata.append(dict(context.invocation_metadata()))
        try:
            async for request in requests:
                if request == b"fail":
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "refused: 100% bad")
                yield request
            seen.requests_ended.set()
        finally:
            seen.handler_done.set()

    async def twice(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request
            yield request[::-1]

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {"Echo": grpc.stream_stream_rpc_method_handler(echo), "Twice": grpc.stream_stream_rpc_method_handler(twice)},
    )


@contextlib.asynccontextmanager
async def serving(address: str = "127.0.0.1:0") -> AsyncIterator[tuple[str, Seen, grpc.aio.Server]]:
    seen = Seen()
    limit = 64 * 1024 * 1024
    server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)]
    )
    server.add_generic_rpc_handlers((_handlers(seen),))
    port = server.add_insecure_port(address)
    await server.start()
    try:
        yield (address if address.startswith("unix:") else f"127.0.0.1:{port}"), seen, server
    finally:
        await server.stop(0)


@dataclass
class Call:
    """One call's messages and end, as the client saw them."""

    messages: list[bytes] = field(default_factory=list)
    end: tuple[str, str] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    stream: Http2Stream | None = None

    def message(self, data: bytes) -> None:
        self.messages.append(data)
        self.changed.set()

    def ended(self, code: str, details: str) -> None:
        assert self.end is None, "on_end is called once"
        self.end = (code, details)
        self.changed.set()

    async def until(self, condition, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def open_call(pool: ConnectionPool, address: str, method: str = "Echo", metadata=()) -> Call:
    call = Call()
    call.stream = await pool.open_stream(address, f"/{SERVICE}/{method}", metadata, call.message, call.ended)
    return call


async def test_messages_of_every_size_both_ways_in_order() -> None:
    """Small messages, a burst, and 5 MB ones (past HTTP/2's default frame size and the server's
    flow-control window) arrive whole and in order."""
    pool = ConnectionPool()
    async with serving() as (address, seen, _):
        call = await open_call(pool, address, metadata=(("trial-id", "t-1"), ("user-id", "me")))
        sent = [b"", b"x", bytes(range(256)) * 40, b"\x00" * (5 * 1024 * 1024 + 3)]
        sent += [f"burst {i}".encode() for i in range(500)]
        sent.append(bytes(range(256)) * 20000)
        for message in sent:
            call.stream.send(message)
        await call.until(lambda: len(call.messages) == len(sent))
        assert call.messages == sent
        call.stream.end_sending()
        await call.until(lambda: call.end is not None)
        assert call.end == ("OK", "")
        assert seen.requests_ended.is_set()
        assert seen.metadata[0]["trial-id"] == "t-1" and seen.metadata[0]["user-id"] == "me"
    pool.close()


async def test_server_statuses_reach_the_caller() -> None:
    pool = ConnectionPool()
    async with serving() as (address, _, _):
        call = await open_call(pool, address)
        call.stream.send(b"fine")
        call.stream.send(b"fail")
        await call.until(lambda: call.end is not None)
        assert call.messages == [b"fine"]
        assert call.end == ("INVALID_ARGUMENT", "refused: 100% bad")

        unknown = await open_call(pool, address, method="Nope")
        await unknown.until(lambda: unknown.end is not None)
        assert unknown.end[0] == "UNIMPLEMENTED"


async def test_many_calls_share_one_connection_and_a_failing_callback_ends_only_its_call() -> None:
    pool = ConnectionPool()
    async with serving() as (address, _, _):
        calls = await asyncio.gather(*(open_call(pool, address, method="Twice") for _ in range(30)))
        assert len({id(c.stream._connection) for c in calls}) == 1

        def explode(data: bytes) -> None:
            raise RuntimeError("a bug in the caller")

        calls[0].stream.on_message = explode
        for i, call in enumerate(calls):
            call.stream.send(f"call {i}".encode())
        await calls[0].until(lambda: calls[0].end is not None)
        assert calls[0].end[0] == "CANCELLED" and "a bug in the caller" in calls[0].end[1]
        for i, call in enumerate(calls[1:], start=1):
            await call.until(lambda call=call: len(call.messages) == 2)
            assert call.messages == [f"call {i}".encode(), f"call {i}".encode()[::-1]]
            assert call.end is None


async def test_cancel_reaches_the_server() -> None:
    pool = ConnectionPool()
    async with serving() as (address, seen, _):
        call = await open_call(pool, address)
        call.stream.send(b"hello")
        await call.until(lambda: call.messages)
        call.stream.cancel()
        assert call.end[0] == "CANCELLED"
        async with asyncio.timeout(20):
            await seen.handler_done.wait()
        call.stream.send(b"ignored after the end")  # no error: the call is over


async def test_refused_and_lost_connections_and_reconnecting_on_a_unix_socket() -> None:
    pool = ConnectionPool()
    with tempfile.TemporaryDirectory() as directory:
        address = f"unix:{Path(directory) / 'echo.sock'}"
        with pytest.raises(ConnectionError, match="cannot connect to unix:"):
            await open_call(pool, address)
        async with serving(address) as (_, _, server):
            call = await open_call(pool, address)
            call.stream.send(b"one")
            await call.until(lambda: call.messages)
            await server.stop(0)
            await call.until(lambda: call.end is not None)
            assert call.end[0] in ("UNAVAILABLE", "CANCELLED", "INTERNAL")
        async with serving(address):
            again = await open_call(pool, address)  # a new connection to the restarted server
            again.stream.send(b"two")
            await again.until(lambda: again.messages)
            assert again.messages == [b"two"]
    pool.close()


async def test_refused_tcp_names_the_address() -> None:
    with contextlib.closing(__import__("socket").socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(ConnectionError, match=f"cannot connect to 127.0.0.1:{port}"):
            await open_call(ConnectionPool(), f"127.0.0.1:{port}")
