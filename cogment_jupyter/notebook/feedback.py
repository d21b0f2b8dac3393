"""``lab.feedback(...)``: a person watches an agent play and shapes it with live rewards.

The person is a spectator of the trial (a client actor that is not one of the environment's
agents). Each tick the trial waits for them for ``1 / fps`` seconds, so they see every frame;
a key pressed while frame *t* is shown sends its reward during tick *t*: the orchestrator
attaches it to that tick's sample and delivers it to the agent before its next observation,
with the person as sender (TAMER-style shaping, upstream Cogment semantics).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from cogment_jupyter.adapters.base import Actor, AgentSpec, TrialContext
from cogment_jupyter.notebook.engagement import Engagement
from cogment_jupyter.notebook.keymap import KeyMapError, normalize_key
from cogment_jupyter.notebook.play import GameWidget, PlaySession
from cogment_jupyter.notebook.stand_in import attach_stand_in

if TYPE_CHECKING:
    from cogment_jupyter.notebook.host import WidgetHost

#: TAMER's "fast but doable" step time is 0.2 to 0.3 s
DEFAULT_FEEDBACK_FPS = 4.0
DEFAULT_KEYS: dict[str, float] = {"+": 1.0, "-": -1.0}


class FeedbackGiver(Actor):
    """Shows each frame for ``1 / fps`` s and turns key presses into rewards for ``target``."""

    def __init__(
        self,
        widget: GameWidget,
        rewards: Mapping[str, float],
        target: str,
        fps: float,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.widget = widget
        self.rewards = {normalize_key(k): float(v) for k, v in rewards.items()}
        self.target = target
        self.fps = fps
        self.tick = 0
        self.given: list[tuple[int, float]] = []
        self._send: Any = None
        self._held: frozenset[str] = frozenset()
        self._next_deadline = 0.0
        self._loop = loop
        self._presses: asyncio.Queue[float] = asyncio.Queue()
        self.engagement = Engagement(widget, loop)
        widget.on_keys(self._on_keys)

    @property
    def total_given(self) -> float:
        """The sum of the rewards given this round (shown as the widget's return)."""
        return float(sum(value for _, value in self.given))

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self._send = context.send_reward
        while not self._presses.empty():
            self._presses.get_nowait()
        self.tick = 0
        self.given = []
        self._next_deadline = 0.0
        self.widget.set_status(tick=0, episode_return=0.0, state="running", message="")

    def _on_keys(self, pressed: frozenset[str], t_ms: float) -> None:
        """Any thread: newly pressed reward keys go to the loop, where ``act`` sends them."""
        new = pressed - self._held
        self._held = pressed
        for key in new:
            value = self.rewards.get(key)
            if value is not None:
                self._loop.call_soon_threadsafe(self._presses.put_nowait, value)

    async def act(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        """Show the frame, then collect rewards until the tick's time is up.

        The trial cannot move on while this waits, so a reward sent here lands on the tick
        whose frame is on screen, and reaches the agent before its next observation.
        """
        if frame is not None:
            self.widget.show_frame(frame, tick=self.tick, episode_return=self.total_given)
        await self.engagement.wait()  # nobody judges the agent before its person is there
        now = time.monotonic()
        self._next_deadline = max(self._next_deadline + 1.0 / self.fps, now)
        while (remaining := self._next_deadline - time.monotonic()) > 0 or not self._presses.empty():
            try:
                value = await asyncio.wait_for(self._presses.get(), max(remaining, 0))
            except TimeoutError:
                break
            self._send(value, self.target)
            self.given.append((self.tick, value))
            self.widget.set_status(episode_return=self.total_given, message=f"feedback {value:+g} at tick {self.tick}")
        self.tick += 1
        return None  # spectators' actions are ignored

    def on_ending(self, observation: Any, frame: np.ndarray | None = None) -> None:
        if frame is not None:
            self.widget.show_frame(frame, tick=self.tick, episode_return=self.total_given)
        self.widget.set_status(
            tick=self.tick,
            state="ended",
            message=f"Episode over: you gave {_count(len(self.given), 'reward')}. Enter or Space: the next episode",
        )


def feedback(
    host: WidgetHost,
    env: str,
    actors: str | Mapping[str, str],
    *,
    keys: Mapping[str, float] | None = None,
    target: str | None = None,
    fps: float = DEFAULT_FEEDBACK_FPS,
    name: str = "trainer",
    title: str | None = None,
    **trial_options: Any,
) -> GameWidget:
    """Watch ``actors`` play ``env`` and reward ``target`` with keys; see ``Lab.feedback``."""
    _, specs = host.environment(env)
    if fps <= 0:
        raise ValueError(f"fps must be > 0 (frames per second the agent plays at), got {fps}")
    mapping = dict.fromkeys(specs, actors) if isinstance(actors, str) else dict(actors)
    target = target or next(iter(specs))
    if target not in specs:
        raise ValueError(f"target must be one of the environment's agents {list(specs)}, got {target!r}")
    keys = _reward_keys(keys or DEFAULT_KEYS)
    hints = {k: f"reward {v:+g}" for k, v in keys.items()}
    widget = GameWidget(fps=float(fps), key_hints=hints, title=title or f"{env}: reward {target}")
    giver = FeedbackGiver(widget, keys, target, float(fps), host.loop)
    session = PlaySession(host, env, name, mapping, widget, giver, trial_options, spectators={name: "client"})
    widget.session = session
    widget.player = giver
    session.start()
    widget.stand_in = attach_stand_in(widget, list(giver.rewards))
    return widget


def _reward_keys(keys: Mapping[str, Any]) -> dict[str, float]:
    """Key -> reward, checked before anything is drawn: every value a finite number."""
    checked = {}
    for key, value in keys.items():
        normalize_key(key)  # an unknown key name is reported here, with a suggestion
        ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
        if not ok or not np.isfinite(value):
            raise KeyMapError(
                f"key {key!r} gives {value!r}: a feedback key gives a reward, a finite number "
                "(e.g. keys={'+': 1.0, '-': -1.0})"
            )
        checked[key] = float(value)
    return checked


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
