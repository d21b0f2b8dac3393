"""One bidirectional Cogment stream as the engine's connections use it: typed messages sent by
plain calls, received by a callback, the init handshake read directly.

:class:`StreamPump` runs one over grpc.aio (a server's streams, a client joining a trial);
:class:`CallStream` runs a client call over :mod:`transport.http2`, on the event loop itself:
the orchestrator's streams to environments, service actors and datalogs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from cogment_jupyter.proto import common_pb2
from cogment_jupyter.transport.http2 import ConnectionPool, Http2Stream

#: the ``CommunicationState`` every message of every Cogment stream carries (§5, §6)
NORMAL = common_pb2.NORMAL
HEARTBEAT = common_pb2.HEARTBEAT
LAST = common_pb2.LAST
LAST_ACK = common_pb2.LAST_ACK
END = common_pb2.END

log = logging.getLogger(__name__)

_CLOSE = object()


class StreamPump:
    """Queue outgoing messages (non-blocking for the engine) and dispatch incoming ones.

    ``read``/``write`` are the stream's coroutines (a client call's or a server context's);
    ``finish_writing`` half-closes (client calls) and may be None (server streams end when
    their handler returns).
    """

    def __init__(
        self,
        name: str,
        read: Callable[[], Awaitable[Any]],
        write: Callable[[Any], Awaitable[None]],
        finish_writing: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self.name = name
        self._read = read
        self._write = write
        self._finish_writing = finish_writing
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._closing = False
        self.writer: asyncio.Task[None] | None = None
        self.reader: asyncio.Task[None] | None = None

    async def read(self) -> Any:
        """Read one message directly (during the init handshake); ``None`` at end of stream."""
        try:
            message = await self._read()
        except (grpc.aio.AioRpcError, grpc.RpcError) as error:
            raise ConnectionError(f"{self.name}: {_describe(error)}") from error
        return None if message is grpc.aio.EOF else message

    async def write_now(self, message: Any) -> None:
        try:
            await self._write(message)
        except (grpc.aio.AioRpcError, grpc.RpcError) as error:
            raise ConnectionError(f"{self.name}: {_describe(error)}") from error

    def start(self, on_message: Callable[[Any], None], on_closed: Callable[[str], None]) -> None:
        """Start the reader and writer tasks once the handshake is done."""
        loop = asyncio.get_running_loop()
        self.writer = loop.create_task(self._write_loop(on_closed), name=f"{self.name}-writer")
        self.reader = loop.create_task(self._read_loop(on_message, on_closed), name=f"{self.name}-reader")

    def send(self, message: Any) -> None:
        if not self._closing:
            self._queue.put_nowait(message)

    def close(self, last_message: Any | None = None) -> None:
        """Send ``last_message`` (if any), then stop writing. Idempotent."""
        if self._closing:
            return
        if last_message is not None:
            self._queue.put_nowait(last_message)
        self._queue.put_nowait(_CLOSE)
        self._closing = True

    @property
    def closing(self) -> bool:
        return self._closing

    async def _write_loop(self, on_closed: Callable[[str], None]) -> None:
        while True:
            message = await self._queue.get()
            if message is _CLOSE:
                if self._finish_writing is not None:
                    with contextlib.suppress(Exception):
                        await self._finish_writing()
                return
            try:
                await self._write(message)
            except Exception as error:  # the peer is gone; the reader reports it too
                log.debug("%s: write failed: %r", self.name, error)
                self._closing = True
                on_closed(f"write failed: {_describe(error)}")
                return

    async def _read_loop(self, on_message: Callable[[Any], None], on_closed: Callable[[str], None]) -> None:
        reason = "stream ended"
        try:
            while True:
                message = await self._read()
                if message is grpc.aio.EOF:
                    break
                on_message(message)
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except Exception as error:
            reason = _describe(error)
        finally:
            on_closed(reason)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait for the writer to flush and the reader to see the end of the stream."""
        tasks = [t for t in (self.writer, self.reader) if t is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def wait_writer(self) -> None:
        """Wait until ``close()`` was called and everything queued is written."""
        if self.writer is not None:
            await asyncio.wait([self.writer])

    def cancel(self) -> None:
        for task in (self.writer, self.reader):
            if task is not None:
                task.cancel()


class CallStream:
    """A client call over :mod:`transport.http2` with :class:`StreamPump`'s interface.

    A message is written by the call that sends it and handed to ``on_message`` by the
    connection as it arrives: no queue, no task. Before :meth:`start` (the handshake) replies
    wait in an inbox for :meth:`read`.
    """

    def __init__(self, name: str, reply_type: Any) -> None:
        self.name = name
        self._parse = reply_type.FromString
        self._stream: Http2Stream | None = None
        self._inbox: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._on_message: Callable[[Any], None] | None = None
        self._on_closed: Callable[[str], None] | None = None
        self._end: tuple[str, str] | None = None
        self._closing = False

    async def open(self, pool: ConnectionPool, address: str, path: str, metadata: Sequence[tuple[str, str]]) -> None:
        """Start the call (connecting to ``address`` first if needed); ConnectionError if it cannot."""
        try:
            self._stream = await pool.open_stream(address, path, metadata, self._received, self._finished)
        except (OSError, ValueError) as error:
            raise ConnectionError(f"{self.name}: UNAVAILABLE: {error}") from error

    def _received(self, data: bytes) -> None:
        message = self._parse(data)
        if self._on_message is not None:
            self._on_message(message)
        else:
            self._inbox.append(message)
            self._wake()

    def _finished(self, code: str, details: str) -> None:
        self._end = (code, details)
        self._closing = True
        if self._on_closed is not None:
            self._on_closed(self._reason())
        self._wake()

    def _reason(self) -> str:
        assert self._end is not None
        code, details = self._end
        return "stream ended" if code == "OK" else f"{code}: {details}"

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def read(self) -> Any:
        """The next message (during the init handshake); ``None`` at the end of the call."""
        while not self._inbox:
            if self._end is not None:
                if self._end[0] == "OK":
                    return None
                raise ConnectionError(f"{self.name}: {self._reason()}")
            await self._wait()
        return self._inbox.popleft()

    async def write_now(self, message: Any) -> None:
        if self._end is not None and self._end[0] != "OK":
            raise ConnectionError(f"{self.name}: {self._reason()}")
        self.send(message)

    def start(self, on_message: Callable[[Any], None], on_closed: Callable[[str], None]) -> None:
        """From now on messages go to ``on_message`` (those already read first), the end to ``on_closed``."""
        self._on_message = on_message
        self._on_closed = on_closed
        while self._inbox:
            on_message(self._inbox.popleft())
        if self._end is not None:
            on_closed(self._reason())

    def send(self, message: Any) -> None:
        if not self._closing and self._stream is not None:
            self._stream.send(message.SerializeToString())

    def close(self, last_message: Any | None = None) -> None:
        """Send ``last_message`` (if any), then half-close. Idempotent."""
        if self._closing:
            return
        if last_message is not None:
            self.send(last_message)
        self._closing = True
        if self._stream is not None:
            self._stream.end_sending()

    @property
    def closing(self) -> bool:
        return self._closing

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the server ended the call."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._end is None and self._stream is not None:
                    await self._wait()

    def cancel(self) -> None:
        if self._stream is not None:
            self._stream.cancel()


def _describe(error: BaseException) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return repr(error)
