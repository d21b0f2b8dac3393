"""PlayWidget: an environment's frames in a notebook cell, the player's keyboard back to Python.

The widget is transport and display only; what a key means and when the environment steps is
the caller's business (``lab.play`` drives it from a Cogment client actor). Beside the synced
traits below, it talks to its views in custom messages (JSON plus binary buffers) declared in
:mod:`cogment_jupyter.notebook.protocol` (and ``js/src/protocol.ts``): frames out, each with
the encoded pixels in ``buffers[0]`` (see :mod:`cogment_jupyter.notebook.frame_stream`), the
tick and return it shows and, when :attr:`send_observations` is on, its observation as JSON;
``hello``, ``ack``, ``keys``, ``control``, ``action`` (a JSON action from a custom front end)
and ``analog`` (raw positions of the pointer, a gamepad or sliders, which
:mod:`cogment_jupyter.notebook.analog` maps to actions) in. Gamepad buttons played as keys
arrive in ``keys`` messages as ``"Gamepad0"``...

Threads: with JupyterLab >= 4.4 or Notebook 7 and ipykernel >= 7, messages from the browser are
handled on a kernel *subshell* thread, at once, even while a cell runs (the widget keeps the
front end's routing: :mod:`cogment_jupyter.notebook.comm_routing`); in front ends without
subshells, on the main thread once the running cell ends (the widget then says so, in
``notice``). ``on_keys``, ``on_control``, ``on_action`` and ``on_analog`` callbacks therefore run on whichever
thread that is: they must be quick and thread-safe, and hand work to an event loop with
``loop.call_soon_threadsafe`` (or ``asyncio.run_coroutine_threadsafe``), never by touching the
loop directly. ``show_frame`` and ``set_status`` may be called from any thread, e.g. a
background trial loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import numpy as np
import traitlets

from cogment_jupyter.adapters.payloads import plain_json

from .comm_routing import handled_between_cells, keep_frontend_routing
from .frame_stream import DEFAULT_FORMAT, EncodedFrame, FrameStream
from .protocol import CONTROL_ACTIONS, FrameFormat
from .tracing import TRACING_OFF, TracingOff, stamp

__all__ = ["AnalogCallback", "ControlCallback", "KeysCallback", "PlayWidget"]

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
#: shown when a person's input reaches the kernel only between cells (see ``comm_routing``)
BETWEEN_CELLS_NOTICE = (
    "This front end hands the game's keys to the kernel only between cells: while a cell runs they wait. "
    "JupyterLab >= 4.4 and Notebook 7 (with comms over subshells on) handle them at once."
)
#: tick/return given with frames reach the synced traits at most this often (frames carry them)
STATUS_SYNC_S = 0.25

KeysCallback = Callable[[frozenset[str], float], Any]
ControlCallback = Callable[[str], Any]
ActionCallback = Callable[[Any, float | None], Any]
AnalogCallback = Callable[[str, list[float], list[float], float | None], Any]


class _Callbacks:
    """A thread-safe list of callbacks; one failing callback neither stops the others nor the widget."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._items: list[Callable[..., Any]] = []

    def register(self, callback: Callable[..., Any], remove: bool = False) -> None:
        with self._lock:
            if remove:
                if callback in self._items:
                    self._items.remove(callback)
            elif callback not in self._items:
                self._items.append(callback)

    def __call__(self, *args: Any) -> None:
        with self._lock:
            items = list(self._items)
        for callback in items:
            try:
                callback(*args)
            except Exception:
                log.exception("PlayWidget %s callback %r failed", self._what, callback)


class PlayWidget(anywidget.AnyWidget):
    """Shows frames streamed from Python and reports the keys the player holds.

    Parameters (besides the traits): ``frame_format`` ('rgb-deflate' by default; 'rgb', 'png',
    'jpeg', 'webp'), ``max_in_flight`` frames unacknowledged (12, and at most ~1 MB of them
    beyond two frames; frames ask for an ack about every 100 ms, and an ack covers every earlier
    frame: each ack costs the kernel a shell message and two status messages, and the page a
    busy/idle flicker), ``ack_timeout_s`` after which an unacknowledged frame is written off (a
    closed tab). Why these defaults: ``docs/decisions/play-widget.md``.
    """

    _esm = STATIC / "play.js"
    _css = STATIC / "play.css"

    tick = traitlets.Int(0).tag(sync=True)
    episode_return = traitlets.Float(0.0).tag(sync=True)
    #: 'idle', 'running', 'paused', 'ended' drive the UI; any other text is shown as is
    state = traitlets.Unicode("idle").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    paused = traitlets.Bool(False).tag(sync=True)
    #: the pace the caller steps at, shown beside the painted fps; 0 means turn-based / unpaced
    fps = traitlets.Float(0.0).tag(sync=True)
    #: key (or "a+b" combo) -> what it does, shown under the canvas
    key_hints = traitlets.Dict(value_trait=traitlets.Unicode()).tag(sync=True)
    #: set by the front end: whether a view holds the keyboard
    focused = traitlets.Bool(False).tag(sync=True)
    #: canvas scale; 0 picks one so small frames (Atari's 160 px) are not tiny
    zoom = traitlets.Float(0.0).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    #: a line about the widget itself (how its input travels), shown under the status bar
    notice = traitlets.Unicode("").tag(sync=True)
    #: the continuous inputs the view reads: ``{"pointer"?, "gamepad"?, "sliders"?}`` (see
    #: ``AnalogInputs.front_end``)
    inputs = traitlets.Dict().tag(sync=True)
    #: the player's action space as JSON (``adapters.spaces.space_to_json``), for front ends that
    #: build actions themselves
    action_space = traitlets.Dict().tag(sync=True)
    #: send each frame's observation (as JSON) with it, for front ends that show or use it
    send_observations = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        *,
        frame_format: FrameFormat = DEFAULT_FORMAT,
        max_in_flight: int = 12,
        ack_timeout_s: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._frames = FrameStream(
            self._send_frame, fmt=frame_format, window=max_in_flight, ack_timeout_s=ack_timeout_s
        )
        self._input_lock = threading.Lock()
        self._status_lock = threading.RLock()
        self._pressed: tuple[str, ...] = ()
        self._key_seq = 0
        self._key_view: str | None = None
        self._status_synced_at = 0.0
        #: each frame's kernel-side timestamps for the benchmark (``notebook.tracing``); off by default
        self.tracing: TracingOff = TRACING_OFF
        self._keys_callbacks = _Callbacks("keys")
        self._control_callbacks = _Callbacks("control")
        self._action_callbacks = _Callbacks("action")
        self._analog_callbacks = _Callbacks("analog")
        self.on_msg(self._handle_message)
        keep_frontend_routing(self)

    # ---- frames
    def show_frame(
        self,
        frame: np.ndarray | EncodedFrame,
        *,
        key_seq: int | None = None,
        tick: int | None = None,
        episode_return: float | None = None,
        observation: Any = None,
    ) -> bool:
        """Show an ``HxWx3`` uint8 frame (or an already encoded one); safe from any thread.

        Never blocks: with ``max_in_flight`` frames not yet painted, the frame waits and replaces
        any frame already waiting. ``key_seq`` is the :attr:`key_seq` the frame reflects (read it
        before choosing the action); it lets the browser measure keypress-to-frame latency.
        ``tick``/``episode_return`` travel with the frame; the synced traits follow at most every
        ``STATUS_SYNC_S`` (use :meth:`set_status` for an immediate update). ``observation``
        travels with the frame, as strict JSON, when :attr:`send_observations` is on. Returns True
        if the frame was sent at once.
        """
        with self._input_lock:
            seq = self._key_seq if key_seq is None else key_seq
            view = self._key_view
        trace = stamp(self.tracing.frame_trace(seq), "submit")
        shown = plain_json(observation) if self.send_observations and observation is not None else None
        sent = self._frames.submit(
            frame,
            key_seq=seq or None,
            key_view=view,
            tick=tick,
            episode_return=episode_return,
            trace=trace,
            observation=shown,
        )
        if tick is not None or episode_return is not None:
            now = time.monotonic()
            if now - self._status_synced_at >= STATUS_SYNC_S:
                self._status_synced_at = now
                self.set_status(tick=tick, episode_return=episode_return)
        return sent

    @property
    def frame_format(self) -> FrameFormat:
        """Encoding of frames from now on: 'rgb-deflate' (default), 'rgb', 'png', 'jpeg', 'webp'."""
        return self._frames.format

    @frame_format.setter
    def frame_format(self, fmt: FrameFormat) -> None:
        self._frames.set_format(fmt)

    def frame_stats(self) -> dict[str, float]:
        """Counters of the frame stream: submitted, sent, dropped (replaced while waiting), acked..."""
        stats = self._frames.stats.as_dict()
        stats["in_flight"] = self._frames.in_flight
        return stats

    @property
    def last_frame(self) -> EncodedFrame | None:
        """The last frame sent, as re-sent to new views."""
        return self._frames.last_frame

    def _send_frame(self, header: dict[str, Any], buffers: list[bytes]) -> None:
        self.send(header, buffers=buffers)

    # ---- status
    def set_status(
        self,
        *,
        tick: int | None = None,
        episode_return: float | None = None,
        state: str | None = None,
        message: str | None = None,
    ) -> None:
        """Update the status line in one message; safe from any thread."""
        values = {"tick": tick, "episode_return": episode_return, "state": state, "message": message}
        with self._status_lock, self.hold_sync():
            for name, value in values.items():
                if value is not None:
                    setattr(self, name, value)

    # ---- input
    @property
    def pressed(self) -> frozenset[str]:
        """The keys held right now (empty when no view has focus)."""
        with self._input_lock:
            return frozenset(self._pressed)

    @property
    def pressed_in_order(self) -> tuple[str, ...]:
        """The held keys in the order they were pressed (for "last key wins" maps)."""
        with self._input_lock:
            return self._pressed

    @property
    def key_seq(self) -> int:
        """Number of the last key message received; pass it to :meth:`show_frame`."""
        with self._input_lock:
            return self._key_seq

    def on_keys(self, callback: KeysCallback, remove: bool = False) -> None:
        """Call ``callback(pressed, t_ms)`` whenever the set of held keys changes.

        ``t_ms`` is the browser's wall clock (ms since the epoch) of the key event. Runs on the
        kernel's comm thread: hop into your loop with ``loop.call_soon_threadsafe``.
        """
        self._keys_callbacks.register(callback, remove)

    def on_control(self, callback: ControlCallback, remove: bool = False) -> None:
        """Call ``callback(action)`` for 'pause', 'resume', 'restart', 'play_again' (same threads)."""
        self._control_callbacks.register(callback, remove)

    def on_action(self, callback: ActionCallback, remove: bool = False) -> None:
        """Call ``callback(value, t_ms)`` for JSON actions sent by a custom front end (same threads)."""
        self._action_callbacks.register(callback, remove)

    def on_analog(self, callback: AnalogCallback, remove: bool = False) -> None:
        """Call ``callback(source, values, buttons, t_ms)`` for readings of the pointer, a gamepad or
        the sliders (``protocol.AnalogMessage``; same threads)."""
        self._analog_callbacks.register(callback, remove)

    # ---- messages from views (``protocol.VIEW_MESSAGES``)
    #: each message kind a view sends and the method that handles it
    MESSAGE_HANDLERS: ClassVar[dict[str, str]] = {
        "hello": "_on_hello_message",
        "ack": "_on_ack_message",
        "keys": "_on_keys_message",
        "control": "_on_control_message",
        "action": "_on_action_message",
        "analog": "_on_analog_message",
    }

    def _handle_message(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        handler = self.MESSAGE_HANDLERS.get(content.get("type")) if isinstance(content, dict) else None
        if handler is None:
            log.debug("PlayWidget: ignoring message %r", content)
            return
        try:
            getattr(self, handler)(content)
        except (KeyError, TypeError, ValueError):
            log.warning("PlayWidget: malformed message %r", content, exc_info=True)

    def _on_hello_message(self, content: dict[str, Any]) -> None:
        self._release_keys_of_other_views(content.get("view"))
        self._frames.hello()

    def _on_ack_message(self, content: dict[str, Any]) -> None:
        self._frames.ack(
            int(content["seq"]), _float_or_none(content.get("recv_ms")), _float_or_none(content.get("ack_ms"))
        )

    def _on_action_message(self, content: dict[str, Any]) -> None:
        self._action_callbacks(content.get("value"), _float_or_none(content.get("t_ms")))

    def _on_analog_message(self, content: dict[str, Any]) -> None:
        self._note_input_path()
        self._analog_callbacks(
            str(content["source"]),
            [float(v) for v in content.get("values", ())],
            [float(v) for v in content.get("buttons") or ()],
            _float_or_none(content.get("t_ms")),
        )

    def _note_input_path(self) -> None:
        """Tell the person when their input can only arrive between cells (once)."""
        if not self.notice and handled_between_cells():
            self.notice = BETWEEN_CELLS_NOTICE

    def _on_keys_message(self, content: dict[str, Any]) -> None:
        self._note_input_path()
        pressed = tuple(str(k) for k in content.get("pressed", ()))
        with self._input_lock:
            self._pressed = pressed
            self._key_seq = int(content.get("seq", self._key_seq + 1))
            self._key_view = content.get("view")
            self.tracing.key_received(self._key_seq)
        self._keys_callbacks(frozenset(pressed), float(content.get("t_ms", 0.0)))

    def _release_keys_of_other_views(self, view: Any) -> None:
        """A view appeared (page reload): keys held in a view that may be gone must not stay down."""
        with self._input_lock:
            if not self._pressed or self._key_view == view:
                return
            self._pressed = ()
        self._keys_callbacks(frozenset(), time.time() * 1000)

    def _on_control_message(self, content: dict[str, Any]) -> None:
        self._note_input_path()
        action = str(content.get("action"))
        if action not in CONTROL_ACTIONS:
            log.warning("PlayWidget: unknown control %r", action)
            return
        with self._status_lock:
            self.paused = action == "pause"  # resume, restart and play again all un-pause
        self._control_callbacks(action)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
