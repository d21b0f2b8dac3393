"""Serving an environment or actor from a child process (``process=True``).

The object is sent with cloudpickle, so classes, closures and lambdas defined in a notebook
cell work (Cogment Lab needed importable modules). The child serves it as an ordinary
Cogment service, reachable as the lab's own endpoints are (``cogment_jupyter.access``: a
private Unix socket unless the lab serves over TCP), and reports its endpoint back; it exits
with its parent.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle

from cogment_jupyter.access import Reach
from cogment_jupyter.lab.logs import log_to_file

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0


@dataclass
class ServiceProcess:
    name: str
    kind: str  # "environment" or "actor"
    process: multiprocessing.process.BaseProcess
    endpoint: str  # grpc://...
    log_file: Path | None = None  # where its output goes (None: the kernel's output)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout)


def start_service_process(
    name: str, kind: str, component: Any, reach: Reach, log_file: Path | None = None
) -> ServiceProcess:
    """Spawn a process serving ``component`` under ``name``; returns once it listens.

    ``log_file``: where everything the process prints and logs goes (default: the kernel's output).
    """
    payload = cloudpickle.dumps(component)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=_serve_in_child,
        args=(name, kind, payload, reach, child, os.getpid(), log_file),
        name=f"cogment-jupyter-{kind}-{name}",
        daemon=True,
    )
    process.start()
    child.close()
    if not parent.poll(START_TIMEOUT):
        process.kill()
        raise RuntimeError(f"the {kind} service [{name}] did not start within {START_TIMEOUT:.0f} s")
    status, detail = parent.recv()
    if status != "ready":
        process.join(5)
        where = f" (its log: {log_file})" if log_file is not None else ""
        raise RuntimeError(f"the {kind} service [{name}] failed to start in its process: {detail}{where}")
    return ServiceProcess(name, kind, process, detail, log_file)


def _serve_in_child(
    name: str, kind: str, payload: bytes, reach: Reach, pipe: Any, parent_pid: int, log_file: Path | None
) -> None:
    os.environ.setdefault("COGMENT_LOG_LEVEL", "warning")  # the SDK's own logger ignores basicConfig
    if log_file is not None:
        log_to_file(log_file, f"[{kind} {name}]")
        logging.getLogger(__name__).info("the %s service [%s] starts (process %d)", kind, name, os.getpid())
    else:
        logging.basicConfig(level=logging.WARNING, format=f"[{kind} {name}] %(levelname)s %(name)s: %(message)s")
    try:
        component = cloudpickle.loads(payload)
    except Exception as error:
        pipe.send(("error", f"cannot rebuild the object in the child process: {error!r}"))
        return
    _exit_with_parent(parent_pid)
    asyncio.run(_serve(name, kind, component, reach, pipe))


async def _serve(name: str, kind: str, component: Any, reach: Reach, pipe: Any) -> None:
    from cogment_jupyter.transport.component_host import ComponentHost

    components = ComponentHost.serving(kind, name, component)
    try:
        server, endpoint = await components.start_server(reach.address(f"{kind}-{name}"))
    except OSError as error:
        pipe.send(("error", str(error)))
        return
    pipe.send(("ready", endpoint))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0.5)


def _exit_with_parent(parent_pid: int) -> None:
    """A watchdog: an orphaned service process must not outlive the kernel that started it."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            threading.Event().wait(1.0)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


__all__ = ["ServiceProcess", "start_service_process"]
