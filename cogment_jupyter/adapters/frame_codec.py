"""Rendered frames on the wire and in storage.

Frames are stored as ``zlib:HxWxC``: zlib level 1 of the raw pixels encodes faster than PNG to
a result no larger and decodes faster (``docs/decisions/play-widget.md``), needs only the
standard library and is trivially decoded in any language; ``png`` and ``raw`` are read too,
for frames written by other tools.
"""

from __future__ import annotations

import io
import threading
import weakref
import zlib

import numpy as np

__all__ = ["FrameFormatError", "decode_frame", "deflate", "encode_frame"]

ZLIB_LEVEL = 1


class _DeflateCache:
    """The zlib bytes of the last few frames, so one frame is not compressed twice.

    A rendered frame is compressed for the datalog (and the wire) and again by the play widget,
    with the same zlib level. Entries are the arrays themselves (weakly
    referenced): a frame decoded from zlib bytes is read-only and maps back to them as is; any
    other array must also still have the CRC-32 it had when compressed (much cheaper), so a buffer an
    environment reuses and redraws in place is compressed again.
    """

    SIZE = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[weakref.ref[np.ndarray], int | None, bytes]] = []

    @staticmethod
    def _immutable(a: np.ndarray) -> bool:
        base: object = a
        while isinstance(base, np.ndarray):
            if base.flags.writeable:
                return False
            base = base.base
        return isinstance(base, bytes)

    def get(self, a: np.ndarray) -> bytes | None:
        with self._lock:
            hit = next(((crc, data) for ref, crc, data in self._entries if ref() is a), None)
        if hit is None:
            return None
        crc, data = hit
        return data if crc is None or zlib.crc32(a.data) == crc else None

    def put(self, a: np.ndarray, data: bytes) -> None:
        try:
            ref = weakref.ref(a)
        except TypeError:
            return
        crc = None if self._immutable(a) else zlib.crc32(a.data)
        with self._lock:
            self._entries = [e for e in self._entries if e[0]() is not None and e[0]() is not a]
            self._entries.append((ref, crc, data))
            del self._entries[: -self.SIZE]


_cache = _DeflateCache()


def deflate(a: np.ndarray) -> bytes:
    """zlib (level 1) of a C-contiguous uint8 image array, reusing the bytes of a frame already
    compressed (or decoded from zlib) here."""
    data = _cache.get(a)
    if data is None:
        data = zlib.compress(a.data, ZLIB_LEVEL)
        _cache.put(a, data)
    return data


class FrameFormatError(ValueError):
    """A frame or frame format that cannot be encoded or read."""


def encode_frame(frame: np.ndarray) -> tuple[bytes, str]:
    """``(bytes, frame_format)`` of an ``HxWxC`` (or ``HxW``) uint8 image."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        if a.dtype.kind == "f" and a.size and float(a.max()) <= 1.0:
            a = a * 255.0
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim not in (2, 3):
        raise FrameFormatError(
            f"a frame must be an HxWx3 (or HxW) image array, got shape {a.shape}: "
            "return env.render() from an env made with render_mode='rgb_array'"
        )
    shape = "x".join(str(d) for d in a.shape)
    return deflate(np.ascontiguousarray(a)), f"zlib:{shape}"


def _shape(spec: str) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in spec.split("x"))
    except ValueError as e:
        raise FrameFormatError(f"bad frame shape {spec!r}: expected HxWxC like '400x600x3'") from e


def decode_frame(data: bytes, frame_format: str) -> np.ndarray:
    """The uint8 image array of an encoded frame (read-only: ``.copy()`` it to draw on it)."""
    kind, _, spec = frame_format.partition(":")
    if kind == "zlib":
        data = bytes(data)
        frame = np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(_shape(spec))
        _cache.put(frame, data)  # shown in a play widget, it is forwarded as received
        return frame
    if kind == "raw":
        return np.frombuffer(data, dtype=np.uint8).reshape(_shape(spec))
    if kind in ("png", "jpeg", "image/png", "image/jpeg"):
        try:
            from PIL import Image
        except ImportError as e:
            raise FrameFormatError(f"reading {kind} frames needs Pillow: pip install pillow") from e
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    raise FrameFormatError(f"unknown frame format {frame_format!r}: expected 'zlib:HxWxC', 'raw:HxWxC' or 'png'")
