from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter.adapters.spaces import (
    SpaceFormatError,
    space_from_json,
    space_from_str,
    space_to_json,
    space_to_str,
)

from .spaces_cases import SPACES


def _same(a: gym.Space, b: gym.Space) -> None:
    """Stricter than ``==`` (Box compares bounds with allclose): exact bounds and order."""
    assert a == b
    assert type(a) is type(b)
    if isinstance(a, gym.spaces.Box):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.low, b.low)
        np.testing.assert_array_equal(a.high, b.high)
    if isinstance(a, gym.spaces.Dict):
        assert list(a.spaces) == list(b.spaces)
        for k in a.spaces:
            _same(a.spaces[k], b.spaces[k])
    if isinstance(a, gym.spaces.Tuple):
        for x, y in zip(a.spaces, b.spaces, strict=True):
            _same(x, y)
    if isinstance(a, gym.spaces.Text):
        assert a.characters == b.characters
    if isinstance(a, gym.spaces.MultiDiscrete):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.start, b.start)


@pytest.mark.parametrize("name", list(SPACES))
def test_round_trip_exact(name: str) -> None:
    space = SPACES[name]
    text = space_to_str(space)
    json.loads(text)  # standard JSON: no NaN / Infinity literals
    assert "Infinity" not in text and "NaN" not in text
    _same(space, space_from_str(text))
    _same(space, space_from_json(space_to_json(space)))


def test_box_bounds_are_compact_when_uniform() -> None:
    d = space_to_json(gym.spaces.Box(0, 255, (84, 84, 3), dtype=np.uint8))
    assert d["low"] == 0 and d["high"] == 255


def test_box_non_finite_and_mixed_bounds() -> None:
    space = gym.spaces.Box(np.array([-np.inf, 0.0, -1.0]), np.array([np.inf, 1e308, 0.5]), dtype=np.float64)
    d = space_to_json(space)
    assert d["low"] == ["-inf", 0.0, -1.0] and d["high"] == ["inf", 1e308, 0.5]
    back = space_from_json(d)
    np.testing.assert_array_equal(back.low, space.low)
    np.testing.assert_array_equal(back.high, space.high)


def test_float32_bounds_exact() -> None:
    low = np.array([0.1, -3.4028235e38], dtype=np.float32)
    space = gym.spaces.Box(low, np.float32(3.4028235e38), dtype=np.float32)
    back = space_from_json(json.loads(json.dumps(space_to_json(space))))
    assert back.low.tobytes() == space.low.tobytes()


def test_uint64_bounds_exact() -> None:
    space = gym.spaces.Box(np.uint64(0), np.uint64(2**64 - 1), (2,), dtype=np.uint64)
    assert space_from_json(space_to_json(space)).high[0] == np.uint64(2**64 - 1)


def test_dict_order_survives_even_when_unsorted() -> None:
    space = SPACES["dict_ordered"]
    assert list(space.spaces) == ["z", "a"]
    assert list(space_from_str(space_to_str(space)).spaces) == ["z", "a"]


def test_unsupported_space_names_it_and_the_alternatives() -> None:
    with pytest.raises(SpaceFormatError, match=r"Sequence.*use Discrete, Box"):
        space_to_json(gym.spaces.Sequence(gym.spaces.Discrete(2)))


def test_unknown_or_malformed_descriptions() -> None:
    with pytest.raises(SpaceFormatError, match="unknown space type 'Graph'"):
        space_from_json({"type": "Graph"})
    with pytest.raises(SpaceFormatError, match="malformed Discrete"):
        space_from_json({"type": "Discrete"})
