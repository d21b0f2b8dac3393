"""The orchestrator on a loopback port and official-SDK services beside it (``tests/sdk_fixtures.py``)."""

from tests.sdk_fixtures import orchestrator, sdk  # noqa: F401  (fixtures of these tests)
