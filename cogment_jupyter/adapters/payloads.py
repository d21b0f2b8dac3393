"""In-process observation and action payloads.

In-kernel components hand these objects to each other as they are: building one costs a
few attribute stores, nothing is encoded. Only the edges that need bytes (gRPC peers,
storage) call ``to_bytes()`` (see ``engine.records.as_bytes``), which produces the wire
envelope of :mod:`.wire`. ``decode_observation`` / ``decode_action`` accept either form, so
code that may receive bytes from a gRPC peer or an object in-process has a single path.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

import numpy as np

from cogment_jupyter.adapters import wire
from cogment_jupyter.adapters.codec import Codec
from cogment_jupyter.adapters.frame_codec import decode_frame, encode_frame

__all__ = [
    "LabAction",
    "LabObservation",
    "bare_observation",
    "checked_envelope_encoder",
    "decode_action",
    "decode_observation",
    "envelope_encoder",
    "fixed_value",
    "info_from_json",
    "info_to_json",
    "mask_from_bytes",
    "mask_to_bytes",
    "observation_encoder",
    "plain_json",
    "value_envelope",
]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return repr(obj)


def plain_json(obj: Any) -> Any:
    """A strict-JSON version of ``obj``: str keys, lists, finite floats, repr for the rest."""
    if isinstance(obj, Mapping):
        return {k if isinstance(k, str) else str(k): plain_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [plain_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain_json(obj.tolist())
    if isinstance(obj, np.generic):
        return plain_json(obj.item())
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else repr(obj)
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    return repr(obj)


#: ``json.dumps(..., default=_json_default, separators=(",", ":"), allow_nan=False)``, made once
#: (``dumps`` with arguments makes an encoder per call; every trial's reset info is encoded)
_INFO_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"), allow_nan=False)
_PLAIN_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def info_to_json(info: Mapping[str, Any] | None) -> str:
    """JSON of an env ``info`` dict: numpy values as lists/numbers, anything else as its repr."""
    if not info:
        return ""
    if info.__class__ is dict and len(info) == 1:  # (a reset's {"seed": n}: every trial has one)
        for key, value in info.items():
            if key.__class__ is str and value.__class__ is int:  # (a bool is no int here)
                return f"{{{_json_string(key)}:{value!r}}}"
    try:
        return _INFO_ENCODER.encode(info)
    except (TypeError, ValueError):  # non-str keys or non-finite floats
        return _PLAIN_ENCODER.encode(plain_json(info))


def info_from_json(text: str) -> dict[str, Any]:
    return json.loads(text) if text else {}


def mask_to_bytes(mask: Any) -> bytes:
    """One byte (0/1) per action; a tuple of masks (MultiDiscrete) is concatenated."""
    if mask is None:
        return b""
    if isinstance(mask, tuple | list) and mask and isinstance(mask[0], np.ndarray | list | tuple):
        return b"".join(mask_to_bytes(m) for m in mask)
    return (np.asarray(mask) != 0).astype(np.uint8).tobytes()


def mask_from_bytes(data: bytes, action_codec: Codec | None = None) -> Any:
    """The mask as ``int8`` arrays shaped for the action space's ``sample(mask=...)``."""
    if not data:
        return None
    flat = np.frombuffer(data, dtype=np.uint8).astype(np.int8)
    space = getattr(action_codec, "space", None)
    nvec = getattr(space, "nvec", None)
    if nvec is not None:  # MultiDiscrete: one mask per dimension
        sizes = np.asarray(nvec).reshape(-1)
        return tuple(np.split(flat, np.cumsum(sizes)[:-1]))
    shape = getattr(space, "shape", None)
    if shape and int(np.prod(shape)) == flat.size:
        return flat.reshape(shape)
    return flat


def value_envelope(codec: Codec, value: Any) -> bytes:
    """The envelope of a value that carries nothing else: an action's, or a bare observation's
    (the same bytes); ``None`` gives the empty envelope. Raises for a value outside the space.

    Values already of the space's exact type skip the codec's conversions
    (:meth:`Codec.exact_bytes`): every recorded tick encodes its actions and bare observations here.
    """
    if value is None:
        return b""
    raw = codec.exact_bytes(value)
    return wire.encode_action(codec.encode(value) if raw is None else raw)


@functools.lru_cache(maxsize=1024)
def envelope_encoder(codec: Codec) -> Callable[[Any], bytes]:
    """``value_envelope(codec, ·)`` made for one space, for a loop that encodes a value of it
    every tick: a value of exactly the space's type costs one call (the envelope of a
    fixed-size value is a constant prefix and its bytes). Made once per codec (every trial
    asks; codecs are shared)."""
    general = functools.partial(value_envelope, codec)
    size = codec.size
    if size is None:
        return general
    header = wire.encode_action(bytes(size))
    return codec.exact_encoder(header[: len(header) - size], general)


@functools.lru_cache(maxsize=1024)
def checked_envelope_encoder(codec: Codec) -> Callable[[Any], bytes | None]:
    """The envelope of an answer the codec's ``validate`` takes as it is, checked and encoded
    in one call (``Codec.checked_encoder``): :func:`envelope_encoder`'s bytes for it; None for
    any other answer (check it with ``validate``, then encode it). Made once per codec."""
    size = codec.size
    if size is None:
        return _no_envelope  # (a value's envelope is no prefix and its bytes)
    header = wire.encode_action(bytes(size))
    return codec.checked_encoder(header[: len(header) - size])


def _no_envelope(value: Any) -> None:
    return None


@functools.lru_cache(maxsize=1024)
def observation_encoder(codec: Codec) -> Callable[[LabObservation], bytes]:
    """``LabObservation.to_bytes`` for a loop that records an observation of ``codec``'s space
    every tick: a bare one (its value alone) takes :func:`envelope_encoder`'s path. Made once
    per codec."""
    value_bytes = envelope_encoder(codec)

    def encode(observation: LabObservation) -> bytes:
        if (
            observation._more is None
            and observation.frame is None
            and observation.action_mask is None
            and observation._wire is None
            and observation.codec is codec
        ):
            return value_bytes(observation.value)
        return observation.to_bytes()

    return encode


def fixed_value(value: Any) -> tuple[Any, bool]:
    """``(value that cannot change any more, True)``: ints, floats, strings and None as they
    are, numpy arrays copied; ``(value, False)`` for the others (containers)."""
    cls = value.__class__
    if cls is int or value is None:  # the common cases first: the engine snapshots every in-process payload
        return value, True
    if isinstance(value, np.ndarray):
        return value.copy(), True
    if isinstance(value, int | float | str | bytes | np.generic):
        return value, True
    return value, False


@dataclass(slots=True)
class _Extras:
    """What an observation holds besides its value, frame and mask (see :class:`LabObservation`)."""

    inactive: bool = False
    dead: bool = False
    terminated: bool = False
    truncated: bool = False
    info: Mapping[str, Any] | None = None


class LabObservation:
    """One agent's observation of a tick, as in-process components exchange it.

    ``value`` is the plain observation (``None``: nothing observed), ``frame`` an RGB array
    or ``None``; ``codec`` is the observation space's codec, used only by :meth:`to_bytes`.
    ``asks_action``: the agent is asked to act on it (it is neither inactive this tick nor
    dead). Flags and info are kept apart: most observations have none, and one is made
    per actor every tick.
    """

    __slots__ = ("_more", "_wire", "action_mask", "asks_action", "codec", "frame", "value")

    def __init__(
        self,
        value: Any,
        codec: Codec | None = None,
        frame: np.ndarray | None = None,
        inactive: bool = False,
        dead: bool = False,
        terminated: bool = False,
        truncated: bool = False,
        info: Mapping[str, Any] | None = None,
        action_mask: Any = None,
    ) -> None:
        self.value = value
        self.codec = codec
        self.frame = frame
        self.action_mask = action_mask
        self.asks_action = not (inactive or dead)
        self._wire: bytes | None = None
        if not (inactive or dead or terminated or truncated or info):
            self._more: _Extras | None = None
        else:
            self._more = _Extras(inactive, dead, terminated, truncated, info)

    @property
    def inactive(self) -> bool:
        return self._more is not None and self._more.inactive

    @property
    def dead(self) -> bool:
        return self._more is not None and self._more.dead

    @property
    def terminated(self) -> bool:
        return self._more is not None and self._more.terminated

    @property
    def truncated(self) -> bool:
        return self._more is not None and self._more.truncated

    @property
    def info(self) -> Mapping[str, Any] | None:
        return None if self._more is None else self._more.info

    def to_bytes(self) -> bytes:
        """The :class:`wire.Observation` envelope (computed once, then cached)."""
        if self._wire is not None:
            return self._wire
        value, codec, more = self.value, self.codec, self._more
        if more is None and self.frame is None and self.action_mask is None and codec is not None:  # bare
            self._wire = value_envelope(codec, value)
            return self._wire
        if value is not None:
            if codec is None:
                raise ValueError(
                    "LabObservation.to_bytes() needs the observation space's codec: "
                    "build it with LabObservation(value, codec_for(space))"
                )
            value = codec.encode(value)
        if more is None:
            more = _NOTHING_MORE
        frame, frame_format = (b"", "") if self.frame is None else encode_frame(self.frame)
        self._wire = wire.encode_observation(
            value,
            more.inactive,
            more.dead,
            frame,
            frame_format,
            more.terminated,
            more.truncated,
            info_to_json(more.info) if more.info else "",
            b"" if self.action_mask is None else mask_to_bytes(self.action_mask),
        )
        return self._wire

    def snapshot(self, envelope: bytes | None = None) -> None:
        """Fix what this observation records as (``envelope``, or its values as they are now):
        the environment may change its arrays in place at its next step. Arrays are copied,
        a fraction of what encoding them costs (this runs before a person's frame is shown);
        other mutable values are encoded now."""
        if envelope is not None:
            self._wire = envelope
        elif self._wire is None:
            value, fixed = fixed_value(self.value)
            if fixed:
                self.value = value
                if self.frame is not None:
                    self.frame = self.frame.copy()
            else:
                with contextlib.suppress(Exception):  # the datastore records why it cannot be encoded
                    self.to_bytes()

    def __repr__(self) -> str:
        flags = [n for n in ("inactive", "dead", "terminated", "truncated") if getattr(self, n)]
        extra = "".join(f", {f}" for f in flags)
        if self.frame is not None:
            extra += f", frame={getattr(self.frame, 'shape', '?')}"
        if self.action_mask is not None:
            extra += ", action_mask=..."
        return f"LabObservation({self.value!r}{extra})"


_NOTHING_MORE = _Extras()


def bare_observation(value: Any, codec: Codec | None, _new: Any = object.__new__) -> LabObservation:
    """``LabObservation(value, codec)``, made in a third less time (one per actor every tick)."""
    observation = _new(LabObservation)
    observation.value = value
    observation.codec = codec
    observation.frame = None
    observation.action_mask = None
    observation.asks_action = True
    observation._wire = None
    observation._more = None
    return observation


class LabAction:
    """One agent's action (``value is None``: no action)."""

    __slots__ = ("_wire", "codec", "value")

    def __init__(self, value: Any, codec: Codec | None = None) -> None:
        self.value = value
        self.codec = codec
        self._wire: bytes | None = None

    def to_bytes(self) -> bytes:
        """The :class:`wire.Action` envelope (computed once, then cached)."""
        if self._wire is None:
            if self.value is None:
                return b""
            if self.codec is None:
                raise ValueError(
                    "LabAction.to_bytes() needs the action space's codec: build it with "
                    "LabAction(value, codec_for(space))"
                )
            self._wire = value_envelope(self.codec, self.value)
        return self._wire

    def snapshot(self) -> None:
        """Fix what this action records as: the actor may change its array later."""
        if self._wire is None:
            value, fixed = fixed_value(self.value)
            if fixed:
                self.value = value
            else:
                with contextlib.suppress(Exception):
                    self.to_bytes()

    def __repr__(self) -> str:
        return f"LabAction({self.value!r})"


def decode_observation(
    payload: bytes | LabObservation | Any | None, codec: Codec | None, action_codec: Codec | None = None
) -> LabObservation:
    """A :class:`LabObservation` from envelope bytes, a parsed :class:`wire.Observation`
    (what an official-SDK actor gets with our ``cog_settings``) or a LabObservation (as is)."""
    if isinstance(payload, LabObservation):
        return payload
    if payload is None:
        return LabObservation(None, codec)
    msg = _envelope(payload, wire.Observation, "observation")
    obs = LabObservation(
        _value(msg, codec, "observation"),
        codec,
        decode_frame(msg.frame, msg.frame_format) if msg.frame else None,
        msg.inactive,
        msg.dead,
        msg.terminated,
        msg.truncated,
        info_from_json(msg.info_json),
        mask_from_bytes(msg.action_mask, action_codec),
    )
    if isinstance(payload, bytes):
        obs._wire = payload
    return obs


def decode_action(payload: bytes | LabAction | Any | None, codec: Codec | None) -> LabAction:
    """A :class:`LabAction` from envelope bytes, a parsed :class:`wire.Action` or a LabAction."""
    if isinstance(payload, LabAction):
        return payload
    if payload is None:
        return LabAction(None, codec)
    return LabAction(_value(_envelope(payload, wire.Action, "action"), codec, "action"), codec)


def _envelope(payload: Any, message_type: Any, what: str) -> Any:
    """The wire message from its bytes, or the message itself when the SDK already parsed it."""
    if isinstance(payload, bytes | bytearray | memoryview):
        msg = message_type()
        msg.ParseFromString(bytes(payload))
        return msg
    if isinstance(payload, message_type):
        return payload
    raise TypeError(f"cannot decode an {what} from {type(payload).__name__}: expected bytes")


def _value(msg: Any, codec: Codec | None, what: str) -> Any:
    """The envelope's value decoded with the space's codec (``None`` when absent)."""
    if not msg.HasField("value"):
        return None
    if codec is None:
        raise ValueError(f"decoding {what} bytes needs the {what} space's codec (codec_for(space))")
    return codec.decode(msg.value)
