"""``lab.replay(trial_id)``: look back at a recorded trial, tick by tick.

The frames come from the datastore (a trial records them when it renders), so any trial can be
replayed from any kernel, including after a restart. The view is the play widget's canvas
(binary frames, back-pressured) under standard ipywidgets controls: play/pause, step, a tick
slider to scrub, and a speed choice; beside it, each tick's actions, rewards and events.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets
import numpy as np
import pandas as pd

from cogment_jupyter.adapters.trial_codec import TrialCodec
from cogment_jupyter.notebook.comm_routing import keep_frontend_routing
from cogment_jupyter.notebook.widget import PlayWidget

if TYPE_CHECKING:
    from cogment_jupyter.datastore import Datastore

SPEEDS = {"0.25x": 0.25, "0.5x": 0.5, "1x": 1.0, "2x": 2.0, "4x": 4.0}
DEFAULT_FPS = 10.0


class ReplayWidget(ipywidgets.VBox):
    """A recorded trial: ``view`` (frames), ``player``/``slider``/``speed`` (controls), ``details``."""

    def __init__(self, datastore: Datastore, trial_id: str, *, fps: float | None = None) -> None:
        params = datastore.params(trial_id)
        raw = datastore.steps(trial_id, decode=False)
        values = datastore.steps(trial_id)
        if raw.empty:
            raise ValueError(f"trial {trial_id!r} has no recorded steps to replay")
        self.trial_id = trial_id
        self.codec = TrialCodec.from_params(params)
        self.actors = [a.name for a in params.actors]
        self.ticks = sorted(int(t) for t in raw["tick"].unique())
        self._raw = raw
        self._values = values
        self._frames: dict[int, np.ndarray | None] = {}
        self._returns = values.groupby("tick")["reward"].sum().cumsum().to_dict()
        self.fps = float(fps or DEFAULT_FPS)
        has_frames = self._frame(self.ticks[0]) is not None
        self.view = PlayWidget(fps=self.fps, title=f"replay of {trial_id}")
        self.player = ipywidgets.Play(min=0, max=len(self.ticks) - 1, step=1, interval=int(1000 / self.fps))
        self.slider = ipywidgets.IntSlider(min=0, max=len(self.ticks) - 1, description="tick", continuous_update=True)
        ipywidgets.jslink((self.player, "value"), (self.slider, "value"))
        self.speed = ipywidgets.ToggleButtons(options=list(SPEEDS), value="1x", description="speed")
        self.details = ipywidgets.HTML()
        self.slider.observe(self._on_tick, names="value")
        self.speed.observe(self._on_speed, names="value")
        note = (
            []
            if has_frames
            else [ipywidgets.HTML("<i>This trial was recorded without frames: start trials with render=True.</i>")]
        )
        super().__init__([self.view, *note, ipywidgets.HBox([self.player, self.slider]), self.speed, self.details])
        keep_frontend_routing(self.player, self.slider, self.speed)  # scrubbing works while a cell runs
        self.show(0)

    # -- data ---------------------------------------------------------------------------------

    def _frame(self, tick: int) -> np.ndarray | None:
        if tick not in self._frames:
            frame = None
            if self.codec is not None:
                rows = self._raw[self._raw["tick"] == tick]
                for actor, content in zip(rows["actor"], rows["observation"], strict=True):
                    if isinstance(content, bytes):
                        frame = self.codec.observation(actor, content).frame
                        if frame is not None:
                            break
            self._frames[tick] = frame
        return self._frames[tick]

    def _details(self, tick: int) -> str:
        rows = self._values[self._values["tick"] == tick]
        lines = []
        for _, row in rows.iterrows():
            action = row["action"]
            missing = action is None or (not isinstance(action, list | dict | np.ndarray) and pd.isna(action))
            action_text = "-" if missing else action
            events = ", ".join(row["events"]) if row["events"] is not None and len(row["events"]) else ""
            lines.append(
                f"<tr><td>{html.escape(str(row['actor']))}</td><td>{html.escape(str(action_text))}</td>"
                f"<td>{row['reward']:g}</td><td>{html.escape(str(row['action_status']))}</td>"
                f"<td>{html.escape(events)}</td></tr>"
            )
        head = "<tr><th>actor</th><th>action</th><th>reward</th><th>status</th><th>events</th></tr>"
        return f"<b>tick {tick}</b><table>{head}{''.join(lines)}</table>"

    # -- display ------------------------------------------------------------------------------

    def show(self, index: int) -> None:
        """Show the ``index``-th recorded tick (what the slider and player do)."""
        tick = self.ticks[index]
        frame = self._frame(tick)
        episode_return = float(self._returns.get(tick, 0.0))
        if frame is not None:
            self.view.show_frame(frame, tick=tick, episode_return=episode_return)
        self.view.set_status(
            tick=tick,
            episode_return=episode_return,
            state="replay",
            message=f"{index + 1} / {len(self.ticks)}",
        )
        self.details.value = self._details(tick)

    def _on_tick(self, change: dict[str, Any]) -> None:
        self.show(int(change["new"]))

    def _on_speed(self, change: dict[str, Any]) -> None:
        self.player.interval = max(1, int(1000 / (self.fps * SPEEDS[change["new"]])))
