"""Timestamps of key presses and frames on their way through the kernel, for ``bench/play_latency.py``.

Off unless a benchmark switches it on with ``widget.tracing = Tracing()``. Then the widget, the
player and the frame stream stamp each stage (wall-clock ms): a key message received (and on
which thread), the stepping loop seeing it, the action chosen, the environment stepped, the frame
submitted, its encoding started, it sent. The stamps ride in the frame's optional ``trace`` field
(``protocol.FrameMessage``); the page adds its own (``js/src/tracing.ts``) and hands them to the
benchmark, which splits a key press's way to the screen into hops. Off, every hook does nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["TRACING_OFF", "Tracing", "TracingOff", "now_ms", "stamp"]

#: key presses whose stamps are kept for the frames that answer them
KEPT_KEYS = 64


def now_ms() -> float:
    return time.time() * 1000


class TracingOff:
    """Tracing switched off: the hooks the widget and the player call do nothing."""

    on = False

    def key_received(self, seq: int) -> None:
        """A key message ``seq`` reached the widget's handler."""

    def mark_key(self, name: str) -> None:
        """A later stage of the last key received (``loop``: the stepping loop saw it)."""

    def mark_frame(self, **marks: float | None) -> None:
        """Stages of the next frame shown (``act``: action chosen, ``step``: env stepped...); None: now."""

    def frame_trace(self, key_seq: int | None) -> dict[str, Any] | None:
        """The ``trace`` field of the frame shown now: its marks, and those of the key it answers."""
        return None


TRACING_OFF = TracingOff()


class Tracing(TracingOff):
    """Tracing switched on; thread-safe (keys arrive on the comm thread, frames on the stepping one)."""

    on = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[int, dict[str, Any]] = {}
        self._last_key: int | None = None
        self._next_frame: dict[str, float] = {}

    def key_received(self, seq: int) -> None:
        marks = {"seq": seq, "recv": now_ms(), "thread": threading.current_thread().name}
        with self._lock:
            self._keys[seq] = marks
            self._last_key = seq
            while len(self._keys) > KEPT_KEYS:
                del self._keys[next(iter(self._keys))]

    def mark_key(self, name: str) -> None:
        with self._lock:
            marks = self._keys.get(self._last_key) if self._last_key is not None else None
            if marks is not None:
                marks.setdefault(name, now_ms())

    def mark_frame(self, **marks: float | None) -> None:
        now = now_ms()
        with self._lock:
            self._next_frame.update({name: now if at is None else at for name, at in marks.items()})

    def frame_trace(self, key_seq: int | None) -> dict[str, Any] | None:
        with self._lock:
            trace: dict[str, Any] = self._next_frame
            self._next_frame = {}
            if key_seq and key_seq in self._keys:
                trace["key"] = dict(self._keys[key_seq])  # a copy: mark_key may add to it while this is sent
        return trace


def stamp(trace: dict[str, Any] | None, name: str, **values: Any) -> dict[str, Any] | None:
    """A copy of a frame's ``trace`` with stage ``name`` stamped now (and ``values``); None stays None.

    A copy, because a frame's header may be sent again (to a new view) with the stamps it had.
    """
    return None if trace is None else {**trace, name: now_ms(), **values}
