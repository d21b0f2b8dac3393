"""Fixtures: our model registry on a loopback port, and the official SDK's client for it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import cogment
import pytest

from cogment_jupyter.model_registry.service import ModelRegistryServer
from tests import sdk_cog_settings


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[ModelRegistryServer]:
    server = ModelRegistryServer(tmp_path / "models")
    await server.start()
    yield server
    await server.stop(0)


async def sdk_registry(endpoint: str):
    """``Context.get_model_registry_v2``, exactly as SDK users write it."""
    context = cogment.Context(user_id="tests", cog_settings=sdk_cog_settings, prometheus_registry=None)
    return await context.get_model_registry_v2(cogment.Endpoint(endpoint))


@dataclass
class RegistryProcess:
    """``cogment-jupyter services model_registry`` as a child process."""

    process: subprocess.Popen[str]
    endpoint: str

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory (``VmHWM``), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc status")

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=20)


def start_registry_process(archive: Path, *extra: str) -> RegistryProcess:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cogment_jupyter.cli",
            "services",
            "model_registry",
            "--port=0",
            f"--archive_dir={archive}",
            "--log_level=warning",
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    line = process.stdout.readline()
    if not line.startswith("model_registry ready: "):
        process.kill()
        raise AssertionError(f"the registry did not start: {line!r}")
    return RegistryProcess(process, line.split()[2])


@pytest.fixture
def registry_process(tmp_path: Path) -> Iterator[RegistryProcess]:
    running = start_registry_process(tmp_path / "archive")
    yield running
    if running.process.poll() is None:
        running.stop()
