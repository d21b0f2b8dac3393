"""What the interrupt tests (a kernel's, a browser's) read: the datastore's trial count, and the
counts in run_trials' one-line summary."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path


def recorded_trials(db: Path) -> int:
    """Rows of the datastore's trials table, read as another process would (read-only)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return int(con.execute("select count(*) from trials").fetchone()[0])


def unchanged_for(seconds: float, read: Callable[[], int]) -> int:
    """``read()`` over a window of ``seconds``; fails as soon as the value changes."""
    first = read()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = read()
        assert value == first, f"changed from {first} to {value}"
        time.sleep(0.1)
    return first


def summary_counts(line: str) -> tuple[int, int]:
    """(finished, cancelled) from run_trials' interrupted line."""
    finished = re.search(r"interrupted: ([\d,]+) of", line)
    cancelled = re.search(r"; ([\d,]+) running (?:was|were) cancelled", line)
    assert finished, line
    return int(finished.group(1).replace(",", "")), int(cancelled.group(1).replace(",", "")) if cancelled else 0
