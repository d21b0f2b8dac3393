"""Gymnasium spaces as plain JSON-able dicts, and back, exactly.

Spaces travel inside ``TrialParams.properties`` (so the datastore can decode a trial's
values long after the environment object is gone) and inside actor configs (so a remote
actor knows its spaces). The format is language-neutral: any Cogment SDK client can read it.

Format (``"type"`` names the space)::

    {"type": "Discrete", "n": 2, "start": 0, "dtype": "int64"}
    {"type": "Box", "dtype": "float32", "shape": [4], "low": -1.0 | [..flat C-order..], "high": ...}
    {"type": "MultiBinary", "n": 3 | [2, 3]}
    {"type": "MultiDiscrete", "dtype": "int64", "shape": [2], "nvec": [...flat...], "start": [...flat...]}
    {"type": "Dict", "spaces": [["key", {...}], ...]}      # a list of pairs: order is kept
    {"type": "Tuple", "spaces": [{...}, ...]}
    {"type": "Text", "min_length": 1, "max_length": 8, "charset": "abc..."}

Box bounds are a single scalar when every element is equal, else a flat C-order list; non
finite floats are the strings ``"inf"``, ``"-inf"``, ``"nan"`` so the JSON stays standard.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["SpaceFormatError", "space_from_json", "space_from_str", "space_to_json", "space_to_str"]

_NON_FINITE = {"inf": np.inf, "-inf": -np.inf, "nan": np.nan}


class SpaceFormatError(ValueError):
    """A space cannot be written to, or read from, the JSON format."""


def _scalar_to_json(x: Any) -> Any:
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    f = float(x)
    if np.isfinite(f):
        return f
    return "nan" if np.isnan(f) else ("inf" if f > 0 else "-inf")


def _array_to_json(a: np.ndarray) -> Any:
    flat = np.ascontiguousarray(a).reshape(-1)
    if flat.size and (np.all(flat == flat[0]) or (flat.dtype.kind == "f" and np.all(np.isnan(flat)))):
        return _scalar_to_json(flat[0])
    return [_scalar_to_json(x) for x in flat]


def _array_from_json(v: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    def conv(x: Any) -> Any:
        return _NON_FINITE[x] if isinstance(x, str) else x

    if isinstance(v, list):
        return np.array([conv(x) for x in v], dtype=dtype).reshape(shape)
    return np.full(shape, conv(v), dtype=dtype)


def space_to_json(space: gym.Space) -> dict[str, Any]:
    """The JSON-able description of ``space`` (raises :class:`SpaceFormatError` if unsupported)."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start), "dtype": space.dtype.name}
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "dtype": space.dtype.name,
            "shape": list(space.shape),
            "low": _array_to_json(space.low),
            "high": _array_to_json(space.high),
        }
    if isinstance(space, gym.spaces.MultiBinary):
        n = space.n
        return {
            "type": "MultiBinary",
            "n": int(n) if isinstance(n, int | np.integer) else [int(i) for i in n],
        }
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {
            "type": "MultiDiscrete",
            "dtype": space.dtype.name,
            "shape": list(space.shape),
            "nvec": [int(x) for x in space.nvec.reshape(-1)],
            "start": [int(x) for x in space.start.reshape(-1)],
        }
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": [[str(k), space_to_json(s)] for k, s in space.spaces.items()]}
    if isinstance(space, gym.spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_json(s) for s in space.spaces]}
    if isinstance(space, gym.spaces.Text):
        return {
            "type": "Text",
            "min_length": int(space.min_length),
            "max_length": int(space.max_length),
            "charset": "".join(space._char_list),
        }
    raise SpaceFormatError(
        f"{type(space).__name__} spaces are not supported by cogment_jupyter ({space!r}); use Discrete, Box, "
        "MultiBinary, MultiDiscrete, Dict, Tuple or Text (e.g. pad a Sequence into a Box)"
    )


def space_from_json(d: dict[str, Any]) -> gym.Space:
    """The gymnasium space described by ``d`` (the output of :func:`space_to_json`)."""
    try:
        kind = d["type"]
        if kind == "Discrete":
            return gym.spaces.Discrete(d["n"], start=d.get("start", 0), dtype=d.get("dtype", "int64"))
        if kind == "Box":
            dtype = np.dtype(d["dtype"])
            shape = tuple(d["shape"])
            low = _array_from_json(d["low"], shape, dtype)
            high = _array_from_json(d["high"], shape, dtype)
            return gym.spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
        if kind == "MultiBinary":
            n = d["n"]
            return gym.spaces.MultiBinary(n if isinstance(n, int) else list(n))
        if kind == "MultiDiscrete":
            shape = tuple(d["shape"])
            dtype = np.dtype(d.get("dtype", "int64"))
            nvec = np.array(d["nvec"], dtype=dtype).reshape(shape)
            start = np.array(d.get("start", [0] * nvec.size), dtype=dtype).reshape(shape)
            return gym.spaces.MultiDiscrete(nvec, dtype=dtype, start=start)
        if kind == "Dict":
            return gym.spaces.Dict(OrderedDict((k, space_from_json(s)) for k, s in d["spaces"]))  # keep order
        if kind == "Tuple":
            return gym.spaces.Tuple([space_from_json(s) for s in d["spaces"]])
        if kind == "Text":
            return gym.spaces.Text(d["max_length"], min_length=d.get("min_length", 1), charset=d["charset"])
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, SpaceFormatError):
            raise
        raise SpaceFormatError(f"malformed {d.get('type', '?')} space description {d!r}: {e}") from e
    raise SpaceFormatError(
        f"unknown space type {kind!r} in {d!r}: expected Discrete, Box, MultiBinary, MultiDiscrete, Dict, "
        "Tuple or Text (was it written by a newer cogment_jupyter?)"
    )


def space_to_str(space: gym.Space) -> str:
    """Compact JSON text of a space."""
    return json.dumps(space_to_json(space), separators=(",", ":"), allow_nan=False)


def space_from_str(text: str) -> gym.Space:
    return space_from_json(json.loads(text))
