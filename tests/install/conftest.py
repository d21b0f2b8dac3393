"""The built distributions, and a report of how long each plain-pip install took."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "install"
#: (what, seconds) of every environment these tests made, for the summary
TIMINGS: dict[str, list[tuple[str, float]]] = {}


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dists]:
    """The wheel and sdist of this checkout, built as a contributor does (``uv build``)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("building the wheel and sdist needs uv (pip install uv)")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [uv, "build", "--out-dir", str(out), str(ROOT)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    yield Dists(next(out.glob("*.whl")), next(out.glob("*.tar.gz")))


def pytest_terminal_summary(terminalreporter) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("plain pip installs (seconds)")
    for name, steps in TIMINGS.items():
        total = sum(seconds for _, seconds in steps)
        detail = ", ".join(f"{step}: {seconds:.1f}" for step, seconds in steps)
        terminalreporter.write_line(f"{name}: {total:.1f} s ({detail})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "install-times.json").write_text(json.dumps(TIMINGS, indent=2))
