"""A compact binary value codec for every supported gymnasium space.

Values are written the way numpy holds them, so any language can read them with the space
description alone (see :mod:`.spaces`):

- ``Discrete``: one little-endian signed integer holding the value itself (start included),
  in the smallest of 1, 2, 4 or 8 bytes that holds ``start .. start + n - 1``. Not one-hot.
- ``Box`` / ``MultiBinary`` (int8) / ``MultiDiscrete``: the raw C-order bytes in the space's
  dtype, little-endian (``bool`` is one byte, 0 or 1).
- ``Text``: UTF-8.
- ``Dict`` (in key order) / ``Tuple``: the children one after the other; a child whose size
  is not fixed (Text, or a container holding one) is preceded by its length as an unsigned
  LEB128 varint. A container of fixed-size children is therefore a fixed layout.

``decode_column`` turns a whole Arrow column of encoded values into a typed Arrow array
(Discrete -> int64, Box -> fixed-size list / fixed-shape tensor, Dict/Tuple -> struct,
Text -> string) with numpy over the Arrow buffers, not a Python loop per row.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from cogment_jupyter.adapters.spaces import SpaceFormatError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BoxCodec",
    "Codec",
    "DecodeError",
    "DictCodec",
    "DiscreteCodec",
    "TextCodec",
    "TupleCodec",
    "ValueOutsideSpaceError",
    "codec_for",
]


class ValueOutsideSpaceError(ValueError):
    """A value (an action, usually) does not belong to the space it is meant for."""


class DecodeError(ValueError):
    """Bytes that cannot be a value of the space (wrong size, truncated, not UTF-8)."""


# --------------------------------------------------------------------------- varints


def write_varint(n: int) -> bytes:
    """Unsigned LEB128, as protobuf writes lengths."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """``(value, next position)``; raises :class:`DecodeError` on truncation."""
    result = shift = 0
    end = len(data)
    while pos < end:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    raise DecodeError("truncated varint")


# --------------------------------------------------------------------------- arrow helpers


def binary_layout(contents: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(data, starts, lengths, present)`` numpy views of a (large) binary Arrow array.

    ``data`` is the Arrow data buffer as ``uint8`` (zero copy); nulls have ``present`` False.
    """
    import pyarrow as pa

    if isinstance(contents, pa.ChunkedArray):
        contents = contents.combine_chunks() if contents.num_chunks != 1 else contents.chunk(0)
    if not isinstance(contents, pa.Array):
        contents = pa.array(contents, type=pa.binary())
    if pa.types.is_string(contents.type) or pa.types.is_large_string(contents.type):
        contents = contents.cast(pa.large_binary() if pa.types.is_large_string(contents.type) else pa.binary())
    if not (pa.types.is_binary(contents.type) or pa.types.is_large_binary(contents.type)):
        raise TypeError(f"expected a binary Arrow array of encoded values, got {contents.type}")
    n = len(contents)
    _, off_buf, data_buf = contents.buffers()
    off_type = np.int64 if pa.types.is_large_binary(contents.type) else np.int32
    offsets = np.frombuffer(off_buf, dtype=off_type, count=n + 1, offset=contents.offset * off_type().itemsize)
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    present = np.ones(n, dtype=bool)
    if contents.null_count:
        present = contents.is_valid().to_numpy(zero_copy_only=False)
    return data, offsets[:-1], np.diff(offsets), present


def _gather_fixed(data: np.ndarray, starts: np.ndarray, present: np.ndarray, size: int) -> np.ndarray:
    """An ``(n, size)`` uint8 matrix of the rows; a view of ``data`` when rows are evenly spaced."""
    n = len(starts)
    if size == 0 or n == 0:
        return np.zeros((n, size), dtype=np.uint8)
    if present.all():
        s0 = int(starts[0])
        stride = int(starts[1] - s0) if n > 1 else size
        if stride == size and (n == 1 or bool(np.all(np.diff(starts) == stride))):
            return data[s0 : s0 + n * size].reshape(n, size)  # the common case: one view, no copy
        if stride > size and bool(np.all(np.diff(starts) == stride)):
            return np.lib.stride_tricks.as_strided(data[s0:], shape=(n, size), strides=(stride, 1), writeable=False)
    starts = np.where(present, starts, 0)
    if len(data) < size:
        data = np.concatenate([data, np.zeros(size, dtype=np.uint8)])
    out = np.empty((n, size), dtype=np.uint8)
    step = max(1, (1 << 21) // size)  # bound the index matrix to ~16 MiB
    cols = np.arange(size, dtype=np.int64)
    for i in range(0, n, step):
        out[i : i + step] = data[starts[i : i + step, None] + cols]
    return out


def _gather_variable(
    data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pack the rows' bytes back to back: ``(int32/64 offsets, data)`` for an Arrow binary array."""
    lengths = np.where(present, lengths, 0)
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return offsets, np.zeros(0, dtype=np.uint8)
    idx = np.repeat(starts - offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
    return offsets, data[idx]


def strings_from_spans(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, present: np.ndarray) -> pa.Array:
    """An Arrow string array of the rows' bytes (absent rows null); raises DecodeError unless UTF-8."""
    import pyarrow as pa

    offsets, packed = _gather_variable(data, starts, lengths, present)
    large = offsets[-1] >= 2**31 - 1
    typ = pa.large_string() if large else pa.string()
    off = offsets if large else offsets.astype(np.int32)
    mask = _mask(present)
    validity = None if mask is None else pa.array(present).buffers()[1]
    arr = pa.Array.from_buffers(typ, len(starts), [validity, pa.py_buffer(off), pa.py_buffer(packed)], null_count=-1)
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid as e:
        raise DecodeError(str(e)) from e
    return arr


def _mask(present: np.ndarray) -> Any:
    import pyarrow as pa

    return None if present.all() else pa.array(~present)


# --------------------------------------------------------------------------- codecs


class Codec(ABC):
    """Encodes values of one space to bytes and back.

    ``size`` is the encoded size in bytes when every value has the same size (which makes
    containers fixed layouts and columns decodable with one numpy view), else ``None``.
    """

    space: gym.Space
    size: int | None

    @abstractmethod
    def encode(self, value: Any) -> bytes:
        """Bytes of ``value``; raises :class:`ValueOutsideSpaceError` if it cannot be one."""

    @abstractmethod
    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        """The value (numpy array, int, str, dict or tuple) encoded in ``data``."""

    @abstractmethod
    def validate(self, value: Any, what: str = "value") -> Any:
        """``value`` (converted to the space's type where that is lossless) if it belongs to
        the space; else raise :class:`ValueOutsideSpaceError` naming the space and the fix."""

    @property
    @abstractmethod
    def arrow_type(self) -> pa.DataType: ...

    def checks_as(self, other: Codec) -> bool:
        """Whether ``other.validate`` returns unchanged every value this codec's ``validate``
        returns (their spaces hold the same values): a value checked here needs no check there."""
        return other is self

    def exact_bytes(self, value: Any) -> bytes | None:
        """What :meth:`encode` gives for a value already of exactly the space's type (a Box's
        dtype and shape, a Discrete's ``int`` in range), made without conversion or checks
        beyond that; None for any other value (use :meth:`encode`)."""
        return None

    def exact_encoder(self, prefix: bytes, otherwise: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
        """A function of one value: ``prefix`` + :meth:`exact_bytes` for a value of exactly the
        space's type, ``otherwise(value)`` for any other. Made once for a trial that records
        every tick through it: one call per value, where composing the two costs two."""
        exact = self.exact_bytes

        def encode(value: Any) -> bytes:
            raw = exact(value)
            return otherwise(value) if raw is None else prefix + raw

        return encode

    def checked_encoder(self, prefix: bytes) -> Callable[[Any], bytes | None]:
        """A function of one value: ``prefix`` + :meth:`exact_bytes` for a value that
        :meth:`validate` returns unchanged, found in one call (its check and its bytes);
        None for any other (``validate`` then says what it is: converted, or refused). Made
        once for a loop that checks and records an answer every tick. This codec finds none."""
        return _nothing

    def decode_column(self, contents: Any) -> pa.Array:
        """Decode an Arrow binary column of encoded values (nulls stay null)."""
        data, starts, lengths, present = binary_layout(contents)
        return self.decode_spans(data, starts, lengths, present)

    def decode_spans(self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, present: np.ndarray) -> pa.Array:
        """Decode the rows ``data[starts[i] : starts[i] + lengths[i]]`` (absent rows -> null)."""
        if self.size is not None:
            bad = present & (lengths != self.size)
            if bad.any():
                i = int(np.argmax(bad))
                raise DecodeError(
                    f"row {i} holds {int(lengths[i])} bytes but a {self.space} value takes {self.size}: "
                    "the column was not encoded with this space (check the trial's recorded spaces)"
                )
            return self._from_matrix(_gather_fixed(data, starts, present, self.size), present)
        return self._from_variable(data, starts, lengths, present)

    def _from_matrix(self, rows: np.ndarray, present: np.ndarray) -> pa.Array:
        raise NotImplementedError

    def _from_variable(
        self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, present: np.ndarray
    ) -> pa.Array:
        raise NotImplementedError

    def _outside(self, value: Any, what: str, expected: str, fix: str) -> ValueOutsideSpaceError:
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        return ValueOutsideSpaceError(f"{what} {shown} is outside {self.space}: expected {expected}. {fix}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.space})"


def _nothing(value: Any) -> None:
    return None


def _int_width(lo: int, hi: int) -> int:
    for w in (1, 2, 4, 8):
        bound = 1 << (8 * w - 1)
        if -bound <= lo and hi < bound:
            return w
    raise SpaceFormatError(f"Discrete range {lo}..{hi} does not fit in 64 bits")


#: Discrete spaces of at most this many values encode through a table of their bytes.
_EXACT_TABLE = 1024


class DiscreteCodec(Codec):
    """A single little-endian integer, as narrow as the space allows."""

    __slots__ = ("_dtype", "_hi", "_lo", "size", "space")

    def __init__(self, space: gym.spaces.Discrete) -> None:
        self.space = space
        self._lo = int(space.start)
        self._hi = self._lo + int(space.n)  # exclusive
        self.size = _int_width(self._lo, self._hi - 1)
        self._dtype = np.dtype(f"<i{self.size}")

    def validate(self, value: Any, what: str = "value") -> Any:
        if value.__class__ is int and self._lo <= value < self._hi:  # the hot path
            return value
        integral = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
        scalar_array = isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu"
        if (integral or scalar_array) and self._lo <= int(value) < self._hi:
            return int(value)
        raise self._outside(
            value,
            what,
            f"an int in [{self._lo}, {self._hi - 1}]",
            "Return one of those ints (an index, not a one-hot vector or a float).",
        )

    def encode(self, value: Any) -> bytes:
        v = self.validate(value)
        return v.to_bytes(self.size, "little", signed=True)

    def checks_as(self, other: Codec) -> bool:
        return other is self or (other.__class__ is DiscreteCodec and (other._lo, other._hi) == (self._lo, self._hi))  # type: ignore[attr-defined]

    def exact_bytes(self, value: Any) -> bytes | None:
        if value.__class__ is int and self._lo <= value < self._hi:
            return value.to_bytes(self.size, "little", signed=True)
        return None

    def exact_encoder(self, prefix: bytes, otherwise: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
        if self._hi - self._lo > _EXACT_TABLE:
            return super().exact_encoder(prefix, otherwise)
        get = self._table(prefix).get

        def encode(value: Any) -> bytes:
            if value.__class__ is int:
                raw = get(value)
                if raw is not None:
                    return raw
            return otherwise(value)

        return encode

    def checked_encoder(self, prefix: bytes) -> Callable[[Any], bytes | None]:
        # (an exact value, an int in range, is one validate returns as it is)
        if self._hi - self._lo > _EXACT_TABLE:
            exact = self.exact_bytes

            def encode_large(value: Any) -> bytes | None:
                raw = exact(value)
                return None if raw is None else prefix + raw

            return encode_large
        get = self._table(prefix).get

        def encode(value: Any) -> bytes | None:
            return get(value) if value.__class__ is int else None

        return encode

    def _table(self, prefix: bytes) -> dict[int, bytes]:
        """Every value's bytes after ``prefix``, made once for an encoder: a lookup per value
        (keyed by ``int``: its encoders ask ``value.__class__ is int`` first, a ``bool`` or a
        float equal to a key is no key of it)."""
        size = self.size
        return {value: prefix + value.to_bytes(size, "little", signed=True) for value in range(self._lo, self._hi)}

    def decode(self, data: bytes | bytearray | memoryview) -> int:
        if len(data) != self.size:
            raise DecodeError(f"a {self.space} value takes {self.size} bytes, got {len(data)}")
        return int.from_bytes(data, "little", signed=True)

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        return pa.int64()

    def _from_matrix(self, rows: np.ndarray, present: np.ndarray) -> pa.Array:
        import pyarrow as pa

        values = np.ascontiguousarray(rows).view(self._dtype).reshape(-1).astype(np.int64)
        return pa.array(values, mask=None if present.all() else ~present)


class BoxCodec(Codec):
    """Raw C-order bytes in the space dtype (Box, MultiBinary, MultiDiscrete)."""

    __slots__ = ("_count", "_exact", "_exact_dtype", "dtype", "shape", "size", "space")

    def __init__(self, space: gym.spaces.Box | gym.spaces.MultiBinary | gym.spaces.MultiDiscrete) -> None:
        self.space = space
        self.dtype = np.dtype(space.dtype).newbyteorder("<")
        # numpy's own instance of that dtype (what arrays carry), so exact_bytes tests it with `is`;
        # on a big-endian machine it is not the native one and values take the converting path
        self._exact_dtype = np.dtype(self.dtype.str)
        self.shape = tuple(space.shape)
        self._count = math.prod(self.shape)
        self.size = self._count * self.dtype.itemsize
        self._exact = self.exact_encoder(b"", _nothing)  # (exact_bytes: one rule of what is exact)

    def _as_array(self, value: Any, what: str) -> np.ndarray:
        if value.__class__ is np.ndarray and value.dtype == self.dtype and value.shape == self.shape:
            return value  # the hot path
        try:
            a = np.asarray(value)
        except (ValueError, TypeError) as e:
            raise self._outside(value, what, self._expected(), "Return a numpy array of that shape.") from e
        if a.shape != self.shape:
            raise self._outside(value, what, self._expected(), f"It has shape {a.shape}; reshape it to {self.shape}.")
        if a.dtype != self.dtype:
            src, dst = a.dtype.kind, self.dtype.kind
            ok = np.can_cast(a.dtype, self.dtype, casting="same_kind") or (src in "biu" and dst in "iuf")
            if dst == "b" and src in "iu":
                ok = bool(np.isin(a, (0, 1)).all())
            elif ok and src in "iu" and dst in "iu" and a.size:
                info = np.iinfo(self.dtype)
                ok = info.min <= int(a.min()) and int(a.max()) <= info.max
            if not ok:
                raise self._outside(
                    value,
                    what,
                    self._expected(),
                    f"Its dtype {a.dtype} does not convert to {self.dtype.name} without loss; "
                    "cast it with .astype() or fix its values.",
                )
            a = a.astype(self.dtype)
        return a

    def _expected(self) -> str:
        return f"an array of shape {self.shape} and dtype {self.dtype.name}"

    def encode(self, value: Any) -> bytes:
        return self._as_array(value, "value").tobytes()

    def exact_bytes(self, value: Any) -> bytes | None:
        return self._exact(value)

    def checks_as(self, other: Codec) -> bool:
        if other is self:
            return True
        if other.__class__ is not BoxCodec or other.space.__class__ is not self.space.__class__:
            return False
        if (other.dtype, other.shape) != (self.dtype, self.shape):  # type: ignore[attr-defined]
            return False
        # what each kind of space's ``contains`` reads besides its dtype and shape
        return all(
            np.array_equal(getattr(self.space, bound), getattr(other.space, bound))
            for bound in ("low", "high", "nvec", "start")
            if hasattr(self.space, bound)
        )

    def exact_encoder(self, prefix: bytes, otherwise: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
        ndarray, dtype, shape = np.ndarray, self._exact_dtype, self.shape

        def encode(value: Any) -> bytes:
            if value.__class__ is ndarray and value.dtype is dtype and value.shape == shape:
                return prefix + value.tobytes()
            return otherwise(value)

        return encode

    def checked_encoder(self, prefix: bytes) -> Callable[[Any], bytes | None]:
        # (an array of exactly the space's dtype and shape that the space contains is one
        # validate returns as it is)
        ndarray, dtype, shape, contains = np.ndarray, self._exact_dtype, self.shape, self.space.contains

        def encode(value: Any) -> bytes | None:
            if value.__class__ is ndarray and value.dtype is dtype and value.shape == shape and contains(value):
                return prefix + value.tobytes()
            return None

        return encode

    def validate(self, value: Any, what: str = "value") -> Any:
        a = self._as_array(value, what)
        if not self.space.contains(a):
            space = self.space
            if isinstance(space, gym.spaces.Box):
                bad = ~((a >= space.low) & (a <= space.high))
                idx = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.any() else ()
                lo, hi = space.low[idx].item(), space.high[idx].item()
                detail = f"element {idx} = {a[idx].item()!r} is outside [{lo}, {hi}]"
                raise self._outside(value, what, f"{self._expected()} within the bounds", f"{detail}; clip it.")
            if isinstance(space, gym.spaces.MultiDiscrete):
                raise self._outside(
                    value, what, f"{self._expected()} with start <= x < start + nvec", "Clip each entry."
                )
            raise self._outside(value, what, f"{self._expected()} of 0s and 1s", "Use 0 or 1 only.")
        return a

    def decode(self, data: bytes | bytearray | memoryview) -> np.ndarray:
        if len(data) != self.size:
            raise DecodeError(f"a {self.space} value takes {self.size} bytes, got {len(data)}")
        return np.frombuffer(data, dtype=self.dtype).reshape(self.shape).copy()

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        item = pa.from_numpy_dtype(self.dtype.newbyteorder("="))
        if len(self.shape) == 0:
            return item
        if self._count == 0:  # Arrow has no fixed-size list of size 0
            return pa.list_(item)
        if len(self.shape) == 1:
            return pa.list_(item, self._count)
        return pa.fixed_shape_tensor(item, self.shape)

    def _from_matrix(self, rows: np.ndarray, present: np.ndarray) -> pa.Array:
        import pyarrow as pa

        flat = np.ascontiguousarray(rows).view(self.dtype.newbyteorder("=")).reshape(-1)
        mask = _mask(present)
        if len(self.shape) == 0:
            return pa.array(flat, mask=None if mask is None else ~present)
        if self._count == 0:
            offsets = pa.array(np.zeros(len(present) + 1, dtype=np.int32))
            return pa.ListArray.from_arrays(offsets, pa.array(flat), mask=mask)
        values = pa.array(flat)
        storage = pa.FixedSizeListArray.from_arrays(values, self._count, mask=mask)
        if len(self.shape) == 1:
            return storage
        return pa.ExtensionArray.from_storage(self.arrow_type, storage)


class TextCodec(Codec):
    """UTF-8 bytes."""

    __slots__ = ("size", "space")

    def __init__(self, space: gym.spaces.Text) -> None:
        self.space = space
        self.size = None

    def validate(self, value: Any, what: str = "value") -> Any:
        if isinstance(value, np.str_):
            value = str(value)
        if isinstance(value, str) and self.space.contains(value):
            return value
        sp = self.space
        raise self._outside(
            value,
            what,
            f"a str of {sp.min_length} to {sp.max_length} characters from {sp.characters!r}",
            "Trim it or replace the characters outside the charset.",
        )

    def encode(self, value: Any) -> bytes:
        if isinstance(value, str):
            return value.encode("utf-8")
        raise self._outside(value, "value", "a str", "Convert it with str().")

    def decode(self, data: bytes | bytearray | memoryview) -> str:
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError(f"a {self.space} value must be UTF-8: {e}") from e

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        return pa.string()

    def _from_variable(
        self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, present: np.ndarray
    ) -> pa.Array:
        try:
            return strings_from_spans(data, starts, lengths, present)
        except DecodeError as e:
            raise DecodeError(f"a {self.space} column holds bytes that are not UTF-8: {e}") from e


class _ContainerCodec(Codec):
    """Children one after the other; variable-size children get a varint length prefix."""

    children: list[Codec]
    names: list[str]

    def _init_children(self, children: list[Codec], names: list[str]) -> None:
        self.children = children
        self.names = names
        sizes = [c.size for c in children]
        self.size = None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[arg-type]

    def _encode_parts(self, values: Sequence[Any]) -> bytes:
        parts = []
        for codec, v in zip(self.children, values, strict=True):
            b = codec.encode(v)
            if codec.size is None:
                parts.append(write_varint(len(b)))
            parts.append(b)
        return b"".join(parts)

    def _decode_parts(self, data: bytes | bytearray | memoryview) -> list[Any]:
        view = memoryview(data)
        pos, out = 0, []
        for codec in self.children:
            if codec.size is None:
                n, pos = read_varint(view, pos)
            else:
                n = codec.size
            if pos + n > len(view):
                raise DecodeError(f"truncated {self.space} value ({len(view)} bytes)")
            out.append(codec.decode(view[pos : pos + n]))
            pos += n
        if pos != len(view):
            raise DecodeError(f"{len(view) - pos} trailing bytes after a {self.space} value")
        return out

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        return pa.struct([pa.field(n, c.arrow_type) for n, c in zip(self.names, self.children, strict=True)])

    def _struct(self, arrays: list[pa.Array], present: np.ndarray) -> pa.Array:
        import pyarrow as pa

        return pa.StructArray.from_arrays(arrays, fields=list(self.arrow_type), mask=_mask(present))

    def _from_matrix(self, rows: np.ndarray, present: np.ndarray) -> pa.Array:
        arrays, pos = [], 0
        for c in self.children:
            arrays.append(c._from_matrix(rows[:, pos : pos + c.size], present))
            pos += c.size  # type: ignore[operator]
        return self._struct(arrays, present)

    def _from_variable(
        self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, present: np.ndarray
    ) -> pa.Array:
        # Only the child boundaries are found row by row; children decode as columns.
        n = len(starts)
        k = len(self.children)
        cstarts = np.zeros((k, n), dtype=np.int64)
        clens = np.zeros((k, n), dtype=np.int64)
        raw = data.tobytes() if n else b""
        for i in np.flatnonzero(present):
            pos, end = int(starts[i]), int(starts[i] + lengths[i])
            for j, c in enumerate(self.children):
                if c.size is None:
                    size, pos = read_varint(raw, pos)
                else:
                    size = c.size
                if pos + size > end:
                    raise DecodeError(f"row {i}: truncated {self.space} value")
                cstarts[j, i], clens[j, i] = pos, size
                pos += size
            if pos != end:
                raise DecodeError(f"row {i}: {end - pos} trailing bytes after a {self.space} value")
        arrays = [c.decode_spans(data, cstarts[j], clens[j], present) for j, c in enumerate(self.children)]
        return self._struct(arrays, present)


class DictCodec(_ContainerCodec):
    __slots__ = ("children", "keys", "names", "size", "space")

    def __init__(self, space: gym.spaces.Dict) -> None:
        self.space = space
        self.keys = list(space.spaces.keys())
        self._init_children([codec_for(s) for s in space.spaces.values()], [str(k) for k in self.keys])

    def _values(self, value: Any, what: str) -> list[Any]:
        if not isinstance(value, Mapping):
            raise self._outside(value, what, f"a dict with keys {self.keys}", "Return a dict.")
        if len(value) != len(self.keys) or any(k not in value for k in self.keys):
            raise self._outside(
                value,
                what,
                f"a dict with keys {self.keys}",
                f"It has keys {list(value)}; add the missing ones and drop the others.",
            )
        return [value[k] for k in self.keys]

    def encode(self, value: Any) -> bytes:
        return self._encode_parts(self._values(value, "value"))

    def validate(self, value: Any, what: str = "value") -> Any:
        vals = self._values(value, what)
        return {k: c.validate(v, f"{what}[{k!r}]") for k, c, v in zip(self.keys, self.children, vals, strict=True)}

    def decode(self, data: bytes | bytearray | memoryview) -> dict[str, Any]:
        return dict(zip(self.keys, self._decode_parts(data), strict=True))


class TupleCodec(_ContainerCodec):
    __slots__ = ("children", "names", "size", "space")

    def __init__(self, space: gym.spaces.Tuple) -> None:
        self.space = space
        self._init_children([codec_for(s) for s in space.spaces], [str(i) for i in range(len(space.spaces))])

    def _values(self, value: Any, what: str) -> Sequence[Any]:
        if not isinstance(value, Sequence) or isinstance(value, str | bytes) or len(value) != len(self.children):
            raise self._outside(
                value,
                what,
                f"a tuple of {len(self.children)} values",
                "Return a tuple with one value per space.",
            )
        return value

    def encode(self, value: Any) -> bytes:
        return self._encode_parts(self._values(value, "value"))

    def validate(self, value: Any, what: str = "value") -> Any:
        vals = self._values(value, what)
        return tuple(c.validate(v, f"{what}[{i}]") for i, (c, v) in enumerate(zip(self.children, vals, strict=True)))

    def decode(self, data: bytes | bytearray | memoryview) -> tuple[Any, ...]:
        return tuple(self._decode_parts(data))


#: codecs by space object (spaces are unhashable); the space is kept so its id stays its own
_codecs: dict[int, tuple[gym.Space, Codec]] = {}
_MAX_CODECS = 4096


def codec_for(space: gym.Space) -> Codec:
    """The codec of ``space`` (raises :class:`SpaceFormatError` for unsupported spaces), made
    once per space object: every trial asks for its agents' codecs, and spaces are shared."""
    entry = _codecs.get(id(space))
    if entry is not None and entry[0] is space:
        return entry[1]
    codec = _new_codec(space)
    if len(_codecs) >= _MAX_CODECS:
        _codecs.clear()
    _codecs[id(space)] = (space, codec)
    return codec


def _new_codec(space: gym.Space) -> Codec:
    if isinstance(space, gym.spaces.Discrete):
        return DiscreteCodec(space)
    if isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary | gym.spaces.MultiDiscrete):
        return BoxCodec(space)
    if isinstance(space, gym.spaces.Text):
        return TextCodec(space)
    if isinstance(space, gym.spaces.Dict):
        return DictCodec(space)
    if isinstance(space, gym.spaces.Tuple):
        return TupleCodec(space)
    raise SpaceFormatError(
        f"no codec for {type(space).__name__} spaces ({space!r}); use Discrete, Box, MultiBinary, "
        "MultiDiscrete, Dict, Tuple or Text"
    )
