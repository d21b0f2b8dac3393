"""Actors to serve in a lab: ``Random``, ``Constant``, ``Policy``, ``Torch`` and the base class."""

from cogment_jupyter.adapters.actors import Constant, Policy, Random, Torch
from cogment_jupyter.adapters.base import Actor, AgentSpec, TrialContext

__all__ = ["Actor", "AgentSpec", "Constant", "Policy", "Random", "Torch", "TrialContext"]
