"""Which recorded trials ``lab.trials()`` shows: this notebook's, by default.

Every notebook of a Jupyter server records into the shared runtime's datastore, and notebooks in
one folder share its ``.cogment/`` when embedded: a notebook's tables of "its" trials would count
every other notebook's too. So every trial carries the notebook that ran it (Jupyter gives a
kernel its notebook's path in ``JPY_SESSION_NAME``) and the lab that started it, and
``lab.trials()`` keeps the notebook's own: after a kernel restart too. Where no notebook is known
(a script, nbclient, a kernel started by hand) the lab's own trials are the notebook's.
"""

from __future__ import annotations

import os
import uuid
from typing import Literal

#: the notebook (its path on the Jupyter server) whose kernel started the trial
NOTEBOOK_PROPERTY = "cogment_jupyter.notebook"
#: the lab (one per ``%cogment launch`` or ``Lab()``) that started the trial
SESSION_PROPERTY = "cogment_jupyter.session"

Scope = Literal["notebook", "lab", "all"]
SCOPES: tuple[str, ...] = ("notebook", "lab", "all")


class TrialScope:
    """The properties a lab stamps on its trials, and the filter of each scope."""

    def __init__(self, notebook: str | None = None) -> None:
        self.session = uuid.uuid4().hex
        self.notebook = notebook if notebook is not None else os.environ.get("JPY_SESSION_NAME") or None

    @property
    def properties(self) -> dict[str, str]:
        """What every trial of this lab records about where it came from."""
        out = {SESSION_PROPERTY: self.session}
        if self.notebook:
            out[NOTEBOOK_PROPERTY] = self.notebook
        return out

    def filter(self, scope: str) -> dict[str, str]:
        """The properties a trial must have to be in ``scope``."""
        if scope == "all":
            return {}
        if scope == "notebook" and self.notebook:
            return {NOTEBOOK_PROPERTY: self.notebook}
        if scope in ("notebook", "lab"):
            return {SESSION_PROPERTY: self.session}
        raise ValueError(f"scope must be one of {', '.join(map(repr, SCOPES))}, got {scope!r}")
