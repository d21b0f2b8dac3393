"""Environments to serve in a lab: Gymnasium and PettingZoo adapters, and the base class."""

from cogment_jupyter.adapters.base import AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.adapters.gymnasium_env import Gymnasium
from cogment_jupyter.adapters.pettingzoo_env import PettingZooAEC, PettingZooParallel

__all__ = ["AgentSpec", "Environment", "Gymnasium", "PettingZooAEC", "PettingZooParallel", "StepResult", "TrialContext"]
