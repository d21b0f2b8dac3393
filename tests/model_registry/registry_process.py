"""``cogment-jupyter services model_registry`` as a child process (tests and bench/model_registry.py)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


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


def start_registry_process(archive: Path, *extra: str, port: int = 0) -> RegistryProcess:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cogment_jupyter.cli",
            "services",
            "model_registry",
            f"--port={port}",
            f"--archive_dir={archive}",
            "--log_level=warning",
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    line = process.stdout.readline()
    if not line.startswith("model_registry ready: "):
        process.kill()
        raise AssertionError(f"the registry did not start: {line!r}")
    return RegistryProcess(process, line.split()[2])
