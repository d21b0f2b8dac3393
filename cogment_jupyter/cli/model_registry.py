"""``cogment-jupyter services model_registry``: the upstream ``cogment services model_registry``
command line (same flags and environment variables), running our registry.

Binds 127.0.0.1 unless ``--host`` says otherwise. With ``--directory_endpoint`` it registers
itself there as a ``MODEL_REGISTRY_SERVICE`` (``cogment://discover/modelregistry`` finds it).
"""

from __future__ import annotations

import argparse
import logging
import os

from cogment_jupyter.access import HOST_HELP, tcp_service_description
from cogment_jupyter.cli.services import add_bool_flag, enable_reflection, env_int, run_service, until_signalled
from cogment_jupyter.directory.registration import SelfRegistration, add_registration_flags
from cogment_jupyter.engine.logs import LOG_LEVELS
from cogment_jupyter.model_registry import (
    DEFAULT_ARCHIVE_DIR,
    DEFAULT_CACHE_MAX_ITEMS,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_PORT,
)

log = logging.getLogger("cogment_jupyter.model_registry")


#: what ``--help`` says about who can reach it
DESCRIPTION = tcp_service_description(
    "The upstream `cogment services model_registry` command line, running our model registry",
    "--port",
    "publish, read and delete models",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=env_int("COGMENT_MODEL_REGISTRY_PORT", DEFAULT_PORT),
        help=f"The port to listen on (env COGMENT_MODEL_REGISTRY_PORT, default {DEFAULT_PORT}; 0: a free port)",
    )
    parser.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    add_bool_flag(
        parser, "--grpc_reflection", "COGMENT_MODEL_REGISTRY_GRPC_REFLECTION", "Start the gRPC reflection server"
    )
    parser.add_argument(
        "--archive_dir",
        default=os.environ.get("COGMENT_MODEL_REGISTRY_ARCHIVE_DIR", DEFAULT_ARCHIVE_DIR),
        help="The directory to store model archives (created if missing; "
        f"env COGMENT_MODEL_REGISTRY_ARCHIVE_DIR, default {DEFAULT_ARCHIVE_DIR})",
    )
    parser.add_argument(
        "--cache_max_items",
        type=int,
        default=env_int("COGMENT_MODEL_REGISTRY_VERSION_CACHE_MAX_ITEMS", DEFAULT_CACHE_MAX_ITEMS),
        help="Maximum number of published (not stored) iterations kept before the oldest are dropped "
        f"(env COGMENT_MODEL_REGISTRY_VERSION_CACHE_MAX_ITEMS, default {DEFAULT_CACHE_MAX_ITEMS})",
    )
    parser.add_argument(
        "--sent_version_chunk_size",
        type=int,
        default=env_int("COGMENT_MODEL_REGISTRY_SENT_MODEL_VERSION_DATA_CHUNK_SIZE", DEFAULT_CHUNK_SIZE),
        help="The size of the model version data chunk sent by the server, in bytes "
        f"(env COGMENT_MODEL_REGISTRY_SENT_MODEL_VERSION_DATA_CHUNK_SIZE, default {DEFAULT_CHUNK_SIZE})",
    )
    add_registration_flags(parser, "MODEL_REGISTRY")
    parser.add_argument(
        "--log_level",
        default=os.environ.get("COGMENT_LOG_LEVEL", "info"),
        choices=sorted(LOG_LEVELS),
        help="minimum level of the logs (env COGMENT_LOG_LEVEL, default info)",
    )


async def serve(args: argparse.Namespace) -> int:
    from cogment_jupyter.directory.client import DirectoryError
    from cogment_jupyter.model_registry.infos import RegistryError
    from cogment_jupyter.model_registry.service import ModelRegistryServer
    from cogment_jupyter.proto import directory_pb2

    if args.sent_version_chunk_size <= 0:
        raise SystemExit("--sent_version_chunk_size must be > 0 bytes")
    try:
        server = ModelRegistryServer(
            args.archive_dir,
            args.host,
            args.port,
            cache_max_items=args.cache_max_items,
            chunk_size=args.sent_version_chunk_size,
        )
        reflection = (lambda s: enable_reflection(s, "cogmentAPI.ModelRegistrySP")) if args.grpc_reflection else None
        await server.start(on_server=reflection)
    except (OSError, RegistryError) as error:
        raise SystemExit(f"model_registry: {error}") from None
    registration = SelfRegistration.from_args(args)
    try:
        await registration.register([directory_pb2.MODEL_REGISTRY_SERVICE], args.host, server.port)
    except DirectoryError as error:
        await server.stop(0)
        raise SystemExit(f"model_registry: cannot register to the directory: {error}") from None
    print(f"model_registry ready: {server.endpoint} ({server.store.root})", flush=True)
    log.info("server listening on %s:%d, archive %s", args.host, server.port, server.store.root)
    await until_signalled()
    log.info("gracefully stopping the server")
    await registration.deregister()
    await server.stop(grace=5.0)
    return 0


def run(args: argparse.Namespace) -> int:
    return run_service(lambda: serve(args), args.log_level)
