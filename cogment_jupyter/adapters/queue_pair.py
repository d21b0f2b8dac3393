"""Any code as a player, through two queues: Cogment Lab's Gradio-actor pattern, for any app.

``lab.join(trial, agent, QueuePair())`` (or ``lab.serve_actor``) makes the actor; your code,
on any thread or, with ``multiprocessing`` queues, in another process (a Gradio, Dash or Flask
app), takes each :class:`Turn` from ``observations`` and puts the action on ``actions``. The
trial's loop never blocks on your queue: it waits in a worker thread.
"""

from __future__ import annotations

import asyncio
import queue
from typing import Any, NamedTuple

import numpy as np

from cogment_jupyter.adapters.base import Actor, AgentSpec, TrialContext

__all__ = ["QueuePair", "Turn"]


class Turn(NamedTuple):
    """What the player sees: the observation, the frame (when the trial renders), the tick, and
    whether the trial is over (the final observation; no action is wanted)."""

    observation: Any
    frame: np.ndarray | None
    tick: int
    last: bool = False


class QueuePair(Actor):
    """A player fed through ``observations`` (a :class:`Turn` per decision, and a last one at
    the end) and answering through ``actions``.

    Pass your own queues (``multiprocessing.Queue()`` for an app in another process); by default
    both are ``queue.Queue``. ``poll_s`` is how often a wait for an action looks whether the
    trial went on without it (ended or cancelled).
    """

    def __init__(self, observations: Any = None, actions: Any = None, *, poll_s: float = 0.2) -> None:
        self.observations = queue.Queue() if observations is None else observations
        self.actions = queue.Queue() if actions is None else actions
        self.poll_s = poll_s
        self.tick = 0
        self.space: Any = None

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.tick = 0
        self.space = spec.action_space

    async def act(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        self.observations.put(Turn(observation, frame, self.tick))
        self.tick += 1
        while True:
            try:
                return await asyncio.to_thread(self.actions.get, True, self.poll_s)
            except queue.Empty:
                continue  # (a cancelled trial cancels this wait at once; the worker ends within poll_s)

    def on_ending(self, observation: Any, frame: np.ndarray | None = None) -> None:
        self.observations.put(Turn(observation, frame, self.tick, last=True))

    def __repr__(self) -> str:
        return f"QueuePair(tick={self.tick})"
