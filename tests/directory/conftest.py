"""Fixtures: our directory on a loopback port (short health-check periods), SDK services beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import cogment
import pytest

from cogment_jupyter.directory.service import DirectoryOptions, DirectoryServer
from tests import sdk_cog_settings
from tests.sdk_fixtures import orchestrator, sdk  # noqa: F401  (fixtures used here too)
from tests.waiting import await_condition

T = TypeVar("T")

#: health checks every 0.3 s (upstream: every minute), so expiry is observable in a test
FAST = DirectoryOptions(check_period=0.3, scan_period=0.1, rounds=1)


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 20.0) -> T:
    """Poll ``probe`` until ``accept`` takes its value (and return it); fail with the last value at the deadline."""
    last: list[T] = []

    async def accepted() -> bool:
        last[:] = [await probe()]
        return accept(last[0])

    try:
        await await_condition(accepted, timeout, "the expected answer")
    except TimeoutError as error:
        raise AssertionError(f"{error}; last value: {last[0] if last else None!r}") from None
    return last[0]


@pytest.fixture
async def make_directory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[DirectoryServer]]]:
    started: list[DirectoryServer] = []

    async def make(persistence: str | Path | None = None, options: DirectoryOptions = FAST) -> DirectoryServer:
        server = DirectoryServer(persistence, options)
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop(0)


@pytest.fixture
async def directory(make_directory) -> DirectoryServer:
    return await make_directory()


def sdk_directory(endpoint: str, token: str | None = None) -> cogment.directory.Directory:
    """The official SDK's directory client (``Context.get_directory``), as a user would make it.

    A token goes in the context's metadata: SDK 2.10.1's ``directory_auth_token`` path is broken
    (``Directory.__init__`` keeps the ``None`` that ``GrpcMetadata.add`` returns).
    """
    metadata = cogment.GrpcMetadata()
    if token:
        metadata.add("authentication-token", token)
    context = cogment.Context(
        user_id="tests",
        cog_settings=sdk_cog_settings,
        prometheus_registry=None,
        directory_endpoint=cogment.Endpoint(endpoint),
        metadata=metadata,
    )
    return context.get_context_directory()
