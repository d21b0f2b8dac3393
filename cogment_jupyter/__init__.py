"""cogment_jupyter: a Jupyter-native lab for human-in-the-loop RL on the Cogment protocol.

In a notebook::

    %load_ext cogment_jupyter
    %cogment launch
    from cogment_jupyter import Lab, envs, actors
    lab = Lab.current()

In a script: ``with Lab() as lab: ...``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: the one place the version is written (pyproject.toml reads it from here)
__version__ = "0.1.0"

if TYPE_CHECKING:
    from cogment_jupyter.lab import Lab, LabNotLaunched, TrialData, TrialHandle, concatenate

__all__ = ["Lab", "LabNotLaunched", "TrialData", "TrialHandle", "actors", "concatenate", "envs"]

_LAZY = {
    "Lab": "cogment_jupyter.lab",
    "LabNotLaunched": "cogment_jupyter.lab",
    "TrialData": "cogment_jupyter.lab",
    "TrialHandle": "cogment_jupyter.lab",
    "concatenate": "cogment_jupyter.lab",
}


def __getattr__(name: str) -> Any:
    """Import the heavy parts on first use: ``import cogment_jupyter`` stays cheap."""
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("envs", "actors"):
        return importlib.import_module(f"cogment_jupyter.{name}")
    raise AttributeError(f"module 'cogment_jupyter' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext cogment_jupyter``: registers the ``%cogment`` magic."""
    from cogment_jupyter.magics import CogmentMagics

    ipython.register_magics(CogmentMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Stop the lab ``%cogment launch`` started."""
    from cogment_jupyter.magics import stop_current

    stop_current()


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The Jupyter server extension that shares one Cogment runtime between kernels."""
    from cogment_jupyter.server import _jupyter_server_extension_points as points

    return points()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab panel (for ``jupyter labextension develop``; wheels install it as shared data)."""
    return [{"src": "labextension", "dest": "cogment-jupyter-panel"}]
