"""``cogment-jupyter services directory``: the upstream ``cogment services directory`` command
line (same flags and environment variables), running our directory.

Binds 127.0.0.1 unless ``--host`` says otherwise. ``--health_check_period`` is ours: upstream
checks every entry each minute and it cannot be changed there.
"""

from __future__ import annotations

import argparse
import logging
import os

from cogment_jupyter.access import HOST_HELP, tcp_service_description
from cogment_jupyter.cli.services import add_bool_flag, enable_reflection, env_int, run_service, until_signalled
from cogment_jupyter.directory import DEFAULT_PORT
from cogment_jupyter.engine.logs import LOG_LEVELS

log = logging.getLogger("cogment_jupyter.directory")

DEFAULT_PERSISTENCE_FILE = ".cogment-directory-data"


#: what ``--help`` says about who can reach it
DESCRIPTION = tcp_service_description(
    "The upstream `cogment services directory` command line, running our directory",
    "--port",
    "register, find and remove services",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=env_int("COGMENT_DIRECTORY_PORT", DEFAULT_PORT),
        help=f"The port to listen on (env COGMENT_DIRECTORY_PORT, default {DEFAULT_PORT}; 0: a free port)",
    )
    parser.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    add_bool_flag(parser, "--grpc_reflection", "COGMENT_DIRECTORY_GRPC_REFLECTION", "Start the gRPC reflection server")
    parser.add_argument(
        "--registration_lag",
        type=int,
        default=env_int("COGMENT_DIRECTORY_REGISTRATION_LAG", 0),
        help="Acceptable lag for services registration before they are declared not found in the directory "
        "(seconds; env COGMENT_DIRECTORY_REGISTRATION_LAG, default 0)",
    )
    parser.add_argument(
        "--persistence_file",
        default=os.environ.get("COGMENT_DIRECTORY_PERSISTENCE_FILE", DEFAULT_PERSISTENCE_FILE),
        help="Filename where to store persistence data; empty: none "
        f"(env COGMENT_DIRECTORY_PERSISTENCE_FILE, default {DEFAULT_PERSISTENCE_FILE})",
    )
    add_bool_flag(parser, "--load_balancing", "COGMENT_DIRECTORY_LOAD_BALANCING", "Enable load balancing")
    add_bool_flag(
        parser,
        "--check_on_inquire",
        "COGMENT_DIRECTORY_CHECK_ON_INQUIRE",
        "Check health and status when an inquiry is made",
    )
    add_bool_flag(
        parser,
        "--force_permanent",
        "COGMENT_DIRECTORY_FORCE_PERMANENT",
        "Force all entries to be 'permanent' (no health checks, no duplicates)",
    )
    parser.add_argument(
        "--health_check_period",
        type=float,
        default=60.0,
        help="seconds between two health checks of an entry; 3 failures in a row remove it (default 60, as upstream)",
    )
    parser.add_argument(
        "--log_level",
        default=os.environ.get("COGMENT_LOG_LEVEL", "info"),
        choices=sorted(LOG_LEVELS),
        help="minimum level of the logs (env COGMENT_LOG_LEVEL, default info)",
    )


def _reflection(server: object) -> None:
    enable_reflection(server, "cogmentAPI.DirectorySP")


async def serve(args: argparse.Namespace) -> int:
    from cogment_jupyter.directory.service import DirectoryOptions, DirectoryServer

    if args.health_check_period <= 0:
        raise SystemExit("--health_check_period must be > 0 seconds")
    options = DirectoryOptions(
        registration_lag=max(0, args.registration_lag),
        load_balancing=args.load_balancing,
        check_on_inquire=args.check_on_inquire,
        force_permanent=args.force_permanent,
        check_period=args.health_check_period,
        scan_period=min(5.0, args.health_check_period),
    )
    server = DirectoryServer(args.persistence_file or None, options, args.host, args.port)
    try:
        await server.start(on_server=_reflection if args.grpc_reflection else None)
    except OSError as error:
        raise SystemExit(f"directory: {error}") from None
    print(f"directory ready: {server.endpoint} ({len(server.table)} entries)", flush=True)
    log.info("Listening on %s:%d", args.host, server.port)
    await until_signalled()
    log.info("Closing")
    await server.stop(grace=1.0)
    return 0


def run(args: argparse.Namespace) -> int:
    return run_service(lambda: serve(args), args.log_level)
