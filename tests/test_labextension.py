"""The JupyterLab panel: its unit tests pass, the committed build is a fresh build of labextension/,
and installing the package installs and enables it as a prebuilt extension.

The build in cogment_jupyter/labextension is committed so a clone works without node; the
freshness test keeps it honest (the build is byte-for-byte reproducible, wherever the repository
is). The npm tests need node and ``npm ci`` in labextension/ (CI does both).
"""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "labextension"
BUILT = REPO / "cogment_jupyter" / "labextension"
NAME = json.loads((SOURCE / "package.json").read_text())["name"]
INSTALLED = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / NAME


def _missing_npm() -> str | None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm are not installed (CI installs them)"
    if not (SOURCE / "node_modules").is_dir():
        return "labextension/node_modules is missing: run `npm ci` in labextension/ (CI does)"
    return None


needs_npm = pytest.mark.skipif(_missing_npm() is not None, reason=_missing_npm() or "")


def run(cmd: list[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=SOURCE, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@needs_npm
def test_npm_test_passes() -> None:
    """Type check plus the vitest unit tests of what the panel shows."""
    out = run(["npm", "test", "--", "--reporter=dot"]).stdout
    assert "passed" in out


@needs_npm
def test_committed_build_matches_a_fresh_build(tmp_path: Path) -> None:
    run(["npm", "run", "build", "--", "--outdir", str(tmp_path)])
    stale = "is stale: run `npm run build` in labextension/ and commit cogment_jupyter/labextension"
    assert files(tmp_path) == files(BUILT), f"{BUILT.relative_to(REPO)} {stale}"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, BUILT, files(BUILT), shallow=False)
    assert not mismatch and not errors, f"{BUILT.relative_to(REPO)} {stale} ({mismatch + errors})"


def test_the_wheel_installs_it_as_a_prebuilt_extension() -> None:
    shared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "shared-data"
    ]
    destination = f"share/jupyter/labextensions/{NAME}"
    assert shared["cogment_jupyter/labextension"] == destination
    assert shared["labextension/install.json"] == f"{destination}/install.json"
    install = json.loads((SOURCE / "install.json").read_text())
    assert install["packageManager"] == "python" and install["packageName"] == "cogment_jupyter"
    built = json.loads((BUILT / "package.json").read_text())
    assert built["name"] == NAME
    assert (BUILT / built["jupyterlab"]["_build"]["load"]).is_file()


def test_installed_and_enabled() -> None:
    """What `uv sync` installed is the committed build, and JupyterLab loads it."""
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists() or not (Path(sys.prefix) / "share" / "jupyter" / "lab").exists():
        pytest.skip("JupyterLab is not installed in this environment (uv sync --group dev)")
    assert INSTALLED.is_dir(), f"{INSTALLED} is missing: `uv sync` installs it (shared-data of the wheel)"
    reinstall = "is not the committed build: run `uv sync --reinstall-package cogment_jupyter`"
    assert files(INSTALLED) == sorted([*files(BUILT), "install.json"]), f"{INSTALLED} {reinstall}"
    _, mismatch, errors = filecmp.cmpfiles(BUILT, INSTALLED, files(BUILT), shallow=False)
    assert not mismatch and not errors, f"{INSTALLED} {reinstall} ({mismatch + errors})"
    proc = subprocess.run(
        [str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    version = json.loads((BUILT / "package.json").read_text())["version"]
    assert f"{NAME} v{version} enabled OK (python, cogment_jupyter)" in listing, listing
