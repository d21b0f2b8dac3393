"""Cogment Lab 0.1.5 itself, from PyPI, in a Python 3.10 venv of its own: the real thing the
interop tests run against.

Lab cannot be installed beside this package (it needs Python <= 3.10 and the 2022 pins of the
official SDK), so its services run in their own interpreter (``serve_lab.py``) and talk to the
lab over gRPC, as a Lab user's services would. The venv is made once with plain pip into
``.venvs/cogment-lab-0.1.5`` (git-ignored, reused while it imports); without a CPython 3.10 or
without PyPI the tests are skipped with a message saying so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.install.pythons import find_python, missing

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venvs" / "cogment-lab-0.1.5"
REQUIREMENT = "cogment_lab==0.1.5"
SERVE = Path(__file__).with_name("serve_lab.py")
#: What the tests' Lab service process serves (see serve_lab.py).
SERVED = {
    "envs": {
        "cartpole": {"gym": "CartPole-v1", "render": True},
        "rps": {"aec": "pettingzoo.classic.rps_v2.env"},
    },
    "actors": {"lean": {"lean": True}, "random": {"random": "CartPole-v1"}},
}


def _imports(python: Path) -> bool:
    probe = [str(python), "-c", "import cogment_lab.envs, cogment_lab.actors"]
    return subprocess.run(probe, capture_output=True, timeout=120).returncode == 0


@pytest.fixture(scope="session")
def lab_python() -> Path:
    """The interpreter of a venv with Cogment Lab 0.1.5 (made with plain pip on first use)."""
    python = VENV / "bin" / "python"
    if python.exists() and _imports(python):
        return python
    base = find_python("3.10")
    if base is None:
        pytest.skip(missing("3.10") + " (Cogment Lab 0.1.5 needs Python <= 3.10)")
    subprocess.run([str(base), "-m", "venv", "--clear", str(VENV)], check=True, timeout=300)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--progress-bar", "off", REQUIREMENT],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    if install.returncode != 0:
        pytest.skip(f"pip could not install {REQUIREMENT} into {VENV} (is PyPI reachable?):\n{install.stderr[-2000:]}")
    assert _imports(python), f"{REQUIREMENT} installed into {VENV} but does not import"
    return python


class LabServices:
    """A process of Cogment Lab's own services (``SERVED``), all at one endpoint."""

    def __init__(self, python: Path) -> None:
        self.process = subprocess.Popen(
            [str(python), str(SERVE), json.dumps(SERVED)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"the Cogment Lab services did not start (said {line!r}; their stderr is above)")
        self.endpoint = f"grpc://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()  # serve_lab.py stops when its stdin closes
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def lab_services(lab_python: Path) -> Iterator[LabServices]:
    services = LabServices(lab_python)
    yield services
    services.stop()
