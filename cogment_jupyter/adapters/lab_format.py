"""Cogment Lab's wire format, the second payload format a trial can run in.

A trial with a Cogment Lab service (``lab.serve_remote(..., protocol="cogment_lab")``) carries
observations and actions as Lab 0.1.5 does, so Lab's own environments and actors take part
unchanged: ``cogment_lab.Observation{value, active, alive, rendered_frame}`` and
``cogment_lab.PlayerAction{value}``, each value flattened with ``gymnasium.spaces.flatten``
into a raw ``nd_array.Array`` (a Discrete action travels one-hot); frames as PNG; the
environment's config is Lab's ``EnvironmentConfig`` and each Lab actor's is an ``AgentConfig``
holding the agent's spaces. Our own components in such a trial make and read the same bytes
(:class:`CogmentLabObservation`, :class:`CogmentLabAction`), and the datastore reads the trial
back through :class:`CogmentLabTrialCodec`, which turns Lab's messages into our envelopes.

The messages are Lab's own, generated from its ``.proto`` files (``cogment_jupyter.proto.cogment_lab``).
PNG needs Pillow (``pip install pillow``), as Lab does.
"""

from __future__ import annotations

import io
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import Codec
from cogment_jupyter.adapters.frame_codec import decode_frame
from cogment_jupyter.adapters.payloads import LabAction, LabObservation, value_envelope
from cogment_jupyter.adapters.trial_codec import TrialCodec
from cogment_jupyter.adapters.wire import encode_observation
from cogment_jupyter.proto.cogment_lab import data_pb2, ndarray_pb2, spaces_pb2

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FORMAT",
    "CogmentLabAction",
    "CogmentLabObservation",
    "CogmentLabTrialCodec",
    "LabFormatError",
    "agent_config",
    "decode_lab_action",
    "decode_lab_observation",
    "environment_config",
    "space_from_lab",
    "space_to_lab",
]

#: The name of the format (``serve_remote(protocol=...)``, the trial property, our configs).
FORMAT = "cogment_lab"
#: Lab's seeds are ``uint32``.
SEED_RANGE = 2**32

_TO_LAB = {
    "float32": ndarray_pb2.DTYPE_FLOAT32,
    "float64": ndarray_pb2.DTYPE_FLOAT64,
    "int8": ndarray_pb2.DTYPE_INT8,
    "int32": ndarray_pb2.DTYPE_INT32,
    "int64": ndarray_pb2.DTYPE_INT64,
    "uint8": ndarray_pb2.DTYPE_UINT8,
}
_FROM_LAB = {code: np.dtype(name) for name, code in _TO_LAB.items()}
#: dtypes Lab has no code for, sent as one it has that holds every value
_WIDENED = {"bool": "uint8", "float16": "float32", "int16": "int32", "uint16": "int32", "uint32": "int64"}


class LabFormatError(ValueError):
    """A value, space or config that Cogment Lab's wire format cannot carry."""


# -- arrays --------------------------------------------------------------------------------


def _lab_dtype(dtype: np.dtype) -> np.dtype:
    name = np.dtype(dtype).name
    name = _WIDENED.get(name, name)
    if name not in _TO_LAB:
        raise LabFormatError(
            f"Cogment Lab's wire format has no dtype {np.dtype(dtype).name} (it carries float32, float64, int8, "
            "int32, int64 and uint8)"
        )
    return np.dtype(name)


def array_to_lab(a: Any, structured: bool = False) -> Any:
    """An ``nd_array.Array``: raw C-order bytes (values), or one number per element (``structured``:
    how Lab writes the bounds of spaces)."""
    a = np.asarray(a)
    a = a.astype(_lab_dtype(a.dtype), copy=False)
    message = ndarray_pb2.Array(dtype=_TO_LAB[a.dtype.name], shape=a.shape)
    if not structured:
        message.raw_data = np.ascontiguousarray(a).tobytes()
    elif a.dtype.kind == "f":
        message.double_data.extend(a.ravel().tolist())
    elif a.dtype.name == "uint8":
        message.uint32_data.extend(a.ravel().tolist())
    elif a.dtype.name == "int64":
        message.int64_data.extend(a.ravel().tolist())
    else:
        message.int32_data.extend(a.ravel().tolist())
    return message


def array_from_lab(message: Any) -> np.ndarray | None:
    """The array of an ``nd_array.Array`` in any of Lab's three layouts; None for an empty one."""
    dtype = _FROM_LAB.get(message.dtype)
    shape = tuple(message.shape)
    if message.raw_data:
        if dtype is None:
            raise LabFormatError(f"an nd_array of unknown dtype {message.dtype} cannot be read")
        return np.frombuffer(message.raw_data, dtype=dtype).reshape(shape)
    if message.npy_data:
        return np.load(io.BytesIO(message.npy_data), allow_pickle=False)
    for field in ("double_data", "uint32_data", "int32_data", "int64_data"):
        values = getattr(message, field)
        if len(values) or (dtype is not None and shape and not int(np.prod(shape))):
            return np.asarray(values, dtype=dtype).reshape(shape)
    if message.string_data:
        return np.asarray(list(message.string_data)).reshape(shape)
    return None


# -- spaces ---------------------------------------------------------------------------------


def space_to_lab(space: gym.Space) -> Any:
    """The ``spaces.Space`` message of a Gymnasium space, as Lab's ``serialize_gym_space`` writes it."""
    if isinstance(space, gym.spaces.Discrete):
        return spaces_pb2.Space(discrete=spaces_pb2.Discrete(n=int(space.n), start=int(space.start)))
    if isinstance(space, gym.spaces.Box):
        return spaces_pb2.Space(
            box=spaces_pb2.Box(low=array_to_lab(space.low, True), high=array_to_lab(space.high, True))
        )
    if isinstance(space, gym.spaces.MultiBinary):
        n = np.asarray([space.n] if isinstance(space.n, int | np.integer) else space.n, dtype=np.int32)
        return spaces_pb2.Space(multi_binary=spaces_pb2.MultiBinary(n=array_to_lab(n, True)))
    if isinstance(space, gym.spaces.MultiDiscrete):
        return spaces_pb2.Space(multi_discrete=spaces_pb2.MultiDiscrete(nvec=array_to_lab(space.nvec, True)))
    if isinstance(space, gym.spaces.Dict):
        subspaces = [spaces_pb2.Dict.SubSpace(key=str(k), space=space_to_lab(s)) for k, s in space.spaces.items()]
        return spaces_pb2.Space(dict=spaces_pb2.Dict(spaces=subspaces))
    if isinstance(space, gym.spaces.Text):
        return spaces_pb2.Space(
            text=spaces_pb2.Text(max_length=space.max_length, min_length=space.min_length, charset=space.characters)
        )
    raise LabFormatError(
        f"Cogment Lab 0.1.5's wire format has no {type(space).__name__} spaces (it knows Discrete, Box, Dict, "
        "MultiBinary, MultiDiscrete and Text): this environment cannot play with Cogment Lab services"
    )


def space_from_lab(message: Any) -> gym.Space:
    """The Gymnasium space of a ``spaces.Space`` message (Lab's ``deserialize_space``)."""
    kind = message.WhichOneof("kind")
    if kind == "discrete":
        return gym.spaces.Discrete(message.discrete.n, start=message.discrete.start)
    if kind == "box":
        low, high = array_from_lab(message.box.low), array_from_lab(message.box.high)
        if low is None or high is None:
            raise LabFormatError("a Box space without bounds")
        return gym.spaces.Box(low=low, high=high, shape=low.shape, dtype=low.dtype)
    if kind == "multi_binary":
        n = array_from_lab(message.multi_binary.n)
        return gym.spaces.MultiBinary(n if n is not None and n.size > 1 else int(n[0]) if n is not None else 0)
    if kind == "multi_discrete":
        return gym.spaces.MultiDiscrete(array_from_lab(message.multi_discrete.nvec))
    if kind == "dict":
        return gym.spaces.Dict([(s.key, space_from_lab(s.space)) for s in message.dict.spaces])
    if kind == "text":
        text = message.text
        return gym.spaces.Text(text.max_length, min_length=text.min_length, charset=text.charset)
    raise LabFormatError(f"a Cogment Lab space of no known kind ({kind!r})")


# -- values and frames -----------------------------------------------------------------------


def value_to_lab(space: gym.Space, value: Any) -> Any:
    """A value as Lab sends it: flattened with Gymnasium, raw bytes."""
    return array_to_lab(gym.spaces.flatten(space, value))


def value_from_lab(space: gym.Space, message: Any) -> Any:
    """A value from Lab's message (None when it carries none), unflattened to the space's shape."""
    flat = array_from_lab(message)
    if flat is None:
        return None
    value = gym.spaces.unflatten(space, flat)
    return int(value) if isinstance(space, gym.spaces.Discrete) else value


class _PngCache:
    """The PNG of the last frame encoded: every agent's observation of one step carries the same
    frame, and PNG costs milliseconds."""

    def __init__(self) -> None:
        self._frame: weakref.ref[np.ndarray] | None = None
        self._data = b""

    def encode(self, frame: np.ndarray) -> bytes:
        if self._frame is not None and self._frame() is frame:
            return self._data
        try:
            from PIL import Image
        except ImportError as error:
            raise LabFormatError(
                "frames in Cogment Lab's wire format are PNG images, which need Pillow: pip install pillow"
            ) from error
        with io.BytesIO() as out:
            Image.fromarray(np.asarray(frame).astype(np.uint8)).save(out, format="PNG")
            data = out.getvalue()
        try:
            self._frame = weakref.ref(frame)
        except TypeError:
            self._frame = None
        self._data = data
        return data


_png = _PngCache()


# -- payloads ------------------------------------------------------------------------------


class CogmentLabObservation(LabObservation):
    """An observation of a trial in Lab's format: the same object in-process, Lab's bytes on the wire."""

    __slots__ = ()

    def to_bytes(self) -> bytes:
        if self._wire is None:
            message = data_pb2.Observation(active=not self.inactive, alive=not self.dead)
            if self.value is not None:
                if self.codec is None:
                    raise LabFormatError("an observation needs its space's codec to be flattened")
                message.value.CopyFrom(value_to_lab(self.codec.space, self.value))
            if self.frame is not None:
                message.rendered_frame = _png.encode(self.frame)
            self._wire = message.SerializeToString()
        return self._wire


class CogmentLabAction(LabAction):
    """An action of a trial in Lab's format (``PlayerAction``; no value: no action)."""

    __slots__ = ()

    def to_bytes(self) -> bytes:
        if self._wire is None:
            if self.value is None:
                return b""
            if self.codec is None:
                raise LabFormatError("an action needs its space's codec to be flattened")
            self._wire = data_pb2.PlayerAction(value=value_to_lab(self.codec.space, self.value)).SerializeToString()
        return self._wire


def _parsed(payload: Any, message_type: Any) -> Any:
    if isinstance(payload, message_type):
        return payload
    message = message_type()
    message.ParseFromString(bytes(payload))
    return message


def decode_lab_observation(
    payload: bytes | LabObservation | Any | None, codec: Codec | None, action_codec: Codec | None = None
) -> LabObservation:
    """A :class:`LabObservation` from Lab's ``Observation`` (bytes or message), or as it is."""
    if isinstance(payload, LabObservation):
        return payload
    if payload is None:
        return CogmentLabObservation(None, codec)
    message = _parsed(payload, data_pb2.Observation)
    value = None
    if message.HasField("value"):
        if codec is None:
            raise LabFormatError("decoding an observation needs its space's codec")
        value = value_from_lab(codec.space, message.value)
    frame = decode_frame(message.rendered_frame, "png") if message.rendered_frame else None
    observation = CogmentLabObservation(value, codec, frame, not message.active, not message.alive)
    if isinstance(payload, bytes):
        observation._wire = payload
    return observation


def decode_lab_action(payload: bytes | LabAction | Any | None, codec: Codec | None) -> LabAction:
    """A :class:`LabAction` from Lab's ``PlayerAction`` (bytes or message), or as it is."""
    if isinstance(payload, LabAction):
        return payload
    if payload is None:
        return CogmentLabAction(None, codec)
    message = _parsed(payload, data_pb2.PlayerAction)
    if not message.HasField("value"):
        return CogmentLabAction(None, codec)
    if codec is None:
        raise LabFormatError("decoding an action needs its space's codec")
    return CogmentLabAction(value_from_lab(codec.space, message.value), codec)


# -- configs ---------------------------------------------------------------------------------


def _reset_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return data_pb2.Value(string_value=value)
    if isinstance(value, bool | int | np.integer) and -(2**31) <= int(value) < 2**31:
        return data_pb2.Value(int_value=int(value))
    if isinstance(value, float | np.floating):
        return data_pb2.Value(float_value=float(value))
    raise LabFormatError(
        f"reset option {key!r}={value!r}: Cogment Lab's reset_args carry strings, 32-bit whole numbers and floats"
    )


def environment_config(
    seed: int | None, render: bool, render_size: int = 0, reset_options: Mapping[str, Any] | None = None
) -> bytes:
    """Lab's ``EnvironmentConfig`` for a Lab environment. ``render_size``: Lab's ``render_width``,
    the longest side it lets a frame have."""
    message = data_pb2.EnvironmentConfig(render=render, render_width=render_size)
    if seed is not None:
        message.seed = seed % SEED_RANGE
    for key, value in (reset_options or {}).items():
        message.reset_args[str(key)].CopyFrom(_reset_value(str(key), value))
    return message.SerializeToString()


def agent_config(spec: AgentSpec, seed: int | None) -> bytes:
    """Lab's ``AgentConfig`` for a Lab actor: the agent's spaces (and its seed)."""
    specs = data_pb2.AgentSpecs(
        observation_space=space_to_lab(spec.observation_space), action_space=space_to_lab(spec.action_space)
    )
    return data_pb2.AgentConfig(agent_specs=specs, seed=(seed or 0) % SEED_RANGE).SerializeToString()


# -- reading trials back ----------------------------------------------------------------------


class CogmentLabTrialCodec(TrialCodec):
    """Reads a trial recorded in Lab's format: each stored message is turned into our envelope
    (values in our codecs, ``inactive``/``dead`` from ``active``/``alive``, PNG frames as they
    came), then read as any of our trials."""

    def observation_envelopes(self, actor: str | int, contents: pa.Array) -> pa.Array:
        import pyarrow as pa

        codec = self[actor].observation
        return pa.array([None if c is None else self._envelope(c, codec) for c in contents.to_pylist()], pa.binary())

    def action_envelopes(self, actor: str | int, contents: pa.Array) -> pa.Array:
        import pyarrow as pa

        codec = self[actor].action
        rows = contents.to_pylist()
        return pa.array(
            [None if c is None else value_envelope(codec, decode_lab_action(c, codec).value) for c in rows],
            pa.binary(),
        )

    def observation(self, actor: str | int, content: bytes) -> LabObservation:
        return decode_lab_observation(content, self[actor].observation)

    @staticmethod
    def _envelope(content: bytes, codec: Codec) -> bytes:
        message = data_pb2.Observation.FromString(content)
        value = value_from_lab(codec.space, message.value) if message.HasField("value") else None
        frame = message.rendered_frame
        return encode_observation(
            None if value is None else codec.encode(value),
            not message.active,
            not message.alive,
            frame,
            "png" if frame else "",
        )
