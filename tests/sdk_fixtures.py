"""Fixtures: our orchestrator on a loopback port, and official-SDK services beside it.

Not a conftest: the conftests of the folders that use them import them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import cogment
import pytest

from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.server import OrchestratorServer
from tests import sdk_cog_settings

logging.basicConfig(level=logging.WARNING)


@dataclass
class RunningOrchestrator:
    server: OrchestratorServer
    orchestrator: Orchestrator
    endpoint: str
    context: cogment.Context = field(init=False)

    def controller(self) -> cogment.Controller:
        return self.context.get_controller(cogment.Endpoint(self.endpoint))


@pytest.fixture
async def orchestrator() -> AsyncIterator[RunningOrchestrator]:
    engine = Orchestrator(GrpcComponentFactory(), gc_interval=0.5)
    server = OrchestratorServer(engine)
    await server.start("127.0.0.1", 0)
    running = RunningOrchestrator(server, engine, f"grpc://127.0.0.1:{server.lifecycle_port}")
    running.context = cogment.Context(user_id="tests", cog_settings=sdk_cog_settings, prometheus_registry=None)
    yield running
    await server.stop(grace=0.2)


@dataclass
class SdkServices:
    """An SDK context serving registered implementations on a free port."""

    context: cogment.Context
    task: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"grpc://127.0.0.1:{self.context.served_port}"

    async def serve(self, directory_registration_host: str | None = None) -> str:
        """Serve on a free port (registering to the context's directory at that host, if any)."""
        self.task = asyncio.get_running_loop().create_task(
            self.context.serve_all_registered(
                cogment.ServedEndpoint(port=0), directory_registration_host=directory_registration_host
            )
        )
        for _ in range(500):
            if self.task.done():
                self.task.result()  # raises what stopped the SDK server
            if self.context.served_port and self.context._grpc_server is not None:
                await asyncio.sleep(0.01)
                return self.endpoint
            await asyncio.sleep(0.01)
        raise TimeoutError("the SDK context did not start serving")

    async def stop(self) -> None:
        server = self.context._grpc_server
        if server is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await server.stop(0)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


@pytest.fixture
async def sdk() -> AsyncIterator[Callable[..., SdkServices]]:
    made: list[SdkServices] = []

    def make(**context: Any) -> SdkServices:
        """An SDK context; ``context`` adds ``Context`` arguments (``directory_endpoint=…``)."""
        services = SdkServices(
            cogment.Context(user_id="tests", cog_settings=sdk_cog_settings, prometheus_registry=None, **context)
        )
        made.append(services)
        return services

    yield make
    for services in made:
        await services.stop()
