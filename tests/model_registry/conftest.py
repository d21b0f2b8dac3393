"""Fixtures: our model registry on a loopback port, and the official SDK's client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import cogment
import pytest

from cogment_jupyter.model_registry.service import ModelRegistryServer
from tests import sdk_cog_settings
from tests.model_registry.registry_process import RegistryProcess, start_registry_process


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[ModelRegistryServer]:
    server = ModelRegistryServer(tmp_path / "models")
    await server.start()
    yield server
    await server.stop(0)


async def sdk_registry(endpoint: str):
    """``Context.get_model_registry_v2``, exactly as SDK users write it."""
    context = cogment.Context(user_id="tests", cog_settings=sdk_cog_settings, prometheus_registry=None)
    return await context.get_model_registry_v2(cogment.Endpoint(endpoint))


@pytest.fixture
def registry_process(tmp_path: Path) -> Iterator[RegistryProcess]:
    running = start_registry_process(tmp_path / "archive")
    yield running
    if running.process.poll() is None:
        running.stop()
