"""Continuous inputs from people: the pointer over the frame, a gamepad, on-screen sliders.

Each drives a ``Box`` action with a mapping as small as a key map (``lab.play`` arguments):

- ``pointer="x"`` (``"y"``, ``"xy"``): where the pointer is over the frame, also while dragging
  (the view keeps the pointer it pressed on): left -> ``low``, right -> ``high``; for ``y``,
  bottom -> ``low``, top -> ``high``. One coordinate per action element.
- ``gamepad={"axes": [0]}``: stick axes (-1..1, a small dead zone at rest) -> ``low..high``;
  ``"triggers": [7]``: analog buttons (0..1) -> ``low..high``; axes first, then triggers, one per
  action element. ``gamepad=True``: axes 0, 1, ... ``gamepad={"buttons": {0: 1, 1: 2}}``: buttons
  as keys (``"Gamepad0"``...), for ``Discrete`` spaces; they join the key map.
- ``sliders=True`` (or a list of labels): a slider per action element over its bounds.

With several inputs, the one moved last decides; a held mapped key beats them all. Before any
input the action is the neutral one: zero where the bounds allow it, else the nearest bound.
The browser sends raw positions (``{"type": "analog", "source", "values", "buttons"?}``); the
mapping to actions is here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from cogment_jupyter.notebook.keymap import KeyMapError, gamepad_button

__all__ = ["DEAD_ZONE", "AnalogInputs", "analog_inputs"]

#: stick values closer to 0 than this count as 0 (sticks at rest rarely read exactly 0)
DEAD_ZONE = 0.08
POINTER_AXES = {"x": 0, "y": 1}
SOURCES = ("pointer", "gamepad", "sliders")


@dataclass(frozen=True)
class AnalogInputs:
    """The continuous inputs of one game and how their positions become actions of ``space``."""

    space: spaces.Box | None
    #: pointer coordinates used, in action order: 0 = x, 1 = y
    pointer: tuple[int, ...] = ()
    axes: tuple[int, ...] = ()
    triggers: tuple[int, ...] = ()
    sliders: tuple[str, ...] = ()
    #: gamepad buttons played as keys: their key names -> action (merged into the key map)
    button_keys: dict[str, Any] = field(default_factory=dict)

    @property
    def analog(self) -> bool:
        """Whether any input gives Box actions (and not only buttons)."""
        return bool(self.pointer or self.axes or self.triggers or self.sliders)

    @property
    def neutral(self) -> np.ndarray | None:
        """The action with no input: zero where the bounds allow, else the nearest bound."""
        if self.space is None:
            return None
        return np.clip(np.zeros(self.space.shape), self.space.low, self.space.high).astype(self.space.dtype)

    def front_end(self) -> dict[str, Any]:
        """What the view needs to read the inputs (the widget's ``inputs`` trait)."""
        config: dict[str, Any] = {}
        if self.pointer:
            config["pointer"] = "".join("xy"[i] for i in self.pointer)
        if self.axes or self.triggers or self.button_keys:
            buttons = sorted({*self.triggers, *(int(k.removeprefix("Gamepad")) for k in self.button_keys)})
            config["gamepad"] = {"axes": list(self.axes), "triggers": list(self.triggers), "buttons": buttons}
        if self.sliders and self.space is not None:
            low, high = self.space.low.reshape(-1), self.space.high.reshape(-1)
            whole = np.issubdtype(self.space.dtype, np.integer)
            neutral = self.neutral.reshape(-1)  # type: ignore[union-attr]
            config["sliders"] = [
                {
                    "label": label,
                    "min": float(low[i]),
                    "max": float(high[i]),
                    "step": 1.0 if whole else float(high[i] - low[i]) / 200,
                    "value": float(neutral[i]),
                }
                for i, label in enumerate(self.sliders)
            ]
        return config

    def action(self, source: str, values: Sequence[float], buttons: Sequence[float] = ()) -> np.ndarray | None:
        """The action for a source's raw positions (None: this game does not read that source)."""
        if self.space is None:
            return None
        if source == "pointer" and self.pointer:
            units = [_unit(values, i) if i == 0 else 1.0 - _unit(values, i) for i in self.pointer]
        elif source == "gamepad" and (self.axes or self.triggers):
            sticks = [(_dead(_at(values, i)) + 1.0) / 2.0 for i in self.axes]
            units = sticks + [_unit(buttons, i) for i in self.triggers]
        elif source == "sliders" and self.sliders:
            flat = np.array([_at(values, i) for i in range(len(self.sliders))], dtype=np.float64)
            return self._shaped(flat)
        else:
            return None
        low, high = self.space.low.reshape(-1), self.space.high.reshape(-1)
        return self._shaped(low + np.asarray(units) * (high - low))

    def _shaped(self, flat: np.ndarray) -> np.ndarray:
        assert self.space is not None
        low, high = self.space.low.reshape(-1), self.space.high.reshape(-1)
        flat = np.clip(flat, low, high)
        if np.issubdtype(self.space.dtype, np.integer):
            flat = np.rint(flat)
        return flat.astype(self.space.dtype).reshape(self.space.shape)


def _at(values: Sequence[float], i: int) -> float:
    try:
        value = float(values[i])
    except (IndexError, TypeError, ValueError):
        return 0.0
    return value if np.isfinite(value) else 0.0


def _unit(values: Sequence[float], i: int) -> float:
    return min(max(_at(values, i), 0.0), 1.0)


def _dead(value: float) -> float:
    return 0.0 if abs(value) < DEAD_ZONE else min(max(value, -1.0), 1.0)


def analog_inputs(action_space: Any, *, pointer: Any = None, gamepad: Any = None, sliders: Any = None) -> AnalogInputs:
    """Check the ``pointer=``, ``gamepad=`` and ``sliders=`` of a game against its action space
    (a clear error before anything is drawn) and compile them."""
    buttons = _buttons(gamepad)
    wants_box = pointer is not None or sliders not in (None, False) or _gamepad_analog(gamepad)
    box = _bounded_box(action_space) if wants_box else None
    size = int(np.prod(box.shape)) if box is not None else 0
    used_pointer = _pointer(pointer, size) if pointer is not None else ()
    axes, triggers = _gamepad_axes(gamepad, size) if _gamepad_analog(gamepad) else ((), ())
    labels = _sliders(sliders, size) if sliders not in (None, False) else ()
    return AnalogInputs(box, used_pointer, axes, triggers, labels, buttons)


def _bounded_box(space: Any) -> spaces.Box:
    if not isinstance(space, spaces.Box):
        raise KeyMapError(
            f"pointer=, gamepad axes and sliders= give continuous (Box) actions; this action space is {space}: "
            "use keys=... (or gamepad={'buttons': {0: action, ...}}) for it"
        )
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise KeyMapError(
            f"pointer=, gamepad axes and sliders= need a bounded Box (they span low..high); {space} is unbounded: "
            "wrap the environment with gymnasium.wrappers.ClipAction or a Box of finite bounds"
        )
    return space


def _count_problem(what: str, given: int, size: int, space_hint: str) -> KeyMapError:
    return KeyMapError(f"{what} gives {given} value(s) but the action has {size} element(s) ({space_hint})")


def _pointer(spec: Any, size: int) -> tuple[int, ...]:
    if not isinstance(spec, str) or not spec or any(c not in POINTER_AXES for c in spec.lower()):
        raise KeyMapError(f"pointer= takes 'x', 'y' or 'xy' (the pointer's coordinates, in action order), got {spec!r}")
    used = tuple(POINTER_AXES[c] for c in spec.lower())
    if len(used) != size:
        raise _count_problem(f"pointer={spec!r}", len(used), size, "pointer='x' or 'y' for one, 'xy' for two")
    return used


def _gamepad_analog(spec: Any) -> bool:
    return spec is True or (isinstance(spec, Mapping) and bool(spec.get("axes") or spec.get("triggers")))


def _indices(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise KeyMapError(f"gamepad {what} takes a list of indices, e.g. [0], got {value!r}")
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in value):
        raise KeyMapError(f"gamepad {what} are indices >= 0 (the Gamepad API's), got {list(value)!r}")
    return tuple(value)


def _gamepad_axes(spec: Any, size: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if spec is True:
        return tuple(range(size)), ()
    axes = _indices(spec.get("axes", ()), "axes")
    triggers = _indices(spec.get("triggers", ()), "triggers")
    if len(axes) + len(triggers) != size:
        raise _count_problem(
            f"gamepad axes {list(axes)} and triggers {list(triggers)}", len(axes) + len(triggers), size, "one each"
        )
    return axes, triggers


def _buttons(spec: Any) -> dict[str, Any]:
    if spec is None or spec is True:
        return {}
    if not isinstance(spec, Mapping):
        raise KeyMapError(
            f"gamepad= takes True or a dict like {{'axes': [0]}} or {{'buttons': {{0: action}}}}, got {spec!r}"
        )
    unknown = set(spec) - {"axes", "triggers", "buttons"}
    if unknown:
        raise KeyMapError(f"gamepad= takes 'axes', 'triggers' and 'buttons', not {sorted(unknown)}")
    buttons = spec.get("buttons", {})
    if not isinstance(buttons, Mapping):
        raise KeyMapError(f"gamepad buttons take {{button index: action}}, got {buttons!r}")
    return {gamepad_button(index): action for index, action in buttons.items()}


def _sliders(spec: Any, size: int) -> tuple[str, ...]:
    if spec is True:
        return tuple(f"action[{i}]" if size > 1 else "action" for i in range(size))
    if isinstance(spec, str) or not isinstance(spec, Sequence):
        raise KeyMapError(f"sliders= takes True or a list of labels, one per action element, got {spec!r}")
    if len(spec) != size:
        raise _count_problem(f"sliders={list(spec)!r}", len(spec), size, "one label per element")
    return tuple(str(label) for label in spec)
