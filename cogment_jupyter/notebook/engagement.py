"""A paced game waits for its person: it starts at the first click on the widget or the first key.

Without this a game shown by a cell would run (and a feedback episode be judged by nobody) while
the person is still reading the notebook. Turn-based games need none: they wait for every key.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cogment_jupyter.notebook.widget import PlayWidget

#: what the status line says while the game waits
INVITATION = "click the game (or press a key in it) to start"


class Engagement:
    """Set once the person has clicked the widget or pressed a key in it; stays set for later rounds."""

    def __init__(self, widget: PlayWidget, loop: asyncio.AbstractEventLoop) -> None:
        self._widget = widget
        self._loop = loop
        self._event = asyncio.Event()
        widget.observe(self._on_focus, names="focused")
        widget.on_keys(self._on_keys)

    # widget callbacks: any thread
    def _on_focus(self, change: dict[str, Any]) -> None:
        if change.get("new"):
            self._loop.call_soon_threadsafe(self._event.set)

    def _on_keys(self, pressed: frozenset[str], t_ms: float) -> None:
        self._loop.call_soon_threadsafe(self._event.set)

    def engage(self) -> None:
        """The person acted on the game some other way (a slider); from any thread."""
        self._loop.call_soon_threadsafe(self._event.set)

    @property
    def engaged(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        """On the lab's loop: return once the person is there, saying on the widget that it waits."""
        if self._event.is_set():
            return
        if self._widget.focused:  # clicked before this round asked
            self._event.set()
            return
        self._widget.set_status(message=INVITATION)
        await self._event.wait()
        self._widget.set_status(message="")
