"""The play widget's messages, kernel side: the Python half of ``js/src/protocol.ts``.

Custom comm messages (JSON, plus one binary buffer for a frame's pixels) between
:class:`~cogment_jupyter.notebook.widget.PlayWidget` and its views. The two halves are written
by hand in their own languages; ``tests/notebook/test_protocol.py`` parses the TypeScript and
fails when a message, a field, its type or whether it is optional differs between them, or when
the widget handles a message kind that is not declared here.
"""

# no ``from __future__ import annotations``: TypedDict reads NotRequired from evaluated annotations

from typing import Any, Literal, NotRequired, TypedDict, get_args, get_type_hints

__all__ = [
    "CONTROL_ACTIONS",
    "FORMATS",
    "KERNEL_MESSAGES",
    "VIEW_MESSAGES",
    "AckMessage",
    "ActionMessage",
    "AnalogMessage",
    "AnalogSource",
    "ControlAction",
    "ControlMessage",
    "FrameFormat",
    "FrameMessage",
    "HelloMessage",
    "KeyEventKind",
    "KeysMessage",
    "message_kind",
]

#: how a frame's single binary buffer is encoded
FrameFormat = Literal["rgb", "rgb-deflate", "png", "jpeg", "webp"]
FORMATS: tuple[str, ...] = get_args(FrameFormat)

ControlAction = Literal["pause", "resume", "restart", "play_again"]
CONTROL_ACTIONS: tuple[str, ...] = get_args(ControlAction)

KeyEventKind = Literal["down", "up", "release"]

#: the continuous inputs a view reads (``notebook.analog``)
AnalogSource = Literal["pointer", "gamepad", "sliders"]


class FrameMessage(TypedDict):
    """Kernel -> view: one frame; the pixels travel in ``buffers[0]``, never inside the JSON."""

    type: Literal["frame"]
    seq: int
    format: FrameFormat
    width: int
    height: int
    #: the last key message the kernel had seen when it made this frame (for latency)
    key_seq: NotRequired[int]
    key_view: NotRequired[str]
    #: status of the step the frame shows, so the status line moves with the picture
    tick: NotRequired[int]
    episode_return: NotRequired[float]
    #: false: no ack needed for this frame alone (acks are cumulative)
    ack: NotRequired[bool]
    #: only while a benchmark traces (``notebook.tracing``): the frame's kernel-side timestamps
    trace: NotRequired[dict[str, Any]]
    #: the frame's observation as JSON, when the widget sends observations
    observation: NotRequired[Any]


class HelloMessage(TypedDict):
    """A view rendered (re-display, page reload): it gets the latest frame."""

    type: Literal["hello"]
    view: str


class AckMessage(TypedDict):
    """A view painted (or skipped for a newer one) every frame up to ``seq``."""

    type: Literal["ack"]
    seq: int
    view: str
    #: browser wall clock when the frame arrived and when it was painted (diagnostics)
    recv_ms: NotRequired[float]
    ack_ms: NotRequired[float]


class KeysMessage(TypedDict):
    """The set of held keys changed (``release``: focus lost, every key up)."""

    type: Literal["keys"]
    view: str
    seq: int
    event: KeyEventKind
    key: str | None
    #: held keys in press order
    pressed: list[str]
    #: browser wall clock (ms since the epoch) of the DOM event
    t_ms: float


class ControlMessage(TypedDict):
    """A button (or Enter/Space on the end screen)."""

    type: Literal["control"]
    action: ControlAction


class ActionMessage(TypedDict):
    """A JSON action from a custom front end, taken as the player's next action."""

    type: Literal["action"]
    value: Any
    t_ms: NotRequired[float]


class AnalogMessage(TypedDict):
    """Raw positions of a continuous input (the kernel maps them to actions: ``notebook.analog``)."""

    type: Literal["analog"]
    view: str
    #: pointer: [x, y] over the frame, 0..1 from its top left; gamepad: its axes (-1..1);
    #: sliders: their values, in the action's units
    source: AnalogSource
    values: list[float]
    #: gamepad: every button's value (0..1; triggers are analog)
    buttons: NotRequired[list[float]]
    t_ms: float


KERNEL_MESSAGES: tuple[type, ...] = (FrameMessage,)
VIEW_MESSAGES: tuple[type, ...] = (
    HelloMessage,
    AckMessage,
    KeysMessage,
    ControlMessage,
    ActionMessage,
    AnalogMessage,
)


def message_kind(message: type) -> str:
    """The ``type`` field's value of a message class (``"frame"`` for :class:`FrameMessage`)."""
    (kind,) = get_args(get_type_hints(message)["type"])
    return kind
