"""What the widgets need of the lab that shows them, as Protocols: the widgets never import ``lab``.

``Lab.play``, ``Lab.feedback`` and ``Lab.teach`` pass the lab itself, which has all of this; any
other object with these members can host the widgets too (a test's, another front end's).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping
from typing import Any, Protocol

from cogment_jupyter.adapters.base import Actor, AgentSpec


class RunningTrial(Protocol):
    """A trial a widget started (a lab's ``TrialHandle``)."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def ended(self) -> bool: ...

    @property
    def errors(self) -> list[str]: ...

    @property
    def done(self) -> concurrent.futures.Future[Any]: ...

    def cancel(self, hard: bool = True) -> None: ...


class WidgetHost(Protocol):
    """Runs the trials a widget's people play in, on an event loop of its own thread."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """Where a widget's callbacks (on other threads) hand work with ``call_soon_threadsafe``."""
        ...

    def environment(self, name: str) -> tuple[Any, dict[str, AgentSpec]]:
        """A served environment (or a local copy of it) and its agents' spaces."""
        ...

    def start_trial_with_people(self, env: str, actors: str | Mapping[str, str], **options: Any) -> RunningTrial:
        """Start a trial whose ``"client"`` slots this process's widgets fill."""
        ...

    def join(self, trial: Any, agent: str, actor: Actor) -> concurrent.futures.Future[None]:
        """Play ``agent`` of ``trial`` with ``actor``; resolved when the actor's part is over."""
        ...
