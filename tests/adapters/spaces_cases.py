"""Spaces used across the adapters tests: every supported kind and every Box dtype."""

from __future__ import annotations

from collections import OrderedDict

import gymnasium as gym
import numpy as np

BOX_DTYPES = [
    np.bool_,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
]


def box(dtype: type, shape: tuple[int, ...] = (2, 3)) -> gym.spaces.Box:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return gym.spaces.Box(0, 1, shape, dtype=dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return gym.spaces.Box(info.min, info.max, shape, dtype=dt)
    return gym.spaces.Box(-1.5, 2.5, shape, dtype=dt)


SPACES: dict[str, gym.Space] = {
    "discrete": gym.spaces.Discrete(2),
    "discrete_start": gym.spaces.Discrete(5, start=-2),
    "discrete_wide": gym.spaces.Discrete(70_000, start=-1),
    "discrete_huge": gym.spaces.Discrete(2**40, start=2**41),
    **{f"box_{np.dtype(d).name}": box(d) for d in BOX_DTYPES},
    "box_scalar": gym.spaces.Box(-1.0, 1.0, (), dtype=np.float32),
    "box_1d": gym.spaces.Box(np.array([-1.0, 0.0, -np.inf]), np.array([1.0, np.inf, np.inf]), dtype=np.float64),
    "box_image": gym.spaces.Box(0, 255, (4, 5, 3), dtype=np.uint8),
    "box_empty": gym.spaces.Box(0.0, 1.0, (0,), dtype=np.float32),
    "multibinary": gym.spaces.MultiBinary(5),
    "multibinary_2d": gym.spaces.MultiBinary([2, 3]),
    "multidiscrete": gym.spaces.MultiDiscrete([3, 4, 5]),
    "multidiscrete_2d": gym.spaces.MultiDiscrete(np.array([[2, 3], [4, 5]]), dtype=np.int32, start=[[1, 1], [-2, 0]]),
    "text": gym.spaces.Text(8),
    "text_charset": gym.spaces.Text(6, min_length=0, charset="zyxé€ "),
    "dict_fixed": gym.spaces.Dict({"pos": gym.spaces.Box(-1, 1, (2,)), "id": gym.spaces.Discrete(4)}),
    "dict_ordered": gym.spaces.Dict(OrderedDict([("z", gym.spaces.Discrete(3)), ("a", gym.spaces.MultiBinary(2))])),
    "dict_nested_text": gym.spaces.Dict(
        {
            "name": gym.spaces.Text(5, min_length=0),
            "inner": gym.spaces.Dict({"x": gym.spaces.Box(0, 1, (3,), dtype=np.float16), "t": gym.spaces.Text(3)}),
            "k": gym.spaces.Discrete(2),
        }
    ),
    "tuple": gym.spaces.Tuple([gym.spaces.Discrete(3), gym.spaces.Box(0, 255, (2,), dtype=np.uint8)]),
    "tuple_text": gym.spaces.Tuple([gym.spaces.Text(4), gym.spaces.Discrete(300), gym.spaces.Text(4, min_length=0)]),
    "pettingzoo_masked": gym.spaces.Dict(
        {
            "observation": gym.spaces.Box(0, 1, (3, 3, 2), dtype=np.int8),
            "action_mask": gym.spaces.Box(0, 1, (9,), dtype=np.int8),
        }
    ),
}


def samples(space: gym.Space, n: int = 8, seed: int = 0) -> list:
    space.seed(seed)
    return [space.sample() for _ in range(n)]


def assert_value_equal(a, b) -> None:
    """Exact equality of decoded values (dtype and shape included, NaN == NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            assert_value_equal(a[k], b[k])
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_value_equal(x, y)
    elif isinstance(a, np.ndarray):
        b = np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert (a == b and type(a) is type(b)) or (isinstance(a, int) and int(b) == a)
