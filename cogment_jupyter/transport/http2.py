"""gRPC stream calls over HTTP/2, run by the event loop itself: what the orchestrator's
component streams (environments, service actors, datalogs) ride on.

grpc.aio hands each completed read and write from the gRPC core's threads to the event loop (a
poller thread, a byte written to a socket pair, a loop pass, a task step): on a two-core
machine that costs more CPU per tick than the whole upstream orchestrator spends. Here a
connection is an asyncio protocol: frames are parsed in ``data_received`` and each message is
handed to its stream's callback there; a message is written to the socket by the code that
makes it. No thread, no task, no queue.

Only what Cogment's streams need from HTTP/2 (RFC 9113) and the gRPC wire format is here:
plaintext HTTP/2 with prior knowledge (what ``grpc.insecure_channel`` speaks) over TCP or a
Unix socket, flow control both ways, messages uncompressed (none is asked for), metadata of
ASCII values. Header blocks are coded by the ``hpack`` library. Servers are the gRPC ones that
Cogment components run (the official SDK, ours, any gRPC implementation).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import urllib.parse
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

#: How long a connection may take to open (the gRPC core's default connect timeout).
CONNECT_TIMEOUT = 20.0
#: Largest message accepted or sent (the limit the rest of the project configures for gRPC).
MAX_MESSAGE = 64 * 1024 * 1024

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _PRIORITY, _RST_STREAM, _SETTINGS, _PUSH_PROMISE, _PING, _GOAWAY, _WINDOW_UPDATE, _CONTINUATION = (
    range(10)
)
_END_STREAM, _ACK, _END_HEADERS, _PADDED, _PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
_HEADER_TABLE_SIZE, _ENABLE_PUSH, _MAX_CONCURRENT_STREAMS, _INITIAL_WINDOW_SIZE, _MAX_FRAME_SIZE = 1, 2, 3, 4, 5
_NO_ERROR, _PROTOCOL_ERROR, _REFUSED_STREAM, _CANCEL = 0x0, 0x1, 0x7, 0x8

#: Our receive windows: as large as HTTP/2 allows, topped up when half is used, so that peers
#: never wait for us and we send a window update once per GiB instead of once per message.
_WINDOW = 2**31 - 1
_REFILL = 2**30
#: The largest frame we accept (fewer frames for big observations; HTTP/2's default is 16 KiB).
_OUR_MAX_FRAME = 1 << 20
#: The least room offered to each socket read.
_READ_CHUNK = 64 * 1024
#: A frame header: length (24 bits: 16 + 8), type, flags, stream id (with its reserved bit).
_FRAME_HEAD = struct.Struct(">HBBBI")

_HTTP_STATUS_CODES = {400: "INTERNAL", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "UNIMPLEMENTED"}
_HTTP_STATUS_CODES.update(dict.fromkeys((429, 502, 503, 504), "UNAVAILABLE"))
#: gRPC status codes by number (the names ``grpc.StatusCode`` uses).
STATUS_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)

MessageCallback = Callable[[bytes], None]
#: Called once when the call ends: the gRPC status name ("OK" ...) and its details.
EndCallback = Callable[[str, str], None]


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


def _settings(*pairs: tuple[int, int]) -> bytes:
    return b"".join(key.to_bytes(2, "big") + value.to_bytes(4, "big") for key, value in pairs)


class Http2Stream:
    """One gRPC call: messages out with :meth:`send`, in through ``on_message``; ``on_end`` once."""

    __slots__ = (
        "_buffer",
        "_connection",
        "_data_head",
        "_end_written",
        "_ended_locally",
        "_pending",
        "_received",
        "closed",
        "id",
        "on_end",
        "on_message",
        "send_window",
    )

    def __init__(self, connection: Http2Connection, stream_id: int, on_message: MessageCallback, on_end: EndCallback):
        self._connection = connection
        self.id = stream_id
        self.on_message = on_message
        self.on_end = on_end
        self.send_window = connection.peer_initial_window
        self.closed = False
        self._ended_locally = False
        self._end_written = False
        self._buffer = b""  # an incomplete gRPC message
        self._pending: list[bytes] = []  # gRPC-framed bytes waiting for flow-control window
        self._received = 0
        self._data_head = bytes((_DATA, 0)) + stream_id.to_bytes(4, "big")

    def send(self, message: bytes) -> None:
        """Write one message now (or as soon as the peer's flow-control window allows)."""
        if self.closed or self._ended_locally:
            return
        if len(message) > MAX_MESSAGE:
            raise ValueError(f"a message of {len(message)} bytes is over the {MAX_MESSAGE}-byte limit")
        size = len(message) + 5
        connection = self._connection
        if (
            not self._pending
            and size <= self.send_window
            and size <= connection.send_window
            and size <= connection.peer_max_frame
        ):  # one frame, written now: the case of every tick
            self.send_window -= size
            connection.send_window -= size
            head = size.to_bytes(3, "big") + self._data_head + b"\0" + len(message).to_bytes(4, "big")
            connection.write(head + message)  # one write: one system call
            return
        self._pending.append(b"\0" + len(message).to_bytes(4, "big") + message)
        self.flush()

    def end_sending(self) -> None:
        """Half-close: this side sends nothing more (the server's reply goes on)."""
        if self.closed or self._ended_locally:
            return
        self._ended_locally = True
        self.flush()

    def cancel(self, details: str = "cancelled by the caller") -> None:
        """Reset the call; ``on_end`` gets CANCELLED unless it ended already."""
        if self.closed:
            return
        self._connection.write(_frame(_RST_STREAM, 0, self.id, _CANCEL.to_bytes(4, "big")))
        self._finish("CANCELLED", details)

    def flush(self) -> None:
        """Write what the flow-control windows allow of the pending bytes (and END_STREAM after them)."""
        connection = self._connection
        pending = self._pending
        while pending:
            allowed = min(self.send_window, connection.send_window, connection.peer_max_frame)
            if allowed <= 0:
                return
            chunk = pending[0]
            if len(chunk) > allowed:
                pending[0] = chunk[allowed:]
                chunk = chunk[:allowed]
            else:
                del pending[0]
            self.send_window -= len(chunk)
            connection.send_window -= len(chunk)
            last = self._ended_locally and not pending
            connection.write(_frame(_DATA, _END_STREAM if last else 0, self.id, chunk))
            if last:
                self._end_written = True
        if self._ended_locally and not self._end_written:
            self._end_written = True
            connection.write(_frame(_DATA, _END_STREAM, self.id))

    # ------------------------------------------------------------------ from the connection

    def _data(self, payload: bytes, end: bool) -> None:
        self._received += len(payload)
        if self._received >= _REFILL and not end:
            self._connection.write(_frame(_WINDOW_UPDATE, 0, self.id, self._received.to_bytes(4, "big")))
            self._received = 0
        buffer = self._buffer + payload if self._buffer else payload
        while len(buffer) >= 5 and not self.closed:
            size = int.from_bytes(buffer[1:5], "big")
            if buffer[0]:
                self._protocol_failure("INTERNAL", "the server sent a compressed message, which was not asked for")
                return
            if size > MAX_MESSAGE:
                self._protocol_failure("RESOURCE_EXHAUSTED", f"a message of {size} bytes is over the limit")
                return
            if len(buffer) < 5 + size:
                break
            message, buffer = buffer[5 : 5 + size], buffer[5 + size :]
            self.on_message(message)
        self._buffer = buffer
        if end:
            self._remote_end("INTERNAL", "the server ended the call without a status")

    def _headers(self, headers: Sequence[tuple[str, str]], end: bool) -> None:
        fields = dict(headers)
        status = fields.get("grpc-status")
        if status is not None:
            code = STATUS_NAMES[int(status)] if status.isdigit() and int(status) < len(STATUS_NAMES) else "UNKNOWN"
            self._remote_end(code, urllib.parse.unquote(fields.get("grpc-message", "")))
            return
        http_status = fields.get(":status")
        if http_status is not None and http_status != "200":
            self._remote_end(
                _HTTP_STATUS_CODES.get(int(http_status) if http_status.isdigit() else 0, "UNKNOWN"),
                f"HTTP status {http_status} from the server",
            )
            return
        if end:
            self._remote_end("INTERNAL", "the server ended the call without a status")

    def _remote_end(self, code: str, details: str) -> None:
        if self.closed:
            return
        if not self._ended_locally:  # the server is done: free the stream on its side too
            self._connection.write(_frame(_RST_STREAM, 0, self.id, _NO_ERROR.to_bytes(4, "big")))
        self._finish(code, details)

    def _protocol_failure(self, code: str, details: str) -> None:
        self._connection.write(_frame(_RST_STREAM, 0, self.id, _PROTOCOL_ERROR.to_bytes(4, "big")))
        self._finish(code, details)

    def _finish(self, code: str, details: str) -> None:
        self.closed = True
        self._pending = []
        self._connection.forget(self)
        self.on_end(code, details)


class Http2Connection(asyncio.BufferedProtocol):
    """One HTTP/2 connection to a gRPC server, carrying any number of calls."""

    def __init__(self, authority: str) -> None:
        self.authority = authority
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, Http2Stream] = {}
        self.send_window = 65535
        self.peer_initial_window = 65535
        self.peer_max_frame = 16384
        self.peer_max_streams = 2**31
        self.going_away = False
        self.lost: str | None = None
        self._next_id = 1
        import hpack  # here, not at the top: its Huffman table is slow to build at start-up

        self._encoder = hpack.Encoder()
        self._decoder = hpack.Decoder()
        self._header_errors = hpack.HPACKError
        self._input = bytearray(4 * _READ_CHUNK)
        self._view = memoryview(self._input)
        self._filled = 0
        self._received = 0
        self._header_block: tuple[int, int, bytearray] | None = None  # stream, flags, block (CONTINUATION)

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ours = _settings((_ENABLE_PUSH, 0), (_INITIAL_WINDOW_SIZE, _WINDOW), (_MAX_FRAME_SIZE, _OUR_MAX_FRAME))
        connection_window = (_WINDOW - 65535).to_bytes(4, "big")
        transport.write(_PREFACE + _frame(_SETTINGS, 0, 0, ours) + _frame(_WINDOW_UPDATE, 0, 0, connection_window))

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the socket reads into: one buffer for the connection's life (a fresh large
        bytes object per read, as a plain protocol gets, costs a memory map and unmap)."""
        free = len(self._input) - self._filled
        if free < _READ_CHUNK:  # a frame larger than the buffer is arriving: grow it
            grown = bytearray(max(2 * len(self._input), self._filled + _READ_CHUNK))
            grown[: self._filled] = self._view[: self._filled]
            self._input, self._view = grown, memoryview(grown)  # (the old one may still be exported)
        return self._view[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self._filled += nbytes
        buffer, view, size = self._input, self._view, self._filled
        position = 0
        try:
            while size - position >= 9:
                high, low, kind, flags, stream_id = _FRAME_HEAD.unpack_from(buffer, position)
                end = position + 9 + (high << 8 | low)
                if end > size:
                    break
                payload = view[position + 9 : end].tobytes()
                position = end
                if kind == _DATA:
                    self._on_data(stream_id & 0x7FFFFFFF, flags, payload)
                elif self._header_block is not None and kind != _CONTINUATION:
                    raise _ConnectionFailure("a header block was interrupted by another frame")
                else:
                    self._on_control(kind, flags, stream_id & 0x7FFFFFFF, payload)
        except _ConnectionFailure as error:
            self._fail(f"protocol error: {error}")
            return
        if position:  # keep the start of an incomplete frame at the start of the buffer
            buffer[: size - position] = view[position:size].tobytes()  # (a copy: the ranges overlap)
            self._filled = size - position

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_streams(f"connection lost: {exc}" if exc else "the server closed the connection")

    def eof_received(self) -> bool | None:
        return None  # close the transport: the server sends nothing more

    # ------------------------------------------------------------------ calls

    @property
    def usable(self) -> bool:
        """Whether a new call may start here."""
        return (
            self.lost is None
            and not self.going_away
            and self._next_id < 2**31 - 1
            and len(self.streams) < self.peer_max_streams
        )

    def open_stream(
        self, path: str, metadata: Sequence[tuple[str, str]], on_message: MessageCallback, on_end: EndCallback
    ) -> Http2Stream:
        stream_id = self._next_id
        self._next_id += 2
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", self.authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("user-agent", "cogment-jupyter-http2"),
        ]
        for key, value in metadata:
            if key != key.lower() or key.startswith(":") or not value.isascii():
                raise ValueError(f"gRPC metadata [{key}] must be a lowercase name with an ASCII value")
            headers.append((key, value))
        stream = Http2Stream(self, stream_id, on_message, on_end)
        self.streams[stream_id] = stream
        block = self._encoder.encode(headers)
        limit = self.peer_max_frame
        first, rest = block[:limit], block[limit:]
        frames = [_frame(_HEADERS, 0 if rest else _END_HEADERS, stream_id, first)]
        while rest:
            chunk, rest = rest[:limit], rest[limit:]
            frames.append(_frame(_CONTINUATION, 0 if rest else _END_HEADERS, stream_id, chunk))
        self.write(b"".join(frames))
        return stream

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and self.lost is None and not transport.is_closing():
            transport.write(data)

    def forget(self, stream: Http2Stream) -> None:
        self.streams.pop(stream.id, None)
        if self.going_away and not self.streams:
            self.close()

    def close(self) -> None:
        if self.transport is not None and self.lost is None:
            self.transport.write(_frame(_GOAWAY, 0, 0, bytes(8)))
            self.transport.close()

    # ------------------------------------------------------------------ frames

    def _on_data(self, stream_id: int, flags: int, payload: bytes) -> None:
        self._received += len(payload)
        if self._received >= _REFILL:
            self.write(_frame(_WINDOW_UPDATE, 0, 0, self._received.to_bytes(4, "big")))
            self._received = 0
        if flags & _PADDED:
            payload = _unpad(payload)
        stream = self.streams.get(stream_id)
        if stream is not None:  # else: a call that ended on this side (reset, cancelled)
            self._deliver(stream, stream._data, payload, bool(flags & _END_STREAM))

    def _on_control(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if kind == _HEADERS:
            if flags & _PADDED:
                payload = _unpad(payload)
            if flags & _PRIORITY_FLAG:
                payload = payload[5:]
            self._header_block = (stream_id, flags, bytearray(payload))
            if flags & _END_HEADERS:
                self._end_header_block()
        elif kind == _CONTINUATION:
            if self._header_block is None or self._header_block[0] != stream_id:
                raise _ConnectionFailure("a CONTINUATION frame out of place")
            self._header_block[2].extend(payload)
            if flags & _END_HEADERS:
                self._end_header_block()
        elif kind == _SETTINGS:
            if not flags & _ACK:  # acknowledged first: the server counts a larger window only from then on
                self.write(_frame(_SETTINGS, _ACK, 0))
                self._apply_settings(payload)
        elif kind == _WINDOW_UPDATE:
            increment = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if stream_id == 0:
                self.send_window += increment
                for stream in list(self.streams.values()):
                    if stream._pending:
                        stream.flush()
            elif (stream := self.streams.get(stream_id)) is not None:
                stream.send_window += increment
                if stream._pending:
                    stream.flush()
        elif kind == _PING:
            if not flags & _ACK:
                self.write(_frame(_PING, _ACK, 0, payload))
        elif kind == _RST_STREAM:
            stream = self.streams.get(stream_id)
            if stream is not None:
                error = int.from_bytes(payload[:4], "big")
                code = {_REFUSED_STREAM: "UNAVAILABLE", _CANCEL: "CANCELLED"}.get(error, "INTERNAL")
                stream._finish(code, f"the server reset the call (HTTP/2 error {error})")
        elif kind == _GOAWAY:
            self.going_away = True
            last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            for stream in [s for s in self.streams.values() if s.id > last]:
                stream._finish("UNAVAILABLE", "the server is going away and did not take the call")
            if not self.streams:
                self.close()
        elif kind == _PUSH_PROMISE:
            raise _ConnectionFailure("the server pushed a stream, which was disabled")
        # PRIORITY and unknown frame types are ignored (RFC 9113 §5.5)

    def _end_header_block(self) -> None:
        assert self._header_block is not None
        stream_id, flags, block = self._header_block
        self._header_block = None
        try:
            headers = self._decoder.decode(bytes(block))
        except self._header_errors as error:
            raise _ConnectionFailure(f"undecodable header block: {error}") from error
        stream = self.streams.get(stream_id)
        if stream is not None:
            self._deliver(stream, stream._headers, headers, bool(flags & _END_STREAM))

    def _apply_settings(self, payload: bytes) -> None:
        for offset in range(0, len(payload) - 5, 6):
            key = int.from_bytes(payload[offset : offset + 2], "big")
            value = int.from_bytes(payload[offset + 2 : offset + 6], "big")
            if key == _INITIAL_WINDOW_SIZE:
                delta, self.peer_initial_window = value - self.peer_initial_window, value
                for stream in list(self.streams.values()):
                    stream.send_window += delta
                    if stream._pending and delta > 0:
                        stream.flush()
            elif key == _MAX_FRAME_SIZE:
                self.peer_max_frame = value
            elif key == _MAX_CONCURRENT_STREAMS:
                self.peer_max_streams = value
            elif key == _HEADER_TABLE_SIZE:
                self._encoder.header_table_size = value

    def _deliver(self, stream: Http2Stream, handler: Callable[..., None], payload: object, end: bool) -> None:
        """Hand a frame to its call: what the call's callbacks raise ends that call, not the connection."""
        try:
            handler(payload, end)
        except Exception as error:
            log.exception("gRPC call %d to %s failed in its callback", stream.id, self.authority)
            if not stream.closed:
                stream.cancel(f"the caller's callback raised {error!r}")

    def _fail(self, reason: str) -> None:
        self._fail_streams(reason)
        if self.transport is not None:
            self.transport.close()

    def _fail_streams(self, reason: str) -> None:
        if self.lost is None:
            self.lost = reason
        for stream in list(self.streams.values()):
            if not stream.closed:
                stream._finish("UNAVAILABLE", reason)


class _ConnectionFailure(Exception):
    """The server broke the HTTP/2 protocol: the connection is closed."""


def _unpad(payload: bytes) -> bytes:
    pad = payload[0] if payload else 0
    if pad >= len(payload):
        raise _ConnectionFailure("padding longer than its frame")
    return payload[1 : len(payload) - pad]


def split_address(address: str) -> tuple[str, str | int | None]:
    """``host:port``, ``[v6]:port`` -> (host, port); ``unix:/path`` (or ``unix:///path``) -> (path, None)."""
    if address.startswith("unix:"):
        path = address[len("unix:") :]
        return ("/" + path.lstrip("/") if path.startswith("//") else path), None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"not a gRPC address: [{address}] (HOST:PORT or unix:/PATH)")
    return host.strip("[]"), int(port)


async def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Http2Connection:
    """Open a connection to ``address`` (``host:port`` or ``unix:/path``); OSError if it cannot."""
    loop = asyncio.get_running_loop()
    where, port = split_address(address)
    connection = Http2Connection("localhost" if port is None else address)
    try:
        async with asyncio.timeout(timeout):
            if port is None:
                await loop.create_unix_connection(lambda: connection, str(where))
            else:
                await loop.create_connection(lambda: connection, str(where), port)
    except TimeoutError:
        raise ConnectionError(f"cannot connect to {address} within {timeout:g} s") from None
    except OSError as error:
        raise ConnectionError(f"cannot connect to {address}: {error.strerror or error}") from error
    return connection


class ConnectionPool:
    """One connection per address, opened on first use and again after it is lost."""

    def __init__(self) -> None:
        self._connections: dict[str, Http2Connection] = {}
        self._connecting: dict[str, asyncio.Future[Http2Connection]] = {}

    async def connection(self, address: str) -> Http2Connection:
        connection = self._connections.get(address)
        if connection is not None and connection.usable:
            return connection
        pending = self._connecting.get(address)
        if pending is None:  # concurrent trials share one attempt
            pending = self._connecting[address] = asyncio.ensure_future(connect(address))
            pending.add_done_callback(lambda done: self._connected(address, done))
        connection = await asyncio.shield(pending)
        if connection.usable:
            self._connections[address] = connection
        return connection

    def _connected(self, address: str, attempt: asyncio.Future[Http2Connection]) -> None:
        self._connecting.pop(address, None)
        if not attempt.cancelled():
            attempt.exception()  # retrieved: its waiters may all be gone

    async def open_stream(
        self, address: str, path: str, metadata: Sequence[tuple[str, str]], on_message: MessageCallback,
        on_end: EndCallback,
    ) -> Http2Stream:  # fmt: skip
        connection = await self.connection(address)
        return connection.open_stream(path, metadata, on_message, on_end)

    def close(self) -> None:
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()
