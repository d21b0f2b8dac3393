"""CLI flags and server start-up errors (the service itself runs in test_processes.py)."""

from __future__ import annotations

import argparse

import pytest

from cogment_jupyter.cli import trial_datastore as cli
from cogment_jupyter.datastore import DatastoreError, DatastoreServer

pytestmark = pytest.mark.timeout(30)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_and_defaults(monkeypatch):
    monkeypatch.delenv("COGMENT_TRIAL_DATASTORE_PORT", raising=False)
    args = parse()
    assert (args.port, args.host, args.directory, args.file_storage) == (None, "127.0.0.1", None, None)
    assert cli._env_port() == 9003
    monkeypatch.setenv("COGMENT_TRIAL_DATASTORE_PORT", "9111")
    assert cli._env_port() == 9111
    monkeypatch.setenv("COGMENT_TRIAL_DATASTORE_PORT", "nine")
    with pytest.raises(SystemExit, match="not a port number"):
        cli._env_port()
    args = parse("--port", "0", "--file_storage", "x.db", "--log_level", "debug")
    assert (args.port, args.file_storage, args.log_level) == (0, "x.db", "debug")
    with pytest.raises(SystemExit):
        parse("--directory", "a", "--file_storage", "b")


async def test_port_in_use_is_a_clear_error(server):
    other = DatastoreServer(server.store, "127.0.0.1", server.port)
    with pytest.raises(DatastoreError, match=r"in use.*--port"):
        await other.start()
