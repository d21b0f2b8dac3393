"""``tests/lab``, ``tests/engine`` and ``tests/transport`` once more, every trial on the engine's tick loop.

The first pass runs in-process trials on the fused loop wherever it applies (the default);
this one runs the same tests in a child ``pytest`` with ``COGMENT_JUPYTER_FUSED_TICKS=0``,
the default of ``Lab(fused_ticks=...)`` (and of the orchestrators the tests build), so that
both loops pass every test of the lab and the engine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cogment_jupyter.lab.servers import FUSED_TICKS_VARIABLE

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(1800)
@pytest.mark.skipif(os.environ.get(FUSED_TICKS_VARIABLE) == "0", reason="this already is the engine-loop pass")
def test_the_lab_engine_and_transport_tests_pass_on_the_engine_loop():
    env = {**os.environ, FUSED_TICKS_VARIABLE: "0"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/lab",
        "tests/engine",
        "tests/transport",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1700)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
    assert result.returncode == 0, f"the engine-loop pass failed ({' '.join(command)}):\n{tail}"
    assert " passed" in result.stdout.splitlines()[-1], tail
