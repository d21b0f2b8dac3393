"""What an environment says about being played by hand, in the conventions people know.

Gymnasium's ``play()`` reads an env's ``get_keys_to_action()`` (its key map, the empty key
combination being the no-op: MountainCar's ``{(): 1, (276,): 0, (275,): 2}``); Atari's ALE
names its actions with ``get_action_meanings()`` (``"NOOP"`` is the no-op). ``lab.play`` uses
them when the player gives no key map or no ``noop``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["default_keys", "named_noop"]


def _ask(template: Any, method: str) -> Any:
    """What the environment's own ``method()`` returns, or None when it has none (or it fails)."""
    ask = getattr(template, "env_convention", None)
    if not callable(ask):
        return None
    try:
        return ask(method)
    except Exception:
        return None


def default_keys(template: Any) -> Any:
    """The environment's ``get_keys_to_action()`` map, if it has one."""
    return _ask(template, "get_keys_to_action")


def named_noop(template: Any, action_space: Any) -> Any:
    """For a Discrete action space whose environment names its actions, the action named
    ``NOOP``; None otherwise."""
    from gymnasium import spaces

    if not isinstance(action_space, spaces.Discrete):
        return None
    meanings = _ask(template, "get_action_meanings")
    if not isinstance(meanings, list | tuple) or len(meanings) != action_space.n:
        return None
    names = [str(m).upper().replace("-", "").replace("_", "") for m in meanings]
    return int(action_space.start) + names.index("NOOP") if "NOOP" in names else None
