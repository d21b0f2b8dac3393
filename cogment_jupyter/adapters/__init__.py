"""Adapters: Gymnasium and PettingZoo environments, built-in actors, and the value codec for gymnasium spaces.

Importing this package is cheap (no torch, no pyarrow, no Cogment SDK): those load when a
Torch actor starts, a column is decoded, or ``adapters.cog_settings`` is imported.
"""

from __future__ import annotations

from cogment_jupyter.adapters.actors import Constant, Policy, Random, Torch
from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.adapters.codec import Codec, DecodeError, ValueOutsideSpaceError, codec_for
from cogment_jupyter.adapters.frame_codec import decode_frame, encode_frame
from cogment_jupyter.adapters.gymnasium_env import AGENT, Gymnasium
from cogment_jupyter.adapters.payloads import LabAction, LabObservation, decode_action, decode_observation
from cogment_jupyter.adapters.pettingzoo_env import PettingZooAEC, PettingZooParallel
from cogment_jupyter.adapters.spaces import SpaceFormatError, space_from_json, space_to_json
from cogment_jupyter.adapters.trial_codec import PROPERTY_KEY, AgentCodecs, TrialCodec

__all__ = [
    "AGENT",
    "PROPERTY_KEY",
    "Actor",
    "AgentCodecs",
    "AgentSpec",
    "Codec",
    "Constant",
    "DecodeError",
    "Environment",
    "Gymnasium",
    "LabAction",
    "LabObservation",
    "PettingZooAEC",
    "PettingZooParallel",
    "Policy",
    "Random",
    "SpaceFormatError",
    "StepResult",
    "Torch",
    "TrialCodec",
    "TrialContext",
    "ValueOutsideSpaceError",
    "codec_for",
    "decode_action",
    "decode_frame",
    "decode_observation",
    "encode_frame",
    "space_from_json",
    "space_to_json",
]
