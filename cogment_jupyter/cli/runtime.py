"""``cogment-jupyter services runtime``: our orchestrator and datastore in one process.

The process the Jupyter server extension supervises (and that anyone can run by hand): one
orchestrator (``TrialLifecycleSP`` + ``ClientActorSP`` on one endpoint), one datastore
(``DatalogSP`` + ``TrialDatastoreSP``) and one model registry (``ModelRegistrySP``, its models
beside the datastore). Trials whose datalog endpoint is this process's datastore log
in-process (no gRPC between the two). Once all listen it writes a JSON
*runtime file* (``--runtime_file``) saying where, then ``R`` to ``--status_file``; SIGTERM or
SIGINT stop it after committing what was logged, and remove the runtime file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path

from cogment_jupyter.access import LOOPBACK, Reach, target
from cogment_jupyter.cli.orchestrator import (
    LOG_LEVELS,
    configure_logging,
    directory_from_args,
    load_params_file,
    status_file,
)
from cogment_jupyter.datastore.errors import DatastoreError
from cogment_jupyter.datastore.inprocess import InProcessDatalog
from cogment_jupyter.datastore.schema import DEFAULT_DIRECTORY
from cogment_jupyter.datastore.service import DatastoreServer
from cogment_jupyter.datastore.store import TrialStore
from cogment_jupyter.directory.registration import add_directory_flags
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.engine.service_status import version_info
from cogment_jupyter.shared_runtime import pid_alive, write_json_atomically
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.inprocess import InProcessServices
from cogment_jupyter.transport.server import OrchestratorServer

log = logging.getLogger("cogment_jupyter.runtime")

#: how often the process checks that ``--parent_pid`` is still alive
PARENT_POLL = 0.5
#: version of the runtime file's layout; readers ignore files with a newer one
RUNTIME_FILE_FORMAT = 1


#: what ``--help`` says about who can reach the runtime
DESCRIPTION = """\
Our orchestrator, datastore and model registry in one process. By default they listen on Unix
sockets in a directory only this user can enter (see COGMENT_JUPYTER_RUNTIME_DIR): no other user
of this machine can reach them. --host or a port opens TCP instead, reachable by every process
that can reach that host and port (127.0.0.1: every user of this machine)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default=None,
        help="serve over TCP on this interface (127.0.0.1: every local user; 0.0.0.0: other machines too); "
        "default: private Unix sockets",
    )
    parser.add_argument(
        "--orchestrator_port",
        type=int,
        default=None,
        help="serve over TCP: lifecycle and client-actor port (0: a free port); default: private Unix sockets",
    )
    parser.add_argument(
        "--datastore_port",
        type=int,
        default=None,
        help="serve over TCP: datastore port (0: a free port); default: private Unix sockets",
    )
    parser.add_argument(
        "--model_registry_port",
        type=int,
        default=None,
        help="serve over TCP: model registry port (0: a free port); default: private Unix sockets",
    )
    parser.add_argument(
        "--model_registry_dir",
        default=None,
        help="where the model registry keeps models (default: model_registry/ beside the datastore file)",
    )
    add_directory_flags(parser)  # resolves cogment://discover endpoints of trials
    parser.add_argument(
        "--datastore",
        default=os.environ.get("COGMENT_TRIAL_DATASTORE_DIRECTORY", DEFAULT_DIRECTORY),
        help=f"datastore directory or file (default ./{DEFAULT_DIRECTORY}, env COGMENT_TRIAL_DATASTORE_DIRECTORY)",
    )
    parser.add_argument(
        "--runtime_file", default=None, help="JSON file written once ready: pid, endpoints, versions, start time"
    )
    parser.add_argument(
        "--status_file",
        default=os.environ.get("COGMENT_STATUS_FILE"),
        help="file (or FIFO) receiving I, R and T as the runtime initializes, is ready and terminates",
    )
    parser.add_argument(
        "--parent_pid",
        type=int,
        default=None,
        help="exit when this process is gone (the supervising Jupyter server), so a killed server leaves no "
        "orphan; the private sockets are named after it, so a restarted runtime keeps its endpoints",
    )
    parser.add_argument("--params", default=None, help="YAML file whose 'trial_params' are the default trial params")
    parser.add_argument("--gc_frequency", type=int, default=10, help="started trials between garbage collections")
    parser.add_argument(
        "--log_level",
        default=os.environ.get("COGMENT_LOG_LEVEL", "info"),
        choices=sorted(LOG_LEVELS),
        help="minimum level of the logs (env COGMENT_LOG_LEVEL, default info)",
    )
    parser.add_argument("--log_file", default=None, help="write logs to this file instead of stderr")


def versions() -> dict[str, str]:
    """What the orchestrator's ``Version`` answers, as a mapping."""
    return {v.name: v.version for v in version_info().versions}


def reach(args: argparse.Namespace) -> Reach:
    """TCP when a host or a port was asked for, else private Unix sockets."""
    ports = (args.orchestrator_port, args.datastore_port, args.model_registry_port)
    tcp = args.host is not None or any(port is not None for port in ports)
    return Reach(args.host or LOOPBACK) if tcp else Reach()


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        if os.getppid() != parent_pid and not pid_alive(parent_pid):
            log.warning("The supervising process %d is gone: stopping", parent_pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_POLL)


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime_file = Path(args.runtime_file).absolute() if args.runtime_file else None
    default_params = load_params_file(args.params) if args.params else None
    with status_file(args.status_file) as status:
        try:
            store = TrialStore.open(args.datastore)
        except DatastoreError as error:  # an unusable directory: say which, exit non-zero
            raise SystemExit(f"cogment-jupyter runtime: {error}") from None
        where = reach(args)
        try:
            datastore_address = where.address("runtime-datastore", args.datastore_port or 0, owner=args.parent_pid)
            registry_address = where.address(
                "runtime-model_registry", args.model_registry_port or 0, owner=args.parent_pid
            )
        except OSError as error:  # no private directory: say why, exit non-zero
            store.close()
            raise SystemExit(f"cogment-jupyter runtime: {error}") from None
        datastore = DatastoreServer(store, address=datastore_address)
        from cogment_jupyter.model_registry.infos import RegistryError
        from cogment_jupyter.model_registry.service import ModelRegistryServer

        try:
            registry = ModelRegistryServer(
                args.model_registry_dir or store.file.parent / "model_registry", address=registry_address
            )
            directory = directory_from_args(args)
        except (RegistryError, SystemExit) as error:
            store.close()
            raise SystemExit(f"cogment-jupyter runtime: {error}") from None
        factory = GrpcComponentFactory(directory=directory)
        orchestrator = Orchestrator(factory, default_params=default_params, gc_frequency=args.gc_frequency)
        server = OrchestratorServer(orchestrator)
        try:
            await datastore.start()
            # trials logging to our own datastore skip gRPC (localhost:PORT is matched too)
            factory.local[target(datastore.endpoint)] = InProcessServices(
                datalog_factory=lambda _trial_id: InProcessDatalog(store)
            )
            address = where.address("runtime-orchestrator", args.orchestrator_port or 0, owner=args.parent_pid)
            await server.start(address=address)
            await registry.start()
        except (OSError, DatastoreError) as error:  # a port in use: say which, exit non-zero
            await server.stop(0)
            await datastore.stop(0)
            store.close()
            raise SystemExit(f"cogment-jupyter runtime: {error}") from None
        document = {
            "format": RUNTIME_FILE_FORMAT,
            "pid": os.getpid(),
            "orchestrator": server.endpoint,
            "datastore": datastore.endpoint,
            "datastore_dir": str(store.file.parent),
            "datastore_file": str(store.file),
            "model_registry": registry.endpoint,
            "model_registry_dir": str(registry.store.root),
            "versions": versions(),
            "started_at": time.time(),
        }
        try:
            if runtime_file is not None:
                write_json_atomically(runtime_file, document)
            log.info(
                "Runtime ready: orchestrator %s, datastore %s, model registry %s",
                document["orchestrator"],
                document["datastore"],
                document["model_registry"],
            )
            if status is not None:
                status.write("R")
                status.flush()
            watcher = asyncio.create_task(_watch_parent(args.parent_pid, stop)) if args.parent_pid else None
            await stop.wait()
            if watcher is not None:
                watcher.cancel()
            log.info("Runtime stopping")
        finally:
            if runtime_file is not None:
                with contextlib.suppress(OSError, ValueError):
                    if json.loads(runtime_file.read_text()).get("pid") == os.getpid():
                        runtime_file.unlink()
            await server.stop(grace=1.0)
            await registry.stop(grace=1.0)
            await factory.close()
            await datastore.stop(grace=1.0)
            store.close()


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    asyncio.run(serve(args))
    return 0
