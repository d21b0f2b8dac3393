"""The server extension's tweaks for frame-by-frame widgets (cogment_jupyter/server/nodelay.py)."""

from __future__ import annotations

from types import SimpleNamespace

from cogment_jupyter.server.nodelay import untrack_comm_status


def test_pages_ignore_the_status_answering_comm_messages_but_the_server_still_tracks_them() -> None:
    kernel_manager = SimpleNamespace(untracked_message_types=["status", "stream"])
    web_app = SimpleNamespace(settings={})
    assert untrack_comm_status(web_app, kernel_manager)
    assert web_app.settings["page_config_data"]["untracked_message_types"] == ["status", "stream", "comm_msg"]
    assert kernel_manager.untracked_message_types == ["status", "stream"]  # activity tracking unchanged
    assert not untrack_comm_status(web_app, kernel_manager)  # once


def test_a_list_already_in_the_page_config_is_extended() -> None:
    web_app = SimpleNamespace(settings={"page_config_data": {"untracked_message_types": ["execute_input"]}})
    untrack_comm_status(web_app, SimpleNamespace())
    assert web_app.settings["page_config_data"]["untracked_message_types"] == ["execute_input", "comm_msg"]
