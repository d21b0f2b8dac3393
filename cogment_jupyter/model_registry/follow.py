"""``LatestModel``: a model's latest iteration, kept current in the background.

What a model-following actor reads between ticks. One task per (registry, model) in a process,
on the event loop that first asked for it (the lab's loop, a ``process=True`` child's loop),
watches ``VersionUpdate``, loads each new iteration (streamed into a spool file and decoded
there, in worker threads) and swaps it in; readers only compare a counter and take a
reference, so a tick never waits for a download. The task reconnects by itself when the
registry restarts and waits for a model that does not exist yet.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from cogment_jupyter.model_registry.infos import RegistryError, UnknownModelError, VersionInfo

log = logging.getLogger(__name__)

#: seconds between attempts when the registry does not answer or the model does not exist yet
RETRY = 0.5


class ModelNotAvailable(RuntimeError):
    """No iteration of the model could be loaded in time; the message says why and what to do."""


class LatestModel:
    """The latest iteration of ``name`` in the registry at ``endpoint`` (use :meth:`follow`)."""

    _followed: ClassVar[dict[tuple[str, str], LatestModel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self, endpoint: str, name: str, loop: asyncio.AbstractEventLoop, spool_dir: str | Path | None = None
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        self.spool_dir = spool_dir
        #: increases with every iteration loaded (0: none yet); compare it to notice a new one
        self.version = 0
        self.info: VersionInfo | None = None
        self.value: Any = None
        #: why no iteration is loaded (None when all is well)
        self.problem: str | None = None
        self._changed = threading.Condition()
        self._loop = loop
        self._task: concurrent.futures.Future[None] | asyncio.Task[None] | None = None

    @classmethod
    def follow(
        cls,
        endpoint: str,
        name: str,
        spool_dir: str | Path | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> LatestModel:
        """The process's follower of this model, started on ``loop`` (default: the running one)
        on first use and shared by every actor following it."""
        key = (endpoint, name)
        with cls._lock:
            latest = cls._followed.get(key)
            if latest is None or not latest.alive:
                latest = cls._followed[key] = cls(endpoint, name, loop or asyncio.get_running_loop(), spool_dir)
                latest._start()
            return latest

    @classmethod
    def stop_following(cls, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Stop the followers running on ``loop`` (all with ``None``): that loop's lab is closing.
        Actors of other labs that shared one start their own on their next tick."""
        with cls._lock:
            keys = [key for key, latest in cls._followed.items() if loop is None or latest._loop is loop]
            followers = [cls._followed.pop(key) for key in keys]
        for latest in followers:
            latest.stop()

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and not self._loop.is_closed()

    def _start(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._task = self._loop.create_task(self._follow(), name=f"cogment model {self.name}")
        else:
            self._task = asyncio.run_coroutine_threadsafe(self._follow(), self._loop)

    def stop(self) -> None:
        task = self._task
        if task is None or task.done() or self._loop.is_closed():
            return
        if isinstance(task, asyncio.Task):
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(task.cancel)
        else:
            task.cancel()

    # ------------------------------------------------------------------ reading

    def snapshot(self) -> tuple[int, VersionInfo | None, Any]:
        """``(version, info, value)`` at once (an iteration loaded meanwhile is not mixed in)."""
        with self._changed:
            return self.version, self.info, self.value

    @property
    def iteration(self) -> int:
        """The number of the iteration loaded (0: none yet)."""
        info = self.info
        return info.version_number if info is not None else 0

    def wait(self, timeout: float, newer_than: int = 0) -> tuple[int, VersionInfo | None, Any]:
        """Block until an iteration numbered above ``newer_than`` is loaded (never call it from the
        follower's own loop); ``ModelNotAvailable`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.version == 0 or self.iteration <= newer_than:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.alive:
                    why = f": {self.problem}" if self.problem else ""
                    which = f"after iteration {newer_than} " if newer_than else ""
                    raise ModelNotAvailable(
                        f"no iteration of model {self.name!r} {which}loaded from {self.endpoint} within "
                        f"{timeout:g} s{why}; publish one (lab.models.publish({self.name!r}, ...))"
                    )
                self._changed.wait(min(remaining, 0.25))
            return self.version, self.info, self.value

    async def await_first(self, timeout: float) -> tuple[int, VersionInfo | None, Any]:
        """:meth:`wait` for the first iteration without blocking the caller's event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.wait, timeout)

    # ------------------------------------------------------------------ the task

    async def _follow(self) -> None:
        from cogment_jupyter.model_registry.client import RegistryClient

        client = RegistryClient(self.endpoint, self.spool_dir)
        try:
            while True:
                try:
                    async for info in client.updates(self.name):
                        if self.info is not None and _same(info, self.info):
                            continue  # (re-sent when the stream reconnects)
                        loaded, value = await client.load(self.name, info.version_number)
                        self._swap(loaded, value)
                except UnknownModelError:
                    self.problem = f"there is no model {self.name!r} in the registry (yet)"
                except RegistryError as error:
                    self.problem = str(error)
                    log.debug("Following model [%s]: %s", self.name, error)
                except Exception as error:  # an iteration that does not decode: keep the last good one
                    self.problem = f"{type(error).__name__}: {error}"
                    log.warning("Following model [%s]: %s", self.name, self.problem)
                await asyncio.sleep(RETRY)
        finally:
            with self._changed:
                self._changed.notify_all()
            await client.close()

    def _swap(self, info: VersionInfo, value: Any) -> None:
        with self._changed:
            self.info, self.value = info, value
            self.version += 1
            self.problem = None
            self._changed.notify_all()
        log.info("Model [%s]: iteration %d loaded", self.name, info.version_number)

    def __repr__(self) -> str:
        return f"LatestModel({self.name!r} at {self.endpoint}, iteration={self.iteration or None})"


def _same(one: VersionInfo, other: VersionInfo) -> bool:
    """The same iteration (a restarted registry may reuse the number of a published one it dropped)."""
    return (one.version_number, one.data_hash, one.creation_timestamp) == (
        other.version_number,
        other.data_hash,
        other.creation_timestamp,
    )
