"""The payload formats a trial can run in: ours, and Cogment Lab's (chosen per trial).

Every component of a trial makes and reads its observations and actions in the trial's format;
the format's name travels in our components' configs (``EnvConfig.format``, ``ActorConfig.format``)
and in the trial's properties (``trial_codec.FORMAT_KEY``), so the datastore reads it back the
same way. Ours is the default and the fast path; Lab's loads only for a trial that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cogment_jupyter.adapters.payloads import LabAction, LabObservation, decode_action, decode_observation
from cogment_jupyter.adapters.trial_codec import TrialCodec

__all__ = ["OURS", "PayloadFormat", "payload_format"]


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """How one format makes observations and actions (in-process objects that serialise to it)
    and reads them from bytes, and how its recorded trials are read back."""

    name: str
    observation: type[LabObservation]
    action: type[LabAction]
    decode_observation: Callable[..., LabObservation]
    decode_action: Callable[..., LabAction]
    trial_codec: type[TrialCodec]


OURS = PayloadFormat("", LabObservation, LabAction, decode_observation, decode_action, TrialCodec)


def payload_format(name: str) -> PayloadFormat:
    """The format named ``name`` (``""``: ours); a clear error for one this package does not speak."""
    if not name:
        return OURS
    if name == "cogment_lab":
        return _cogment_lab()
    raise ValueError(f"unknown payload format {name!r}: this package speaks ours ('') and 'cogment_lab'")


_lab: PayloadFormat | None = None


def _cogment_lab() -> PayloadFormat:
    global _lab
    if _lab is None:
        from cogment_jupyter.adapters import lab_format as lab

        _lab = PayloadFormat(
            lab.FORMAT,
            lab.CogmentLabObservation,
            lab.CogmentLabAction,
            lab.decode_lab_observation,
            lab.decode_lab_action,
            lab.CogmentLabTrialCodec,
        )
    return _lab
