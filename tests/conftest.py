"""Suite-wide settings."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the browser tests last: Playwright's sync API keeps an event loop running in the main
    thread while its browser is open, which the asyncio tests must not find."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))
