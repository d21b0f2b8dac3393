"""A background asyncio loop on its own thread: where every service and trial of a lab runs.

Cells return at once and keep returning while trials run, even when a cell blocks (a
training loop, ``time.sleep``): the kernel's own loop is never used. Everything that comes
from another thread (cells, widget callbacks on ipykernel subshells) enters through
:meth:`submit` / :meth:`call`, which are thread-safe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "cogment-jupyter") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the loop from any thread."""
        if not self.alive:
            coroutine.close()
            raise RuntimeError("the lab's runtime is stopped: start a new Lab (or run %cogment launch)")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop and wait for its result (never from the loop itself)."""
        if self.in_loop():
            coroutine.close()
            raise RuntimeError("blocking call from the lab's own loop: await the async form instead")
        return self.submit(coroutine).result(timeout)

    async def wrap(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await, from another loop (a notebook cell), a coroutine that runs on this loop."""
        if self.in_loop():
            return await coroutine
        return await asyncio.wrap_future(self.submit(coroutine))

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on the loop soon (thread-safe, fire and forget)."""
        if self.in_loop():
            function(*args)
        elif self.alive:
            self.loop.call_soon_threadsafe(function, *args)

    def stop(self, timeout: float = 5.0) -> None:
        if not self.alive:
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.in_loop():
            self._thread.join(timeout)
