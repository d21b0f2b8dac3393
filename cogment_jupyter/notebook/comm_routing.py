"""Messages from a person's widget are handled where the front end sends them: a kernel subshell.

JupyterLab >= 4.4 and Notebook 7 send every widget's comm messages to a kernel subshell (a thread
of its own, ipykernel >= 7), so a key press is handled while a cell runs. ipykernel 7.4 overrides
that choice comm by comm: whenever the kernel sends on a comm, later messages *from* the page are
routed to the shell of the request the kernel was serving then (``BaseComm._reply_subshell_for``),
so that a cell running in a subshell gets the reply it awaits. A game's frames are sent from the
lab's own thread, whose "request" is whichever one the kernel handled last: after any cell, the
main shell. From then on the person's keys queue behind the running cell and are handled when it
ends (``docs/decisions/play-widget.md``); with the front end's routing kept, on the subshell at
once. Our widgets never answer a request a cell waits on, so their messages keep the
front end's routing.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["handled_between_cells", "keep_frontend_routing"]


def _frontend_choice(_data: Any, default: str | None) -> str | None:
    """ipykernel's routing hook: the subshell the front end addressed the message to."""
    return default


def keep_frontend_routing(*widgets: Any) -> None:
    """Handle the widgets' incoming messages on the subshell the front end chose (see module doc).

    Harmless where the hook does not exist (ipykernel < 7.4, no kernel: nothing overrides the
    front end there).
    """
    for widget in widgets:
        comm = getattr(widget, "comm", None)
        if comm is not None and hasattr(comm, "_reply_subshell_for"):
            comm._reply_subshell_for = _frontend_choice


def handled_between_cells() -> bool:
    """Whether the message being handled came through the kernel's main shell.

    A message from a person's widget arrives there only when its front end uses no subshell for
    widgets (an older JupyterLab, VS Code, comms over subshells switched off): it then waits
    for the running cell to end.
    """
    return threading.current_thread() is threading.main_thread()
