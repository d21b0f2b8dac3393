"""The engine, transport and lab test folders on CPython 3.12 and 3.13 (the whole suite runs on 3.11).

Each version gets the contributors' environment, made by ``uv sync --frozen`` from this
repository's lock (the official SDK included, as the tests' client), in ``.venvs/<version>``
(git-ignored; kept between runs, re-synced each time), and runs ``pytest tests/engine tests/transport
tests/lab`` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.install.conftest import ROOT
from tests.install.pythons import find_python, missing

FOLDERS = ("tests/engine", "tests/transport", "tests/lab")


@pytest.mark.timeout(2400)
@pytest.mark.parametrize("minor", ["3.12", "3.13"])
def test_orchestrator_and_lab_tests_pass(minor: str):
    python = find_python(minor)
    if python is None:
        pytest.skip(missing(minor))
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("the contributors' environment of another Python is made with uv (pip install uv)")
    venv = ROOT / ".venvs" / minor
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    sync = [uv, "sync", "--frozen", "--python", str(python)]
    synced = subprocess.run(sync, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert synced.returncode == 0, synced.stderr[-4000:]
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", *FOLDERS, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=2100,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"CPython {minor}: {summary}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert " passed" in summary and "failed" not in summary, summary
