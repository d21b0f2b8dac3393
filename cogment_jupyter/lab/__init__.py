"""The user API: ``Lab``, trial handles and trial data.

``TrialData`` and ``concatenate`` (pandas) load when first asked for, not with the lab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cogment_jupyter.lab.handles import TrialHandle
from cogment_jupyter.lab.lab import Lab, LabNotLaunched
from cogment_jupyter.lab.services import ServiceKind
from cogment_jupyter.lab.trial_options import TrialOptions

if TYPE_CHECKING:
    from cogment_jupyter.lab.trial_data import TrialData, concatenate

__all__ = ["Lab", "LabNotLaunched", "ServiceKind", "TrialData", "TrialHandle", "TrialOptions", "concatenate"]


def __getattr__(name: str) -> Any:
    if name in ("TrialData", "concatenate"):
        from cogment_jupyter.lab import trial_data

        return getattr(trial_data, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
