"""Trial ids and seeds: random, unique, and cheap (no system entropy call per trial)."""

from __future__ import annotations

import os
import random

_rng = random.Random(int.from_bytes(os.urandom(16), "little"))

#: Longest trial id accepted. Ids travel as gRPC metadata (``trial-id``) on every call of a
#: trial, and gRPC refuses a call's metadata past 8 KiB at random (always past 16 KiB); 4 KiB
#: leaves room for the rest of it.
MAX_TRIAL_ID_LENGTH = 4096


#: the bits a UUID v4 fixes (version 4, RFC 4122 variant), as ``uuid.UUID(int=..., version=4)`` sets them
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_trial_id() -> str:
    """A UUID v4 string (formatted here: ``str(uuid.UUID(...))`` costs several times more)."""
    h = f"{_rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_seed() -> int:
    """A 31-bit seed (accepted by every Gymnasium environment and numpy generator)."""
    return _rng.getrandbits(31)


def reseed_after_fork() -> None:
    """Child processes must not repeat the parent's ids."""
    _rng.seed(int.from_bytes(os.urandom(16), "little"))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reseed_after_fork)


def trial_id_problem(trial_id: str) -> str | None:
    """Why ``trial_id`` cannot name a trial (None when it can).

    A trial id is sent as gRPC metadata to every component of the trial, so it must be what a
    metadata value can carry: printable ASCII, no leading or trailing space, not too long.
    """
    if not trial_id:
        return "a trial id cannot be empty"
    if (
        len(trial_id) <= MAX_TRIAL_ID_LENGTH
        and trial_id.isascii()
        and trial_id.isprintable()
        and trial_id[0] != " " != trial_id[-1]
    ):
        return None  # (printable ASCII is " " to "~": the common case, without a loop over the characters)
    shown = trial_id if len(trial_id) <= 40 else trial_id[:40] + "…"
    if len(trial_id) > MAX_TRIAL_ID_LENGTH:
        return (
            f"trial id {shown!r} is {len(trial_id)} characters long; gRPC metadata carries at most "
            f"{MAX_TRIAL_ID_LENGTH}: use a shorter id (or none, for a generated UUID)"
        )
    for position, character in enumerate(trial_id):
        if not " " <= character <= "~":
            return (
                f"trial id {shown!r} has {character!r} (U+{ord(character):04X}) at position {position}, which gRPC "
                "metadata cannot carry: use printable ASCII (letters, digits, '-', '_', '.', ...)"
            )
    if trial_id != trial_id.strip():
        return f"trial id {shown!r} starts or ends with a space, which gRPC metadata drops: remove it"
    return None
