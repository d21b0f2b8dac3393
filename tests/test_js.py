"""The widgets' front end: its own unit tests pass, and the committed bundle is a fresh build of js/src.

The bundle in cogment_jupyter/notebook/static is committed so a clone works without node; this
test is what keeps it honest. Needs node and ``npm ci`` in js/ (CI installs both).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
JS = REPO / "js"
STATIC = REPO / "cogment_jupyter" / "notebook" / "static"
BUNDLE_FILES = ("play.js", "play.css")

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (CI installs it)"),
    pytest.mark.skipif(
        not (JS / "node_modules").is_dir(), reason="js/node_modules is missing: run `npm ci` in js/ (CI does)"
    ),
]


def run(cmd: list[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=JS, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_npm_test_passes() -> None:
    """Type check plus the vitest unit tests of the key and frame code."""
    out = run(["npm", "test", "--", "--reporter=dot"]).stdout
    assert "passed" in out


def test_committed_bundle_matches_a_fresh_build(tmp_path: Path) -> None:
    run(["node", "build.mjs", "--outdir", str(tmp_path)])
    for name in BUNDLE_FILES:
        fresh, committed = tmp_path / name, STATIC / name
        assert committed.exists(), f"{committed} is missing: run `npm run build` in js/ and commit it"
        assert fresh.read_bytes() == committed.read_bytes(), (
            f"{committed.relative_to(REPO)} is stale: run `npm run build` in js/ and commit the result"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(BUNDLE_FILES)
