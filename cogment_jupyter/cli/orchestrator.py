"""``cogment-jupyter services orchestrator``: the upstream ``cogment services orchestrator``
command line (same flags and environment variables), running our orchestrator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cogment_jupyter.access import HOST_HELP, tcp_service_description
from cogment_jupyter.cli.services import add_bool_flag
from cogment_jupyter.directory.client import DirectoryClient, DirectoryError
from cogment_jupyter.directory.registration import SelfRegistration, add_registration_flags
from cogment_jupyter.engine.logs import LOG_LEVELS
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.proto.common_pb2 import TrialParams
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.server import OrchestratorServer

log = logging.getLogger("cogment_jupyter.orchestrator")


#: what ``--help`` says about who can reach the orchestrator
DESCRIPTION = tcp_service_description(
    "The upstream `cogment services orchestrator` command line, running our orchestrator",
    "--lifecycle_port, --actor_port",
    "start, watch and end trials, and join them as a client actor",
)

#: Upstream defaults: when a params file has no ``max_inactivity`` it gets this (seconds).
DEFAULT_MAX_INACTIVITY = 30


def _env(*names: str, default: str | None = None) -> str | None:
    for name in names:
        if (value := os.environ.get(name)) is not None:
            return value
    return default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The upstream flags; each falls back to its upstream environment variable."""
    parser.add_argument(
        "--lifecycle_port",
        type=int,
        default=int(_env("COGMENT_LIFECYCLE_PORT", "TRIAL_LIFECYCLE_PORT", default="9000")),
        help="port of the trial lifecycle service (env COGMENT_LIFECYCLE_PORT, default 9000)",
    )
    parser.add_argument(
        "--actor_port",
        type=int,
        default=int(_env("COGMENT_ACTOR_PORT", "TRIAL_ACTOR_PORT", default="9000")),
        help="port of the client actor service; the same value as --lifecycle_port serves both on "
        "one server (env COGMENT_ACTOR_PORT, default 9000)",
    )
    parser.add_argument(
        "--host",
        default=_env("COGMENT_ORCHESTRATOR_HOST", default="127.0.0.1"),
        help=HOST_HELP,
    )
    parser.add_argument(
        "--params",
        default=_env("COGMENT_DEFAULT_PARAMS_FILE"),
        help="YAML file whose 'trial_params' are the default trial parameters (env COGMENT_DEFAULT_PARAMS_FILE)",
    )
    parser.add_argument(
        "--pre_trial_hooks",
        action="append",
        default=None,
        help="pre-trial hook endpoints, comma separated or repeated (env COGMENT_PRE_TRIAL_HOOKS, space separated)",
    )
    parser.add_argument(
        "--status_file",
        default=_env("COGMENT_STATUS_FILE"),
        help="file (or FIFO) receiving I, R and T as the orchestrator initializes, is ready and terminates",
    )
    parser.add_argument(
        "--gc_frequency",
        type=int,
        default=int(_env("COGMENT_GC_FREQUENCY", default="10")),
        help="number of started trials between garbage collections (env COGMENT_GC_FREQUENCY, default 10)",
    )
    parser.add_argument(
        "--log_level",
        default=_env("COGMENT_LOG_LEVEL", default="info"),
        choices=sorted(LOG_LEVELS),
        help="minimum level of the logs (env COGMENT_LOG_LEVEL, default info)",
    )
    parser.add_argument(
        "--log_file", default=_env("COGMENT_LOG_FILE"), help="write logs to this file instead of stderr"
    )
    # accepted for compatibility with tooling written for the upstream binary
    parser.add_argument(
        "--prometheus_port",
        type=int,
        default=int(_env("COGMENT_ORCHESTRATOR_PROMETHEUS_PORT", default="0")),
        help="accepted for compatibility; metrics are not served (must be 0)",
    )
    add_registration_flags(parser, "ORCHESTRATOR")
    add_bool_flag(
        parser,
        "--directory_auto_register",
        "COGMENT_ORCHESTRATOR_DIRECTORY_AUTO_REGISTER",
        "Whether to register the orchestrator (lifecycle and client actor services) to the directory; "
        "default true when a directory is given",
        default=True,
    )
    for flag, variable in (
        ("--private_key", "COGMENT_PRIVATE_KEY_FILE"),
        ("--root_cert", "COGMENT_ROOT_CERT_FILE"),
        ("--trust_chain", "COGMENT_TRUST_CHAIN_FILE"),
    ):
        parser.add_argument(flag, default=_env(variable), help="TLS is not supported: loopback/plain gRPC only")


def _hooks(values: list[str] | None) -> list[str]:
    if values is None:
        env = _env("COGMENT_PRE_TRIAL_HOOKS")
        return env.split() if env else []
    return [hook.strip() for value in values for hook in value.split(",") if hook.strip()]


def load_params_file(path: str) -> TrialParams:
    """Default params from a YAML file's ``trial_params`` mapping (protobuf JSON field names)."""
    import yaml  # only with --params: an import the orchestrator does not pay otherwise
    from google.protobuf import json_format

    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as error:
        raise SystemExit(f"Cannot read the params file [{path}]: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise SystemExit(f"The params file [{path}] is not valid YAML: {error}") from None
    raw = document.get("trial_params") if isinstance(document, dict) else None
    if raw is None:
        raise SystemExit(f"The params file [{path}] has no 'trial_params' mapping")
    params = TrialParams()
    try:
        json_format.ParseDict(raw, params)
    except json_format.ParseError as error:
        raise SystemExit(f"The params file [{path}] has invalid trial_params: {error}") from None
    if "max_inactivity" not in raw:
        params.max_inactivity = DEFAULT_MAX_INACTIVITY
    return params


@contextlib.contextmanager
def status_file(path: str | None) -> Iterator[IO[str] | None]:
    """I at start, R once listening (written by the caller), T at exit; FIFOs work too."""
    if path is None:
        yield None
        return
    stream = open(path, "w", buffering=1)  # noqa: SIM115 (closed below, even when the reader is gone)
    try:
        stream.write("I")
        stream.flush()
        yield stream
    finally:
        with contextlib.suppress(OSError):  # a FIFO whose reader has gone: nobody to tell
            stream.write("T")
            stream.flush()
        with contextlib.suppress(OSError):
            stream.close()


def _check_unsupported(args: argparse.Namespace) -> None:
    if args.private_key or args.root_cert or args.trust_chain:
        raise SystemExit(
            "TLS is not supported by cogment-jupyter's orchestrator: remove --private_key/--root_cert/--trust_chain"
        )
    if args.prometheus_port:
        raise SystemExit("Prometheus metrics are not served: remove --prometheus_port (or set it to 0)")


def directory_from_args(args: argparse.Namespace) -> DirectoryClient | None:
    """The directory discovery endpoints are resolved with (``--directory_endpoint``), if any."""
    if not args.directory_endpoint:
        return None
    try:
        return DirectoryClient(args.directory_endpoint, args.directory_authentication_token)
    except DirectoryError as error:
        raise SystemExit(f"Directory endpoint error: [{error}]") from None


async def _register_orchestrator(registration: SelfRegistration, host: str, server: OrchestratorServer) -> None:
    """Lifecycle and client-actor services, on their ports (one port: both there)."""
    from cogment_jupyter.proto import directory_pb2

    try:
        await registration.register([directory_pb2.CLIENT_ACTOR_CONNECTION_SERVICE], host, server.actor_port)
        await registration.register([directory_pb2.TRIAL_LIFE_CYCLE_SERVICE], host, server.lifecycle_port)
    except DirectoryError as error:
        await server.stop(grace=0)
        raise SystemExit(f"cannot register the orchestrator to the directory: {error}") from None


async def serve(args: argparse.Namespace) -> None:
    default_params = load_params_file(args.params) if args.params else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    directory = directory_from_args(args)
    with status_file(args.status_file) as status:
        orchestrator = Orchestrator(
            GrpcComponentFactory(directory=directory),
            default_params=default_params,
            pre_trial_hooks=_hooks(args.pre_trial_hooks),
            gc_frequency=args.gc_frequency,
        )
        server = OrchestratorServer(orchestrator)
        try:
            await server.start(args.host, args.lifecycle_port, args.actor_port)
        except OSError as error:
            raise SystemExit(str(error)) from None
        log.info(
            "Orchestrator ready: lifecycle %s:%d, client actors %s:%d",
            args.host,
            server.lifecycle_port,
            args.host,
            server.actor_port,
        )
        registration = SelfRegistration.from_args(args) if args.directory_auto_register else None
        if registration is not None:
            await _register_orchestrator(registration, args.host, server)
        if status is not None:
            status.write("R")
            status.flush()
        await stop.wait()
        log.info("Orchestrator stopping")
        if registration is not None:
            await registration.deregister()
        await server.stop(grace=1.0)


def configure_logging(level: str, log_file: str | None) -> None:
    logging.basicConfig(
        level=LOG_LEVELS[level],
        filename=log_file,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    _check_unsupported(args)
    asyncio.run(serve(args))
    return 0
