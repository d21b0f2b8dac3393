"""A bounded soak: 20,000 back-to-back trials (under a minute here) in a fresh process, whose
memory must not grow past a small allowance per 1,000 trials once warm.

Warm means past what a lab keeps by design: the orchestrator's last 1,000 ended trials and the
lab's last 256 finished handles (and SQLite's and the allocators' caches, which fill early).
Growth is the median pairwise (Theil-Sen) slope of the resident memory (after a garbage collection) over the
trials that follow: a leak of 1 KiB a trial shows as 1 MiB per 1,000.
"""

from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.access import ROOT

TRIALS = 20_000
WARM_UP = 2000
#: MiB per 1,000 trials after warm-up (a steady lab measures ~0; noise stays well under this)
ALLOWANCE = 1.0


@pytest.mark.timeout(600)  # ~35 s on a quiet machine; a loaded one takes several times that
def test_memory_stays_flat_over_thousands_of_back_to_back_trials(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tests.lab.soak_child", str(tmp_path / "store"), str(TRIALS)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    marks = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert marks[-1]["trials"] == TRIALS
    warm = [(mark["trials"], mark["rss"] / 2**20) for mark in marks if mark["trials"] >= WARM_UP]
    # Theil-Sen (the median of the slopes between every two marks): a steady leak is a trend every
    # pair sees, while the few-MiB steps of the allocator now and then move only the pairs across them.
    slope = statistics.median((y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in itertools.combinations(warm, 2))
    per_thousand = slope * 1000
    trace = ", ".join(f"{x}: {y:.1f}" for x, y in warm[:: max(1, len(warm) // 8)])
    assert per_thousand <= ALLOWANCE, f"memory grows {per_thousand:.2f} MiB per 1,000 trials after warm-up ({trace})"
