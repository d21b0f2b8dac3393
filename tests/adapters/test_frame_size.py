"""Frames resampled to a chosen size: area averaging, aspect ratio kept when one side is given."""

from __future__ import annotations

import numpy as np
import pytest

from cogment_jupyter.adapters.frame_size import FrameSize, frame_size, resample
from cogment_jupyter.envs import Gymnasium

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, (400, 600, 3)).astype(np.uint8)


def test_a_whole_factor_is_the_mean_of_each_block():
    expected = IMAGE.reshape(100, 4, 150, 4, 3).mean(axis=(1, 3))
    assert np.abs(resample(IMAGE, 100, 150).astype(float) - expected).max() <= 0.5


def test_any_factor_keeps_flat_areas_and_the_mean():
    flat = np.full((400, 600, 3), 77, np.uint8)
    assert np.unique(resample(flat, 123, 77)).tolist() == [77]
    shrunk = resample(IMAGE, 97, 211)
    assert shrunk.shape == (97, 211, 3) and shrunk.dtype == np.uint8 and shrunk.flags.c_contiguous
    assert shrunk.astype(float).mean() == pytest.approx(IMAGE.mean(), abs=0.5)


def test_one_side_keeps_the_aspect_ratio_both_sides_are_exact():
    assert FrameSize(width=150).fit(IMAGE).shape == (100, 150, 3)
    assert FrameSize(height=80).fit(IMAGE).shape == (80, 120, 3)
    assert FrameSize(64, 64).fit(IMAGE).shape == (64, 64, 3)
    assert FrameSize(width=600).fit(IMAGE) is IMAGE  # already that size: the frame itself
    assert FrameSize(width=1200).fit(IMAGE).shape == (800, 1200, 3)  # larger works too
    grey = IMAGE[..., 0].astype(np.float32) / 255
    small = FrameSize(width=60).fit(grey)
    assert small.shape == (40, 60) and small.dtype == np.float32


@pytest.mark.parametrize("bad", [-1, 2.5, "big", True])
def test_a_size_that_is_not_one_is_refused(bad):
    with pytest.raises(ValueError, match="render_width must be a whole number of pixels"):
        frame_size(bad, None)
    with pytest.raises(ValueError, match="render_width"):
        Gymnasium("CartPole-v1", render=True, render_width=bad)
    assert frame_size(0, None) is None and frame_size(None, None) is None
