"""The user API: ``Lab``, trial handles and trial data."""

from cogment_jupyter.lab.handles import TrialHandle
from cogment_jupyter.lab.lab import Lab, LabNotLaunched
from cogment_jupyter.lab.trial_data import TrialData, concatenate

__all__ = ["Lab", "LabNotLaunched", "TrialData", "TrialHandle", "concatenate"]
