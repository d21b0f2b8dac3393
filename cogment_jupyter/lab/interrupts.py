"""What an interrupt (the notebook's stop button, Ctrl-C) does to the trials a cell waits for.

The cell stops at once; the trials it waited for are cancelled (hard termination with
``engine.records.INTERRUPTED``: the steps so far stay recorded, the last tick carries the forced
termination event, the record says why) and the cell says in one line what happened, with no
traceback through the lab's internals.
"""

from __future__ import annotations

import concurrent.futures
import contextlib

#: how long an interrupted cell waits for its cancelled trials to be recorded
RECORD_TIMEOUT_S = 10.0


class TrialsInterrupted(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` that a notebook shows as its one-line summary, not a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's own rendering
        return [f"\x1b[0;31mKeyboardInterrupt\x1b[0m: {self}"]


def wait_quietly(future: concurrent.futures.Future[object], timeout_s: float = RECORD_TIMEOUT_S) -> bool:
    """Wait for ``future`` after an interrupt; a second interrupt (or the time limit) stops waiting."""
    with contextlib.suppress(KeyboardInterrupt, concurrent.futures.TimeoutError, Exception):
        future.result(timeout_s)
        return True
    return False


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
