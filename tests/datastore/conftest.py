"""Fixtures: a datastore in a temp dir, a real gRPC server on a free 127.0.0.1 port, the SDK client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import cogment
import pytest

from cogment_jupyter.datastore import Datastore, DatastoreServer, TrialStore

logging.getLogger("cogment").addHandler(logging.NullHandler())


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def datastore(store_dir: Path) -> Iterator[Datastore]:
    ds = Datastore(store_dir)
    yield ds
    ds.close()


@pytest.fixture
async def server(store_dir: Path) -> AsyncIterator[DatastoreServer]:
    store = TrialStore.open(store_dir)
    srv = DatastoreServer(store, "127.0.0.1", 0)
    await srv.start()
    yield srv
    await srv.stop(grace=0.2)
    store.close()


@pytest.fixture
async def sdk(server: DatastoreServer):
    """The official SDK's ``Datastore`` client pointed at our server."""
    context = cogment.Context(user_id="tests", cog_settings=None)
    return context.get_datastore(cogment.Endpoint(server.endpoint))
