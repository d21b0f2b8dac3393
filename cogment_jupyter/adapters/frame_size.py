"""Rendered frames at a chosen size (``render_width`` / ``render_height``).

A frame is resampled once, where the environment's result becomes observations, so it travels,
is shown and is stored at that size. Resampling is area averaging (each output pixel is the
mean of the input area it covers, weighted by overlap): the standard filter for shrinking
images, with no aliasing and no dependency beyond numpy. Each axis is a banded weighted sum of
a few input rows or columns, so a 600x400 frame takes about a millisecond.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["FrameSize", "frame_size", "resample"]


@dataclass(frozen=True, slots=True)
class FrameSize:
    """The size frames are brought to: a width, a height, or both (0: follow the other one,
    keeping the frame's aspect ratio)."""

    width: int = 0
    height: int = 0

    def target(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` for a frame of ``height`` x ``width`` pixels."""
        if self.width and self.height:
            return self.height, self.width
        if self.width:
            return max(1, round(height * self.width / width)), self.width
        return self.height, max(1, round(width * self.height / height))

    def fit(self, frame: np.ndarray) -> np.ndarray:
        """The frame at this size (the frame itself when it already has it)."""
        a = np.asarray(frame)
        if a.ndim not in (2, 3) or not a.shape[0] or not a.shape[1]:
            return a  # not an image: the frame encoder reports it
        height, width = self.target(a.shape[0], a.shape[1])
        if (height, width) == a.shape[:2]:
            return a
        return resample(a, height, width)


def frame_size(width: int | None, height: int | None) -> FrameSize | None:
    """The size asked for, or None for frames as rendered; a clear error for a size that is not one."""
    for name, value in (("render_width", width), ("render_height", height)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0):
            raise ValueError(f"{name} must be a whole number of pixels (0 or None: as rendered), got {value!r}")
    if not width and not height:
        return None
    return FrameSize(int(width or 0), int(height or 0))


@functools.lru_cache(maxsize=64)
def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """For each output index, the input indices it overlaps and their weights (summing to 1):
    ``(indices, weights)``, both ``(n_out, k)``; unused taps have weight 0."""
    scale = n_in / n_out
    k = math.ceil(scale) + 1
    starts = np.arange(n_out) * scale
    first = np.floor(starts).astype(np.int64)
    indices = first[:, None] + np.arange(k)[None, :]
    low = np.maximum(indices, starts[:, None])
    high = np.minimum(indices + 1, (starts + scale)[:, None])
    weights = np.clip(high - low, 0.0, None)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.minimum(indices, n_in - 1), weights.astype(np.float32)


def _rows(a: np.ndarray, n_out: int) -> np.ndarray:
    """``a`` resampled along its first axis (gathering whole rows: contiguous copies)."""
    indices, weights = _taps(a.shape[0], n_out)
    shape = (n_out,) + (1,) * (a.ndim - 1)
    out = a[indices[:, 0]] * weights[:, 0].reshape(shape)
    for tap in range(1, indices.shape[1]):
        w = weights[:, tap]
        if w.any():
            out += a[indices[:, tap]] * w.reshape(shape)
    return out


def resample(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """An ``H x W (x C)`` image at ``height`` x ``width``, area-averaged, in the frame's dtype."""
    if height < 1 or width < 1:
        raise ValueError(f"a frame size must be at least 1x1 pixels, got {width}x{height}")
    a = np.asarray(frame)
    work = a.astype(np.float32, copy=False)
    if work.shape[0] != height:
        work = _rows(work, height)
    if work.shape[1] != width:  # columns as the rows of the transposed image
        work = _rows(np.ascontiguousarray(work.swapaxes(0, 1)), width).swapaxes(0, 1)
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        work = np.clip(np.rint(work), info.min, info.max)
    return np.ascontiguousarray(work.astype(a.dtype, copy=False))
