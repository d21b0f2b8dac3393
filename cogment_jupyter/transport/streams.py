"""One bidirectional Cogment stream: serialised writes from sync callers, and a reader loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

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


def _describe(error: BaseException) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return repr(error)
