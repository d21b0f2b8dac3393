"""``cogment-jupyter services trial_datastore``: the datastore as a standalone gRPC service.

Flags follow upstream ``cogment services trial_datastore`` where they apply (``--port``,
``COGMENT_TRIAL_DATASTORE_PORT``, ``--file_storage``, ``--log_level``); storage is always
persistent here. Binds 127.0.0.1 unless ``--host`` says otherwise. SIGTERM/SIGINT stop it
after committing what it received.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from cogment_jupyter.access import HOST_HELP, tcp_service_description
from cogment_jupyter.datastore.errors import DatastoreError
from cogment_jupyter.datastore.schema import DEFAULT_DIRECTORY, resolve_file
from cogment_jupyter.datastore.service import DatastoreServer
from cogment_jupyter.datastore.store import TrialStore
from cogment_jupyter.directory.registration import SelfRegistration, add_registration_flags
from cogment_jupyter.engine.logs import LOG_LEVELS

DEFAULT_PORT = 9003
#: what ``--help`` says about who can reach the datastore
DESCRIPTION = tcp_service_description(
    "The datastore as a standalone gRPC service, with the flags of upstream `cogment services trial_datastore`",
    "--port",
    "read, add and delete trials",
)
_LEVELS = LOG_LEVELS


def _env_port() -> int:
    raw = os.environ.get("COGMENT_TRIAL_DATASTORE_PORT")
    if not raw:
        return DEFAULT_PORT
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"COGMENT_TRIAL_DATASTORE_PORT={raw!r} is not a port number; set it to e.g. 9003") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port to listen on (env COGMENT_TRIAL_DATASTORE_PORT, default {DEFAULT_PORT}; 0 = any free port)",
    )
    parser.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    location = parser.add_mutually_exclusive_group()
    location.add_argument(
        "--directory",
        default=None,
        help=f"datastore directory (default ./{DEFAULT_DIRECTORY}, env COGMENT_TRIAL_DATASTORE_DIRECTORY)",
    )
    location.add_argument(
        "--file_storage",
        "--file-storage",
        dest="file_storage",
        default=None,
        help="datastore file path, as upstream's flag (env COGMENT_TRIAL_DATASTORE_FILE_STORAGE)",
    )
    parser.add_argument(
        "--log_level",
        "--log-level",
        dest="log_level",
        default=os.environ.get("COGMENT_LOG_LEVEL", "info"),
        choices=sorted(_LEVELS),
        help="log verbosity (env COGMENT_LOG_LEVEL, default info)",
    )
    add_registration_flags(parser, "TRIAL_DATASTORE")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit code."""
    level = _LEVELS.get(str(args.log_level).lower(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = args.port if args.port is not None else _env_port()
    if args.file_storage or args.directory:
        file = resolve_file(args.file_storage or args.directory, is_file=bool(args.file_storage))
    elif os.environ.get("COGMENT_TRIAL_DATASTORE_FILE_STORAGE"):
        file = resolve_file(os.environ["COGMENT_TRIAL_DATASTORE_FILE_STORAGE"], is_file=True)
    else:
        file = resolve_file(os.environ.get("COGMENT_TRIAL_DATASTORE_DIRECTORY") or DEFAULT_DIRECTORY, is_file=False)
    try:
        return asyncio.run(_serve(file, args.host, port, SelfRegistration.from_args(args)))
    except DatastoreError as exc:
        print(f"trial_datastore: {exc}", file=sys.stderr)
        return 1


async def _serve(file: Path, host: str, port: int, registration: SelfRegistration) -> int:
    from cogment_jupyter.directory.client import DirectoryError
    from cogment_jupyter.proto import directory_pb2

    store = TrialStore.open(file, is_file=True)
    server = DatastoreServer(store, host, port)
    await server.start()
    try:  # found by cogment://discover/datalog and /datastore, as upstream's
        await registration.register([directory_pb2.DATASTORE_SERVICE, directory_pb2.DATALOG_SERVICE], host, server.port)
    except DirectoryError as error:
        await server.stop(0)
        store.close()
        raise SystemExit(f"trial_datastore: cannot register to the directory: {error}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"trial_datastore ready: {server.endpoint} ({store.file})", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await registration.deregister()
        await server.stop(grace=1.0)
        store.close()
    logging.getLogger(__name__).info("trial datastore stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run without the top-level CLI: ``python -m cogment_jupyter.cli.trial_datastore``."""
    parser = argparse.ArgumentParser(
        prog="trial_datastore", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
