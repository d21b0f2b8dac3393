"""Key maps: from the set of keys a player holds to an environment action.

Accepts the conventions people already have, so a map can be pasted from elsewhere:

- Cogment Lab list: ``["no-op", "ArrowLeft", "ArrowRight"]`` - position is the action.
- Cogment Lab dict: ``{"no-op": 0, "ArrowLeft": 1}`` - key to any action value, dicts included.
- Gymnasium ``play()``'s ``keys_to_action``: ``{("w", "a"): 3, "wd": 4, (ord("s"),): 2}`` - tuples
  of keys, strings of characters, or pygame key codes, with ``noop`` for everything else.
- Combos written ``"ArrowUp+ArrowLeft"`` (Cogment Verse's sorted ``a+b`` lookup).
- JSON actions: a message that is a JSON object or array (``'{"steer": -0.4}'``) is used as the
  action itself, for continuous and dict action spaces (:meth:`KeyMap.action_for_message`).

Key names are ``KeyboardEvent.key`` values (``"ArrowLeft"``, ``"a"``, ``" "``), with letters in
lower case as the play widget reports them; friendly aliases (``"space"``, ``"left"``) are accepted.
A gamepad's buttons are keys too: ``"Gamepad0"``, ``"Gamepad1"``... (the Gamepad API's indices).
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "NOOP",
    "KeyMap",
    "KeyMapError",
    "action_problem",
    "check_keymap",
    "coerce_action",
    "compile_keymap",
    "gamepad_button",
    "normalize_key",
    "parse_combo",
]

NOOP = "no-op"
_MISSING: Any = object()

# KeyboardEvent.key names a player is likely to map (https://www.w3.org/TR/uievents-key/)
_NAMED = [
    "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Enter", "Escape", "Tab", "Backspace",
    "Delete", "Insert", "Home", "End", "PageUp", "PageDown", "Shift", "Control", "Alt", "Meta",
    "CapsLock", *(f"F{i}" for i in range(1, 13)),
]  # fmt: skip
_NAMED_BY_LOWER = {k.lower(): k for k in _NAMED}
_ALIASES = {
    "space": " ", "spacebar": " ", "left": "ArrowLeft", "right": "ArrowRight", "up": "ArrowUp",
    "down": "ArrowDown", "esc": "Escape", "return": "Enter", "ctrl": "Control", "del": "Delete",
    "cmd": "Meta", "os": "Meta",
}  # fmt: skip
# pygame key codes that Gymnasium envs' get_keys_to_action() use (pygame 2 and SDL1 arrows)
_PYGAME = {
    8: "Backspace", 9: "Tab", 13: "Enter", 27: "Escape", 127: "Delete",
    273: "ArrowUp", 274: "ArrowDown", 275: "ArrowRight", 276: "ArrowLeft",
    1073741903: "ArrowRight", 1073741904: "ArrowLeft", 1073741905: "ArrowDown", 1073741906: "ArrowUp",
    1073742048: "Control", 1073742049: "Shift", 1073742050: "Alt",
    1073742052: "Control", 1073742053: "Shift", 1073742054: "Alt",
}  # fmt: skip


class KeyMapError(ValueError):
    """A key map (or a key in it) that cannot be understood."""


def normalize_key(name: str) -> str:
    """The widget's name for one key: letters lower case, aliases and any capitalisation resolved."""
    if not isinstance(name, str) or not name:
        raise KeyMapError(f"a key name must be a non-empty string, got {name!r}")
    if len(name) == 1:
        return name.lower()
    low = name.lower()
    if low.startswith("gamepad") and low[7:].isdigit():
        return gamepad_button(int(low[7:]))
    if low in _ALIASES:
        return _ALIASES[low]
    if low in _NAMED_BY_LOWER:
        return _NAMED_BY_LOWER[low]
    guess = difflib.get_close_matches(name, [*_NAMED, *_ALIASES], n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    raise KeyMapError(f"unknown key name {name!r}: use KeyboardEvent.key names like 'ArrowLeft', 'a', ' '{hint}")


def gamepad_button(index: Any) -> str:
    """The key name of a gamepad button (``Gamepad<index>``, the Gamepad API's standard index)."""
    if isinstance(index, str) and index.isdigit():
        index = int(index)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise KeyMapError(f"a gamepad button is an index >= 0 (the Gamepad API's), got {index!r}")
    return f"Gamepad{index}"


def _key_from_code(code: int) -> str:
    if code in _PYGAME:
        return _PYGAME[code]
    if 32 <= code < 127:
        return chr(code).lower()
    raise KeyMapError(f"pygame key code {code} has no browser equivalent here; use a key name like 'ArrowLeft'")


def _single(item: Any) -> str:
    if isinstance(item, bool):
        raise KeyMapError(f"{item!r} is not a key")
    if isinstance(item, int):
        return _key_from_code(item)
    return normalize_key(item)


def parse_combo(spec: Any) -> frozenset[str]:
    """The keys of one map entry: a key name, ``"a+b"``, a string of characters, a code, or a tuple."""
    if isinstance(spec, (tuple, list, set, frozenset)):
        return frozenset(_single(item) for item in spec)
    if isinstance(spec, str):
        if spec == "":
            return frozenset()
        if len(spec) > 1 and "+" in spec.strip("+"):
            return frozenset(normalize_key(part) for part in spec.split("+") if part)
        try:
            return frozenset([normalize_key(spec)])
        except KeyMapError:
            # Gymnasium's string combos: "wa" means w and a together
            if spec.islower() and " " not in spec:
                return frozenset(spec)
            raise
    return frozenset([_single(spec)])


def _combo_name(combo: frozenset[str]) -> str:
    return "+".join(sorted(combo, key=lambda k: (len(k) == 1, k)))


@dataclass(frozen=True)
class KeyMap:
    """A compiled key map: call it with the held keys to get the action.

    Lookup: the held keys that appear in the map are looked up as one combination; if that
    combination is not in the map and the keys come in press order (a list or tuple), the most
    recently pressed key that has an entry of its own wins (Cogment Lab's "last key" rule);
    otherwise the no-op action (None for a map compiled without one).
    """

    table: Mapping[frozenset[str], Any]
    noop: Any
    hints: dict[str, str] = field(default_factory=dict)
    #: every key that takes part in some entry; other held keys are ignored
    keys: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", frozenset().union(*self.table))

    @property
    def idle(self) -> Any:
        """An action of the map for when none is meant: the no-op, else the first mapped action."""
        if self.noop is not None:
            return _fresh(self.noop)
        return _fresh(next(iter(self.table.values()))) if self.table else None

    def __call__(self, pressed: Iterable[str]) -> Any:
        ordered = list(pressed)
        relevant = [k for k in (_safe_normalize(k) for k in ordered) if k in self.keys]
        combo = frozenset(relevant)
        if combo in self.table:
            return _fresh(self.table[combo])
        if isinstance(pressed, Sequence):
            for key in reversed(relevant):
                if frozenset([key]) in self.table:
                    return _fresh(self.table[frozenset([key])])
        return _fresh(self.noop)

    def with_entries(self, entries: Mapping[Any, Any]) -> KeyMap:
        """This map with more entries (a gamepad's buttons played as keys), its no-op kept."""
        extra = compile_keymap(dict(entries), require_noop=False)
        clash = [_combo_name(c) for c in extra.table if c in self.table and self.table[c] != extra.table[c]]
        if clash:
            raise KeyMapError(f"keys {clash} are mapped twice, with different actions")
        return KeyMap({**self.table, **extra.table}, self.noop, {**self.hints, **extra.hints})

    def action_for_message(self, message: Any) -> Any:
        """A front-end message as an action: JSON object/array text or a JSON value as is, else a key."""
        if isinstance(message, str):
            text = message.strip()
            if text[:1] in ("{", "["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as e:
                    raise KeyMapError(f"message {message[:60]!r} looks like JSON but is not: {e}") from e
            if text == NOOP:
                return _fresh(self.noop)
            return self([message])
        return message


def _safe_normalize(key: str) -> str:
    try:
        return normalize_key(key)
    except KeyMapError:
        return key


def _fresh(value: Any) -> Any:
    """Actions may be dicts or lists: hand out copies so a caller cannot edit the map."""
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:23] + "…"


def compile_keymap(
    spec: Any, *, noop: Any = _MISSING, default_noop: Any = _MISSING, require_noop: bool = True
) -> KeyMap:
    """Compile any supported key map (see the module docstring).

    The idle action (what no mapped key held means) is, in order: ``noop``; the map's own
    ``"no-op"`` entry or empty combination; ``default_noop`` (what the environment names its
    no-op). Without any, a map is refused unless ``require_noop=False`` (a teacher holding no
    key does not act at all): then the map's ``noop`` is None.
    """
    if isinstance(spec, KeyMap):
        if noop is not _MISSING and noop != spec.noop:
            return KeyMap(spec.table, noop, spec.hints)
        return spec
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as e:
            raise KeyMapError(f"a key map given as text must be JSON: {e}") from e
    if isinstance(spec, Mapping):
        entries = list(spec.items())
        labels = {i: _short(v) for i, (_, v) in enumerate(entries)}
    elif isinstance(spec, (list, tuple)):
        entries = [(k, i) for i, k in enumerate(spec)]
        labels = {i: f"action {i}" for i in range(len(entries))}
    else:
        raise KeyMapError(
            f"a key map must be a list (position = action) or a dict (keys -> action), got {type(spec).__name__}"
        )

    table: dict[frozenset[str], Any] = {}
    hints: dict[str, str] = {}
    found_noop: Any = _MISSING
    for i, (key, action) in enumerate(entries):
        if isinstance(key, str) and key.strip().lower() in (NOOP, "noop", "no_op"):
            found_noop = action
            continue
        try:
            combo = parse_combo(key)
        except KeyMapError as e:
            raise KeyMapError(f"key map entry {key!r}: {e}") from None
        if combo in table and table[combo] != action:
            raise KeyMapError(f"keys {_combo_name(combo)!r} are mapped twice, to {table[combo]!r} and {action!r}")
        table[combo] = action
        if combo:
            hints[_combo_name(combo)] = labels[i]

    if noop is not _MISSING and found_noop is not _MISSING and noop != found_noop:
        raise KeyMapError(f"noop={noop!r} contradicts the map's 'no-op' entry {found_noop!r}")
    if noop is _MISSING:
        noop = found_noop
    if noop is _MISSING and frozenset() in table:
        noop = table[frozenset()]
    if noop is _MISSING:
        noop = default_noop
    if noop is _MISSING:
        if require_noop:
            raise KeyMapError(
                "the key map has no no-op action (what to do when no mapped key is held): "
                "add a 'no-op' entry, e.g. ['no-op', 'ArrowLeft', 'ArrowRight'], or pass noop=..."
            )
        noop = None
    table.pop(frozenset(), None)
    return KeyMap(table, noop, hints)


def coerce_action(value: Any, space: Any) -> Any:
    """Convert a JSON-ish action to what a Gymnasium ``space`` expects, with a clear error if it can't."""
    import numpy as np
    from gymnasium import spaces

    try:
        if isinstance(space, spaces.Discrete):
            action: Any = int(value)
        elif isinstance(space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
            action = np.asarray(value, dtype=space.dtype)
            if action.shape != space.shape and action.size == int(np.prod(space.shape)):
                action = action.reshape(space.shape)
        elif isinstance(space, spaces.Dict):
            if not isinstance(value, Mapping):
                raise KeyMapError(f"a Dict space needs a dict action, got {value!r}")
            missing = set(space.spaces) - set(value)
            if missing:
                raise KeyMapError(f"action {value!r} lacks {sorted(missing)}")
            action = {k: coerce_action(value[k], s) for k, s in space.spaces.items()}
        elif isinstance(space, spaces.Tuple):
            action = tuple(coerce_action(v, s) for v, s in zip(value, space.spaces, strict=True))
        else:
            return value
    except (TypeError, ValueError) as e:
        if isinstance(e, KeyMapError):
            raise
        raise KeyMapError(f"action {value!r} does not fit {space}: {e}") from e
    if not space.contains(action):
        raise KeyMapError(f"action {value!r} is outside {space}")
    return action


def action_problem(value: Any, space: Any) -> str | None:
    """Why ``value`` is not an action of the Gymnasium ``space``, or None when it is.

    Stricter than :func:`coerce_action` (which converts what a front end sends at play time): a
    key map is written once, so a scalar for a shaped Box, a fraction for a Discrete or a missing
    Dict entry is a mistake to report before anything is drawn.
    """
    import numpy as np
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        whole = isinstance(value, int | np.integer | float | np.floating) and not isinstance(value, bool | np.bool_)
        if not whole or not float(value).is_integer() or not space.contains(np.int64(value)):
            return f"it takes a whole number from {int(space.start)} to {int(space.start + space.n - 1)}"
        return None
    if isinstance(space, spaces.Box | spaces.MultiDiscrete | spaces.MultiBinary):
        try:
            array = np.asarray(value, dtype=space.dtype)
        except (TypeError, ValueError):
            return f"it takes numbers of shape {space.shape}, e.g. {_example(space)}"
        if array.shape != space.shape:
            return f"it takes shape {space.shape}, e.g. {_example(space)}; this has shape {array.shape}"
        return None if space.contains(array) else f"it lies outside {space}"
    if isinstance(space, spaces.Dict):
        if not isinstance(value, Mapping):
            return f"it takes a dict with keys {list(space.spaces)}"
        wrong = sorted(set(space.spaces) ^ set(value))
        if wrong:
            return f"it takes a dict with keys {list(space.spaces)}; {wrong} do not match"
        for key, sub in space.spaces.items():
            if (problem := action_problem(value[key], sub)) is not None:
                return f"[{key!r}]: {problem}"
        return None
    if isinstance(space, spaces.Tuple):
        if not isinstance(value, list | tuple) or len(value) != len(space.spaces):
            return f"it takes a list of {len(space.spaces)} actions"
        for i, sub in enumerate(space.spaces):
            if (problem := action_problem(value[i], sub)) is not None:
                return f"[{i}]: {problem}"
        return None
    try:
        coerce_action(value, space)
    except KeyMapError as e:
        return str(e)
    return None


def _example(space: Any) -> str:
    import numpy as np

    low = np.broadcast_to(getattr(space, "low", 0), space.shape)
    high = np.broadcast_to(getattr(space, "high", 1), space.shape)
    return json.dumps(np.clip(np.zeros(space.shape), low, high).astype(float).tolist())


def check_keymap(keymap: KeyMap, space: Any) -> None:
    """Every mapped action and the no-op must be actions of ``space``; a clear error otherwise."""
    for combo, value in keymap.table.items():
        problem = action_problem(value, space)
        if problem is not None:
            raise KeyMapError(
                f"key {_combo_name(combo)!r} is mapped to {value!r}, which is not an action of {space}: {problem}"
            )
    problem = None if keymap.noop is None else action_problem(keymap.noop, space)
    if problem is not None:
        raise KeyMapError(f"noop={keymap.noop!r} is not an action of {space}: {problem}")
