"""A fresh virtual environment made with ``python -m venv`` and filled with plain ``pip``: what a
user, a JupyterHub image or a Colab/conda session does (no uv, no overrides, no lock)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class PipEnv:
    root: Path
    #: what made it: (step, seconds)
    timings: list[tuple[str, float]] = field(default_factory=list)

    @classmethod
    def create(cls, python: Path, root: Path) -> PipEnv:
        env = cls(root)
        env._timed("python -m venv", [str(python), "-m", "venv", str(root)])
        return env

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)

    @property
    def python(self) -> str:
        return self.bin("python")

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment an activated venv gives its commands (nothing from the dev env leaks in)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHON"))}
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        env.update(extra)
        return env

    def pip_install(self, *requirements: str) -> float:
        """``pip install`` (the pip that came with this CPython); returns its seconds."""
        return self._timed(
            f"pip install {' '.join(Path(r).name for r in requirements)}",
            [self.python, "-m", "pip", "install", "--progress-bar", "off", *requirements],
        )

    def run(self, *command: str, timeout: float = 300, check: bool = True, **extra_env: str) -> str:
        """Run a command of this environment; stdout and stderr together, colours removed."""
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=self.environ(**extra_env), cwd=self.root
        )
        output = ANSI.sub("", result.stdout + result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"`{' '.join(command)}` failed ({result.returncode}):\n{output[-6000:]}")
        return output

    def _timed(self, step: str, command: list[str]) -> float:
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, timeout=1500, env=self.environ())
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise AssertionError(f"`{' '.join(command)}` failed:\n{(result.stdout + result.stderr)[-6000:]}")
        self.timings.append((step, seconds))
        return seconds
