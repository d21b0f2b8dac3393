"""Run ``cogment-jupyter services runtime`` as a child of the Jupyter server and keep it alive.

One asyncio task per supervisor launches the child, waits for its runtime file (the readiness
signal), publishes the discovery file kernels read, and waits for the child to exit. An exit
the supervisor did not ask for is counted as a restart and repaired: the child is launched
again on the same endpoints (its private sockets are named after this process; with a TCP
``host``, the same ports), so clients holding the endpoints reconnect by themselves. Launches
that keep failing back off (up to ``MAX_BACKOFF`` s) and stop after ``max_failures`` in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cogment_jupyter.access import port_of
from cogment_jupyter.shared_runtime import SharedRuntime, read_runtime_file, write_json_atomically

#: seconds between readiness checks of a starting child
POLL = 0.05
#: seconds given to a stopping child before SIGKILL
STOP_GRACE = 5.0
MAX_BACKOFF = 10.0
#: a child that ran this long before dying starts the backoff from zero again
STABLE_AFTER = 30.0
LOG_TAIL_BYTES = 2000


class State(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPING = "stopping"


class RuntimeUnavailable(RuntimeError):
    """The runtime is not running; the message says why."""


class LaunchError(RuntimeError):
    """A child exited or timed out before it was ready."""


@dataclass
class RuntimePaths:
    """The files of one supervised runtime (all under the server's runtime directory)."""

    runtime_file: Path  # written by the child when ready
    discovery_file: Path  # written by us for kernels
    log_file: Path  # the child's stdout and stderr


def _endpoints(runtime: SharedRuntime) -> dict[str, str]:
    endpoints = {"orchestrator": runtime.orchestrator, "datastore": runtime.datastore}
    if runtime.model_registry:
        endpoints["model_registry"] = runtime.model_registry
    return endpoints


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class RuntimeSupervisor:
    """Starts, watches, restarts and stops the shared runtime process."""

    def __init__(
        self,
        datastore: Path,
        paths: RuntimePaths,
        *,
        log: logging.Logger,
        discovery_extra: Mapping[str, Any] | None = None,
        startup_timeout: float = 30.0,
        max_failures: int = 5,
        log_level: str = "info",
        python: str = sys.executable,
        host: str | None = None,
    ) -> None:
        self.datastore = datastore
        self.paths = paths
        self.log = log
        self.discovery_extra = dict(discovery_extra or {})
        self.startup_timeout = startup_timeout
        self.max_failures = max_failures
        self.log_level = log_level
        self.python = python
        #: None: the runtime listens on private Unix sockets; else over TCP on this host
        self.host = host
        self.state = State.STOPPED
        self.runtime: SharedRuntime | None = None
        self.restarts = 0
        self.last_exit: dict[str, Any] | None = None
        self.error: str | None = None
        self.running_since: float | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._ports = (0, 0, 0)

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Begin supervising (returns at once; :meth:`wait_ready` waits). Idempotent."""
        if self._task is not None and not self._task.done():
            return
        self.error = None
        self._set_state(State.STARTING)
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name="cogment_jupyter runtime")

    async def restart(self) -> None:
        """Stop the child (if any) and start a fresh one; counted as a restart."""
        had_run = self.runtime is not None or self.last_exit is not None
        await self.stop()
        if had_run:
            self.restarts += 1
        self.start()

    async def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after ``STOP_GRACE`` s) and the supervision."""
        task, self._task = self._task, None
        if task is None:
            return
        self._set_state(State.STOPPING)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self._terminate()
        for path in (self.paths.discovery_file, self.paths.runtime_file):
            path.unlink(missing_ok=True)
        self.runtime = None
        self.running_since = None
        self._set_state(State.STOPPED)

    async def wait_ready(self, timeout: float | None = None) -> SharedRuntime:
        """The running runtime; waits while it starts or restarts. Raises :class:`RuntimeUnavailable`."""
        timeout = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            if self.state is State.RUNNING and self.runtime is not None:
                return self.runtime
            if self.state in (State.STOPPED, State.FAILED, State.STOPPING):
                raise RuntimeUnavailable(self.reason())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeUnavailable(f"the runtime is still {self.state} after {timeout} s; {self.reason()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def reason(self) -> str:
        """Why the runtime is not running (or that it is)."""
        if self.state is State.RUNNING:
            return "running"
        parts = [f"the Cogment runtime is {self.state}"]
        if self.error:
            parts.append(self.error)
        elif self.last_exit is not None:
            parts.append(f"it {self.last_exit['reason']}")
        if self.state is State.STOPPED and not self.error:
            parts.append("it starts on first use")
        return "; ".join(parts)

    def status(self) -> dict[str, Any]:
        runtime = self.runtime if self.state is State.RUNNING else None
        return {
            "state": str(self.state),
            "pid": runtime.pid if runtime else None,
            "endpoints": _endpoints(runtime) if runtime else None,
            "versions": runtime.versions if runtime else None,
            "started_at": runtime.started_at if runtime else None,
            "uptime": time.monotonic() - self.running_since if runtime and self.running_since else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "error": self.error,
            "reason": None if runtime else self.reason(),
            "datastore_dir": str(self.datastore),
            "discovery_file": str(self.paths.discovery_file),
            "log_file": str(self.paths.log_file),
        }

    # ------------------------------------------------------------------ the task

    def _set_state(self, state: State) -> None:
        self.state = state
        self._changed.set()
        self._changed = asyncio.Event()

    async def _supervise(self) -> None:
        failures = 0
        first = True
        while True:
            if not first:
                self._set_state(State.RESTARTING)
            first = False
            try:
                process, runtime = await self._launch()
            except LaunchError as error:
                failures += 1
                self.error = str(error)
                self.log.error(
                    "cogment_jupyter: the runtime did not start (%d/%d): %s", failures, self.max_failures, error
                )
                if failures >= self.max_failures:
                    self.error = f"gave up after {failures} failed starts; last: {error}"
                    self._set_state(State.FAILED)
                    return
                self._ports = (0, 0, 0)  # perhaps someone took our ports: take free ones
                await asyncio.sleep(min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1)))
                continue
            self.runtime, self.error = runtime, None
            registry_port = port_of(runtime.model_registry) if runtime.model_registry else 0
            self._ports = (port_of(runtime.orchestrator), port_of(runtime.datastore), registry_port)
            self.running_since = time.monotonic()
            self._publish(runtime)
            self._set_state(State.RUNNING)
            self.log.info(
                "cogment_jupyter: runtime %d ready: orchestrator %s, datastore %s",
                runtime.pid,
                runtime.orchestrator,
                runtime.datastore,
            )
            returncode = await process.wait()
            ran = time.monotonic() - self.running_since
            self.running_since = None
            self.last_exit = {
                "pid": process.pid,
                "returncode": returncode,
                "reason": _describe_exit(returncode),
                "at": time.time(),
                "ran_for": round(ran, 3),
                "log_tail": self._log_tail(),
            }
            self.restarts += 1
            failures = 0 if ran >= STABLE_AFTER else failures + 1
            self.log.warning(
                "cogment_jupyter: the runtime (pid %d) %s after %.1f s; restarting it (restart %d)",
                process.pid,
                self.last_exit["reason"],
                ran,
                self.restarts,
            )
            if failures:
                if failures >= self.max_failures:
                    self.error = f"gave up: it died {failures} times in a row within {STABLE_AFTER:.0f} s of starting"
                    self._set_state(State.FAILED)
                    return
                self._set_state(State.RESTARTING)
                await asyncio.sleep(min(MAX_BACKOFF, 0.25 * 2 ** (failures - 1)))

    def _command(self) -> list[str]:
        command = [
            self.python,
            "-m",
            "cogment_jupyter.cli",
            "services",
            "runtime",
            "--datastore",
            str(self.datastore),
            "--runtime_file",
            str(self.paths.runtime_file),
            "--parent_pid",
            str(os.getpid()),
            "--log_level",
            self.log_level,
        ]
        if self.host is not None:
            orchestrator_port, datastore_port, registry_port = self._ports
            command += ["--host", self.host, "--orchestrator_port", str(orchestrator_port)]
            command += ["--datastore_port", str(datastore_port), "--model_registry_port", str(registry_port)]
        return command

    async def _launch(self) -> tuple[asyncio.subprocess.Process, SharedRuntime]:
        self.paths.runtime_file.unlink(missing_ok=True)
        self.paths.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.paths.log_file, "ab") as log_stream:
            # own session: a Ctrl-C at the server's terminal must not kill the runtime under it
            process = await asyncio.create_subprocess_exec(
                *self._command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_stream,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        self._process = process
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if process.returncode is not None:
                raise LaunchError(f"it {_describe_exit(process.returncode)}: {self._log_tail()}")
            if self.paths.runtime_file.exists():
                with contextlib.suppress(ValueError):
                    runtime = read_runtime_file(self.paths.runtime_file, "the Jupyter server")
                    if runtime.pid == process.pid:
                        return process, runtime
            if time.monotonic() > deadline:
                await self._terminate()
                raise LaunchError(f"not ready within {self.startup_timeout:.0f} s: {self._log_tail()}")
            await asyncio.sleep(POLL)

    def _publish(self, runtime: SharedRuntime) -> None:
        """The discovery file: what the child wrote, plus who supervises it."""
        import json

        document = json.loads(self.paths.runtime_file.read_text())
        document.update(self.discovery_extra, server_pid=os.getpid(), restarts=self.restarts)
        write_json_atomically(self.paths.discovery_file, document)

    async def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE)
        except TimeoutError:
            self.log.warning("cogment_jupyter: the runtime (pid %d) ignored SIGTERM; killing it", process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def _log_tail(self) -> str:
        try:
            with open(self.paths.log_file, "rb") as stream:
                stream.seek(0, os.SEEK_END)
                stream.seek(max(0, stream.tell() - LOG_TAIL_BYTES))
                tail = stream.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        lines = [line for line in tail.splitlines() if line.strip()][-5:]
        return " | ".join(lines) if lines else "(empty log)"
