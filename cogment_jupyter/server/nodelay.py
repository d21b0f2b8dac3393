"""Kernel websockets without Nagle's algorithm, and comm traffic that does not flicker the
kernel status, for frame-by-frame widgets.

jupyter_server leaves ``TCP_NODELAY`` off on kernel websockets. A play widget's frame then waits
for the browser's delayed TCP acknowledgement before it leaves. The messages are small and
latency-bound, so the server extension turns it on for every kernel websocket
(``CogmentJupyter.kernel_nodelay``).

The kernel answers every shell message, a widget's comm message included, with a busy and an idle
status message, and JupyterLab reflects each in its kernel indicator, execution indicator and
favicon, at a cost in browser CPU per comm message from a play widget (key presses, frame
acks) on the path of the frame that answers a key (figures: ``docs/decisions/play-widget.md``).
JupyterLab (4.x, also Notebook 7) ignores status messages answering the message types its page config lists as
``untracked_message_types`` (the server's ``MappingKernelManager.untracked_message_types``);
the extension adds ``comm_msg`` to the page's list only (``CogmentJupyter.untrack_comm_status``),
so the server still counts widget messages as kernel activity.
"""

from __future__ import annotations

import functools
from typing import Any

_PATCHED = "_cogment_jupyter_nodelay"


def enable_kernel_websocket_nodelay() -> bool:
    """Make every kernel websocket opened from now on set ``TCP_NODELAY``; False if already done."""
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    if getattr(KernelWebsocketHandler, _PATCHED, False):
        return False
    original = KernelWebsocketHandler.open

    @functools.wraps(original)
    async def open_without_nagle(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.set_nodelay(True)
        return await original(self, *args, **kwargs)

    KernelWebsocketHandler.open = open_without_nagle  # type: ignore[method-assign]
    setattr(KernelWebsocketHandler, _PATCHED, True)
    return True


def untrack_comm_status(web_app: Any, kernel_manager: Any) -> bool:
    """Let pages ignore the busy/idle status answering comm messages; False if already so."""
    page_config = web_app.settings.setdefault("page_config_data", {})
    current = page_config.get("untracked_message_types")
    if current is None:
        current = list(getattr(kernel_manager, "untracked_message_types", None) or [])
    if "comm_msg" in current:
        return False
    page_config["untracked_message_types"] = [*current, "comm_msg"]
    return True
