"""A scripted stand-in for the person at a widget, for CI and unattended notebook runs.

With ``COGMENT_JUPYTER_HUMAN_STAND_IN`` set (``random``, or ``random:SEED``), every widget that
``lab.play`` / ``lab.feedback`` makes gets a thread that presses and releases its mapped keys
(and moves the pointer, gamepad sticks or sliders its ``inputs`` name) as a browser would, by
sending the widget the same ``keys`` and ``analog`` messages its front end sends. So
notebooks run top to bottom with nobody at the keyboard, through the very path a person's key
presses take: widget -> :class:`HumanActor` -> Cogment client actor -> trial.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Sequence

from cogment_jupyter.notebook.widget import PlayWidget

ENV_VAR = "COGMENT_JUPYTER_HUMAN_STAND_IN"
#: how long the stand-in holds a key, and how long it waits between presses (seconds)
HOLD = 0.05
PAUSE = 0.05


def stand_in_requested() -> tuple[bool, int | None]:
    """Whether a stand-in should play, and its seed."""
    value = os.environ.get(ENV_VAR, "").strip()
    if not value or value.lower() in ("0", "false", "no"):
        return False, None
    _, _, seed = value.partition(":")
    return True, int(seed) if seed.strip().isdigit() else None


class KeyStandIn:
    """Presses random keys among ``keys`` on ``widget`` (or moves its continuous inputs) until
    :meth:`stop` (or a time limit)."""

    def __init__(
        self, widget: PlayWidget, keys: Sequence[str], seed: int | None = None, limit_s: float = 600.0
    ) -> None:
        if not keys and not widget.inputs:
            raise ValueError("the stand-in needs at least one key to press or input to move")
        self.widget = widget
        self.keys = list(keys)
        self.pressed: list[str] = []
        self._random = random.Random(seed)
        self._stop = threading.Event()
        #: set when the game's state changes (or on stop): a stand-in between games waits on it
        self._state_changed = threading.Event()
        self._limit = limit_s
        self._thread = threading.Thread(target=self._run, name="cogment-human-stand-in", daemon=True)

    def start(self) -> KeyStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._state_changed.set()

    def _on_state(self, _change: object) -> None:
        self._state_changed.set()

    def _send(self, pressed: list[str], seq: int) -> None:
        message = {"type": "keys", "view": "stand-in", "seq": seq, "pressed": pressed, "t_ms": time.time() * 1e3}
        self.widget._handle_message(self.widget, message, [])

    def _move(self) -> None:
        """Move one of the widget's continuous inputs somewhere, as a hand on it would."""
        source = self._random.choice(sorted(self.widget.inputs))
        spec = self.widget.inputs[source]
        buttons: list[float] = []
        if source == "pointer":
            values = [self._random.random(), self._random.random()]
        elif source == "gamepad":
            values = [self._random.uniform(-1, 1) for _ in range(max(spec["axes"], default=-1) + 1)]
            buttons = [self._random.random() for _ in range(max(spec["triggers"], default=-1) + 1)]
        else:
            values = [self._random.uniform(s["min"], s["max"]) for s in spec]
        message = {"type": "analog", "view": "stand-in", "source": source, "values": values, "t_ms": time.time() * 1e3}
        self.widget._handle_message(self.widget, {**message, "buttons": buttons}, [])

    def _run(self) -> None:
        deadline = time.monotonic() + self._limit
        if not self.keys:
            self.widget.focused = True  # the click on the game that starts it
        self.widget.observe(self._on_state, names="state")
        try:
            self._play(deadline)
        finally:
            self.widget.unobserve(self._on_state, names="state")

    def _play(self, deadline: float) -> None:
        seq = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            if self.widget.state != "running":  # like a person: play while the game is on
                self._state_changed.clear()
                if self.widget.state != "running":  # (read again after the clear: no change is missed)
                    self._state_changed.wait(max(deadline - time.monotonic(), 0))
                continue
            if self.widget.inputs and (not self.keys or self._random.random() < 0.5):
                self._move()
                self._stop.wait(HOLD + PAUSE)
                continue
            key = self._random.choice(self.keys)
            seq += 1
            self._send([key], seq)
            self.pressed.append(key)
            if self._stop.wait(HOLD):
                break
            seq += 1
            self._send([], seq)
            self._stop.wait(PAUSE)


def attach_stand_in(widget: PlayWidget, keys: Sequence[str]) -> KeyStandIn | None:
    """Start a stand-in on ``widget`` if the environment asks for one."""
    wanted, seed = stand_in_requested()
    if not wanted or not (keys or widget.inputs):  # a front end of one's own plays by itself
        return None
    return KeyStandIn(widget, keys, seed).start()
