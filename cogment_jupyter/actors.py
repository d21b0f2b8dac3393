"""Actors to serve in a lab: ``Random``, ``Constant``, ``Policy``, ``Torch``, ``QueuePair`` (any code
as the player, through two queues) and the base class."""

from cogment_jupyter.adapters.actors import Constant, Policy, Random, Torch
from cogment_jupyter.adapters.base import Actor, AgentSpec, TrialContext
from cogment_jupyter.adapters.queue_pair import QueuePair, Turn

__all__ = ["Actor", "AgentSpec", "Constant", "Policy", "QueuePair", "Random", "Torch", "TrialContext", "Turn"]
