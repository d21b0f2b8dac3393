"""Environments to serve in a lab: ``envs.Gymnasium("CartPole-v1")`` and the base class."""

from cogment_jupyter.adapters.base import AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.adapters.gymnasium_env import Gymnasium

__all__ = ["AgentSpec", "Environment", "Gymnasium", "StepResult", "TrialContext"]
