"""Start ``cogment-jupyter serve`` (and other service commands) as separate processes for tests,
optionally inside a network namespace, and read the address each one announces."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_ANNOUNCED = re.compile(r"grpc://[^\s:]+:(\d+)")


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    banner: str

    def stop(self, timeout: float = 20.0) -> tuple[int, str]:
        """SIGTERM, then the exit code and what it wrote to stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
            raise AssertionError(f"{self.process.args} did not stop within {timeout} s of SIGTERM:\n{err}") from None
        return self.process.returncode, err


def python() -> list[str]:
    return [sys.executable]


def environment() -> dict[str, str]:
    """The tests' environment, with the repository importable (``tests.*`` modules) from anywhere."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def start(
    *command: str, netns: str | None = None, timeout: float = 60.0, announced: str = _ANNOUNCED.pattern
) -> Served:
    """Run ``command`` (``python`` arguments) and wait for the first line of its stdout, or of its
    stderr, matching ``announced`` (its port in group 1; by default ``grpc://HOST:PORT``);
    AssertionError with its output if it exits or stays silent."""
    argv = [*python(), *command]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    process = subprocess.Popen(
        argv, cwd=ROOT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    pattern = re.compile(announced)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline and selector.get_map():
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            line = key.fileobj.readline()
            if not line:  # that stream closed: the process is exiting
                selector.unregister(key.fileobj)
                continue
            lines.append(line)
            if match := pattern.search(line):
                selector.close()
                return Served(process, int(match.group(1)), "".join(lines))
    process.kill()
    _, err = process.communicate()
    raise AssertionError(f"{command} announced no address (exit code {process.returncode}):\n{''.join(lines)}{err}")


def serve(kind: str, name: str, target: str, host: str = "127.0.0.1", netns: str | None = None) -> Served:
    return start("-m", "cogment_jupyter", "serve", kind, name, target, "--host", host, "--port", "0", netns=netns)
