"""Trial ids and seeds: random, unique, and cheap (no system entropy call per trial)."""

from __future__ import annotations

import os
import random
import uuid

_rng = random.Random(int.from_bytes(os.urandom(16), "little"))


def new_trial_id() -> str:
    """A UUID v4 string."""
    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


def new_seed() -> int:
    """A 31-bit seed (accepted by every Gymnasium environment and numpy generator)."""
    return _rng.getrandbits(31)


def reseed_after_fork() -> None:
    """Child processes must not repeat the parent's ids."""
    _rng.seed(int.from_bytes(os.urandom(16), "little"))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reseed_after_fork)
