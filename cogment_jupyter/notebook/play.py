"""``lab.play(...)``: a person plays an environment in a notebook cell, as a Cogment client actor.

Every trial is an ordinary recorded trial whose player slot is ``cogment://client``; the
:class:`HumanActor` joins that slot (in-process with the kernel's orchestrator, over
``ClientActorSP`` with an attached one) and turns the widget's keys into actions. Frames go out
through the widget's back-pressured binary stream; nothing here ever blocks the lab's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from cogment_jupyter.adapters.base import Actor, AgentSpec, TrialContext
from cogment_jupyter.adapters.spaces import space_to_json
from cogment_jupyter.notebook.analog import AnalogInputs, analog_inputs
from cogment_jupyter.notebook.conventions import default_keys, named_noop
from cogment_jupyter.notebook.engagement import Engagement
from cogment_jupyter.notebook.keymap import KeyMap, KeyMapError, check_keymap, coerce_action, compile_keymap
from cogment_jupyter.notebook.stand_in import KeyStandIn, attach_stand_in
from cogment_jupyter.notebook.widget import PlayWidget

if TYPE_CHECKING:
    from cogment_jupyter.notebook.host import RunningTrial, WidgetHost

log = logging.getLogger(__name__)

#: Gymnasium play()'s fallback when an environment declares no render_fps
DEFAULT_FPS = 30.0
#: the status line at the end of a round (the return is on the end screen, in the widget's one format)
NEXT_ROUND = "Game over: press Enter or Space (or click Play again) for another round"


class HumanActor(Actor):
    """The player at a :class:`PlayWidget`: frames out, keys in, paced at ``fps`` (0: turn-based)."""

    def __init__(
        self,
        widget: PlayWidget,
        keymap: KeyMap,
        fps: float,
        loop: asyncio.AbstractEventLoop,
        analog: AnalogInputs | None = None,
    ) -> None:
        self.widget = widget
        self.keymap = keymap
        self.analog = analog
        #: in a paced game, the action the pointer, a gamepad, sliders or a front end's JSON last
        #: asked for: it stays until another comes (sticky, as in Cogment Lab) or a mapped key is held
        self._held_action: Any = None
        self.fps = fps
        self._loop = loop
        self._presses: asyncio.Queue[Any] = asyncio.Queue()
        self._held: frozenset[str] = frozenset()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._next_deadline = 0.0
        self.space: Any = None
        self.tick = 0
        self.episode_return = 0.0
        self.actions: list[Any] = []
        self._decided_key_seq: int | None = None
        #: the held keys changed since the last decision: a paced game steps at once, not at the
        #: next tick (saves the player up to a frame period of latency); the tick clock restarts
        self._keys_changed = asyncio.Event()
        self.engagement = Engagement(widget, loop)
        widget.on_keys(self._keys_from_widget)
        widget.on_action(self._action_from_widget)
        if analog is not None and analog.analog:
            widget.on_analog(self._analog_from_widget)

    # -- widget callbacks (any thread) ---------------------------------------------------------

    def _keys_from_widget(self, pressed: frozenset[str], t_ms: float) -> None:
        ordered = self.widget.pressed_in_order
        self._loop.call_soon_threadsafe(self._on_keys, pressed, ordered)

    def _action_from_widget(self, value: Any, t_ms: float | None) -> None:
        self._loop.call_soon_threadsafe(self._presses.put_nowait, ("json", value))
        self.engagement.engage()  # a front end's action is the person there (after the action: FIFO)

    def _analog_from_widget(self, source: str, values: list[float], buttons: list[float], t_ms: float | None) -> None:
        assert self.analog is not None
        action = self.analog.action(source, values, buttons)
        if action is None:
            return
        self._loop.call_soon_threadsafe(setattr, self, "_held_action", action)
        if source == "sliders":  # moving a slider is as deliberate as a click: the game starts (with it)
            self.engagement.engage()

    def _on_keys(self, pressed: frozenset[str], ordered: tuple[str, ...]) -> None:
        self.widget.tracing.mark_key("loop")
        new = [k for k in ordered if k not in self._held]
        mapped = self.keymap.keys
        if {k for k in pressed if k in mapped} != {k for k in self._held if k in mapped}:
            self._keys_changed.set()
        self._held = pressed
        if new and any(k in self.keymap.keys for k in new):
            self._presses.put_nowait(("keys", ordered))

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    # -- the actor --------------------------------------------------------------------------

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.space = spec.action_space
        self.tick = 0
        self.episode_return = 0.0
        self.actions = []
        self._next_deadline = 0.0
        self._keys_changed.clear()
        while not self._presses.empty():  # presses from a previous round do not carry over
            self._presses.get_nowait()
        self.widget.set_status(tick=0, episode_return=0.0, state="running", message="")

    async def act(self, observation: Any, frame: np.ndarray | None = None) -> Any:
        if frame is not None:  # the frame the last decision led to: its key_seq lets the browser time it
            self.widget.tracing.mark_frame(step=None)
            self.widget.show_frame(
                frame,
                key_seq=self._decided_key_seq,
                tick=self.tick,
                episode_return=self.episode_return,
                observation=observation,
            )
        await self._resumed.wait()
        if self.fps <= 0:
            kind, value = await self._presses.get()
            action = value if kind == "json" else self.keymap(value)
        else:
            await self.engagement.wait()
            now = time.monotonic()
            self._next_deadline = max(self._next_deadline + 1.0 / self.fps, now)
            delay = self._next_deadline - now
            if delay > 0 and not self._keys_changed.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._keys_changed.wait(), delay)
            if self._keys_changed.is_set():
                self._next_deadline = time.monotonic()  # stepped early for a key: the tick clock restarts
            await self._resumed.wait()
            self._keys_changed.clear()
            self._take_json()
            action = self.decide(self.widget.pressed_in_order)
            while action is None:  # no no-op and nothing held yet (a front end of JSON actions): its first
                kind, value = await self._presses.get()
                if kind == "json":
                    self._held_action = action = value
                else:
                    action = self.keymap(value)
        self._decided_key_seq = self.widget.key_seq
        self.widget.tracing.mark_frame(act=None)
        action = coerce_action(action, self.space)
        self.actions.append(action)
        self.tick += 1
        return action

    def decide(self, pressed: tuple[str, ...]) -> Any:
        """The action for the keys held at a paced tick; without a mapped key held, the held
        action (pointer, gamepad, sliders, JSON), once there is one."""
        if self._held_action is not None and not any(key in self.keymap.keys for key in pressed):
            return copy.deepcopy(self._held_action)
        return self.keymap(pressed)

    def _take_json(self) -> None:
        """The last JSON action a custom front end sent since the last tick becomes the held one."""
        while not self._presses.empty():
            kind, value = self._presses.get_nowait()
            if kind == "json":
                self._held_action = value

    def on_reward(self, value: float, tick_id: int, sources: list[Any]) -> None:
        self.episode_return += value

    def on_ending(self, observation: Any, frame: np.ndarray | None = None) -> None:
        if frame is not None:
            self.widget.show_frame(frame, tick=self.tick, episode_return=self.episode_return, observation=observation)
        self.widget.set_status(
            tick=self.tick,
            episode_return=self.episode_return,
            state="ended",
            message=NEXT_ROUND,
        )


class TeacherHuman(HumanActor):
    """A person supervising an agent: holding a mapped key takes over with that key's action."""

    def decide(self, pressed: tuple[str, ...]) -> Any:
        if any(key in self.keymap.keys for key in pressed):
            return {"active": 1, "action": self.keymap(pressed)}
        return {"active": 0, "action": self.keymap.idle}  # the agent acts; the action is not used


class PlaySession:
    """The trials one widget runs (start, restart, play again, pause), with the person in ``slot``.

    ``actors`` fills the environment's agents (``"client"`` for the person's own agent);
    ``spectators`` adds non-agent participants (``"client"`` for a person who only watches
    and rewards).
    """

    def __init__(
        self,
        host: WidgetHost,
        env: str,
        slot: str,
        actors: Mapping[str, str],
        widget: PlayWidget,
        human: Any,
        trial_options: dict[str, Any],
        spectators: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.env = env
        self.slot = slot
        self.actors = dict(actors)
        self.spectators = dict(spectators or {})
        self.widget = widget
        self.human = human
        self.trial_options = trial_options
        self.trials: list[RunningTrial] = []
        #: more people in the same trials, each at their own widget: slot -> (widget, actor)
        self.guests: dict[str, tuple[PlayWidget, Any]] = {}
        widget.on_control(self._control)

    @property
    def trial(self) -> RunningTrial | None:
        """The current (or last) trial."""
        return self.trials[-1] if self.trials else None

    def start(self) -> RunningTrial:
        options = dict(self.trial_options)
        if self.spectators:
            options["spectators"] = self.spectators
        # the people are this kernel's widgets: a trial whose other parts are here too runs on the
        # kernel's engine (recorded in the shared datastore all the same), not four gRPC hops a tick
        # through a shared orchestrator (docs/decisions/play-widget.md)
        handle = self.host.start_trial_with_people(self.env, self.actors, render=True, **options)
        self.trials.append(handle)
        handle.done.add_done_callback(lambda _: self._ended(handle))
        for slot, widget, human in [(self.slot, self.widget, self.human)] + [
            (slot, w, h) for slot, (w, h) in self.guests.items()
        ]:
            joined = self.host.join(handle, slot, human)
            joined.add_done_callback(lambda future, w=widget: self._joined(handle, future, w))
        return handle

    def add_guest(self, slot: str, widget: PlayWidget, human: Any) -> None:
        """Another person plays ``slot`` in this session's trials, from the next one started."""
        self.guests[slot] = (widget, human)
        current = self.trial
        if current is not None and current.state in ("INITIALIZING", "PENDING"):
            joined = self.host.join(current, slot, human)
            joined.add_done_callback(lambda future: self._joined(current, future, widget))

    def _ended(self, handle: RunningTrial) -> None:
        """A round that failed (could not start, a component raised) says so on every widget."""
        if not handle.errors:
            return
        widgets = [self.widget, *(w for w, _ in self.guests.values())]
        for widget in widgets:
            widget.set_status(state="ended", message=f"The trial failed: {handle.errors[0]}")

    def _joined(self, handle: RunningTrial, future: Any, widget: PlayWidget) -> None:
        error = future.exception()
        if error is not None:
            log.warning("a player could not join trial %s: %s", handle.id, error)
            widget.set_status(state="error", message=f"Could not join the trial: {error}")

    def _control(self, action: str) -> None:
        """A button (or Enter on the end screen); on the thread the widget's messages come on."""
        call = self.host.loop.call_soon_threadsafe
        if action == "pause":
            call(self.human.pause)
            self.widget.set_status(state="paused")
        elif action == "resume":
            call(self.human.resume)
            self.widget.set_status(state="running")
        elif action in ("restart", "play_again"):
            current = self.trial
            if current is not None and not current.ended:
                current.cancel(hard=True)
            call(self.human.resume)
            self.start()

    def close(self) -> None:
        """End the current trial (the widget is going away)."""
        current = self.trial
        if current is not None and not current.ended:
            current.cancel(hard=True)


class GameWidget(PlayWidget):
    """The widget ``lab.play`` returns: a :class:`PlayWidget` that knows its trials."""

    session: PlaySession | None = None
    #: the actor this widget's person plays through (a HumanActor, a FeedbackGiver...)
    player: Any = None
    #: the scripted player, when COGMENT_JUPYTER_HUMAN_STAND_IN asks for one (CI)
    stand_in: KeyStandIn | None = None

    @property
    def trials(self) -> list[RunningTrial]:
        return list(self.session.trials) if self.session else []

    @property
    def trial(self) -> RunningTrial | None:
        return self.session.trial if self.session else None

    @property
    def actions(self) -> list[Any]:
        """The actions of the current round, as sent to the environment."""
        return list(getattr(self.player, "actions", []))

    @property
    def feedback(self) -> list[tuple[int, float]]:
        """Rewards given in this round of a feedback session, as (tick, value)."""
        return list(getattr(self.player, "given", []))

    def add_player(self, agent: str, keys: Any = None, *, noop: Any = None, title: str | None = None) -> GameWidget:
        """A second person at a second widget: plays ``agent`` (a ``"client"`` slot) in these trials.

        Start the first widget with ``actors={agent: "client"}``; trials wait for every person.
        """
        session = self.session
        if session is None:
            raise RuntimeError("this widget has no play session")
        if session.actors.get(agent) != "client":
            raise ValueError(
                f"start lab.play with actors={{{agent!r}: 'client'}} to leave {agent!r} to a second player"
            )
        template, specs = session.host.environment(session.env)
        keymap = environment_keymap(template, keys, noop, specs[agent].action_space)
        widget = GameWidget(fps=self.fps, key_hints=keymap.hints, title=title or f"{session.env}: {agent}")
        human = HumanActor(widget, keymap, self.fps, session.host.loop)
        widget.session = session
        widget.player = human
        session.add_guest(agent, widget, human)
        widget.stand_in = attach_stand_in(widget, sorted(keymap.keys))
        return widget

    def close(self) -> None:
        if self.stand_in is not None:
            self.stand_in.stop()
        if self.session is not None:
            self.session.close()
        super().close()


def play(
    host: WidgetHost,
    env: str,
    keys: Any = None,
    *,
    noop: Any = None,
    fps: float | None = None,
    agent: str | None = None,
    actors: Mapping[str, str] | None = None,
    frame_format: str | None = None,
    title: str | None = None,
    pointer: str | None = None,
    gamepad: Any = None,
    sliders: Any = None,
    front_end: type[PlayWidget] | None = None,
    observations: bool | None = None,
    **trial_options: Any,
) -> GameWidget:
    """Play ``env`` in the cell; see ``Lab.play``."""
    template, specs = host.environment(env)
    agent = agent or _only_agent(specs, actors)
    if agent not in specs:
        raise ValueError(f"environment {env!r} has no agent {agent!r}; agents: {list(specs)}")
    action_space = specs[agent].action_space
    analog = analog_inputs(action_space, pointer=pointer, gamepad=gamepad, sliders=sliders)
    keymap = environment_keymap(template, keys, noop, action_space, analog=analog, json_actions=front_end is not None)
    if fps is None:
        fps = getattr(template, "render_fps", None) or DEFAULT_FPS
    if fps < 0:
        raise ValueError(f"fps must be >= 0 (0 = turn-based: one action per key press), got {fps}")
    if fps == 0 and analog.analog:
        raise ValueError("pointer=, gamepad axes and sliders= steer a paced game: give fps > 0 (or leave it out)")
    players = {**{a: name for a, name in (actors or {}).items() if a != agent}, agent: "client"}
    widget_options: dict[str, Any] = {
        "fps": float(fps),
        "key_hints": keymap.hints,
        "title": title or env,
        "inputs": analog.front_end(),
        "action_space": space_to_json(action_space),
        "send_observations": front_end is not None if observations is None else bool(observations),
    }
    if frame_format is not None:
        widget_options["frame_format"] = frame_format
    widget = game_widget_class(front_end)(**widget_options)
    human = HumanActor(widget, keymap, float(fps), host.loop, analog)
    session = PlaySession(host, env, agent, players, widget, human, trial_options)
    widget.session = session
    widget.player = human
    session.start()
    widget.stand_in = attach_stand_in(widget, sorted(keymap.keys))
    return widget


def _only_agent(specs: Mapping[str, AgentSpec], actors: Mapping[str, str] | None) -> str:
    free = [a for a in specs if not actors or a not in actors]
    if len(free) == 1:
        return free[0]
    raise ValueError(f"which agent do you play? pass agent= one of {list(specs)} (the others go in actors=...)")


def environment_keymap(
    template: Any,
    keys: Any,
    noop: Any,
    action_space: Any,
    *,
    require_noop: bool = True,
    analog: AnalogInputs | None = None,
    json_actions: bool = False,
) -> KeyMap:
    """The compiled key map, every action of it checked against ``action_space`` (before anything is drawn).

    Without ``keys``, the environment's own ``get_keys_to_action()`` (none needed when the game
    is played with the pointer, a gamepad or sliders, or by a front end sending JSON actions:
    ``json_actions``); without a no-op, the neutral action of those inputs, else the action the
    environment names ``NOOP`` (see ``notebook.conventions``). A gamepad's buttons join the map
    as keys.
    """
    continuous = analog is not None and analog.analog
    buttons = analog.button_keys if analog is not None else {}
    if keys is None:
        keys = default_keys(template)
        if keys is None and (continuous or buttons or json_actions):
            keys = {}
            require_noop = require_noop and not json_actions
        elif keys is None:
            raise KeyMapError(
                "pass keys=..., e.g. keys={'ArrowLeft': 0, 'ArrowRight': 1}, noop=0 (or a Cogment Lab list "
                "['no-op', 'ArrowLeft', 'ArrowRight']), or pointer=/gamepad=/sliders= for a Box action"
            )
    options: dict[str, Any] = {"require_noop": require_noop}
    if noop is not None:
        options["noop"] = noop
    elif continuous:
        options["default_noop"] = analog.neutral.tolist()  # type: ignore[union-attr]
    elif (named := named_noop(template, action_space)) is not None:
        options["default_noop"] = named
    keymap = compile_keymap(keys, **options)
    if buttons:
        keymap = keymap.with_entries(buttons)
    check_keymap(keymap, action_space)
    return keymap


def game_widget_class(front_end: type[PlayWidget] | None) -> type[GameWidget]:
    """The widget class of a game: ``GameWidget``, or it mixed into your own front end (a
    :class:`PlayWidget` subclass with its own ``_esm``), so your view gets the game's frames."""
    if front_end is None:
        return GameWidget
    if not (isinstance(front_end, type) and issubclass(front_end, PlayWidget)):
        raise TypeError(
            "front_end= takes a PlayWidget subclass with your own _esm (see docs/front-ends.md, "
            f"'Your own front end'), got {front_end!r}"
        )
    if issubclass(front_end, GameWidget):
        return front_end
    return type(front_end.__name__, (GameWidget, front_end), {"__module__": front_end.__module__})
