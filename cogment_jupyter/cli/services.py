"""What the service command lines share: upstream-style flags read from the environment, and
gRPC reflection (``--grpc_reflection``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from typing import Any


def env_bool(value: str | bool | None) -> bool:
    """A command-line or environment boolean as upstream's viper reads them (``true``/``1``/``yes``)."""
    if isinstance(value, bool):
        return value
    text = (value or "").strip().lower()
    if text in ("1", "t", "true", "yes", "on"):
        return True
    if text in ("", "0", "f", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def add_bool_flag(parser: argparse.ArgumentParser, flag: str, env: str, help: str, default: bool = False) -> None:
    """``--flag`` or ``--flag=false``, defaulting to the environment variable ``env`` (else ``default``)."""
    value = os.environ.get(env)
    parser.add_argument(
        flag,
        nargs="?",
        const=True,
        type=env_bool,
        default=default if value is None else env_bool(value),
        help=f"{help} (env {env})",
    )


def env_int(name: str, default: int) -> int:
    """An integer environment variable; a clear exit when it is not one."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None


def enable_reflection(server: Any, *service_names: str) -> None:
    """gRPC server reflection for ``service_names`` (needs ``grpcio-reflection``)."""
    try:
        from grpc_reflection.v1alpha import reflection
    except ImportError:
        raise SystemExit("--grpc_reflection needs grpcio-reflection: pip install grpcio-reflection") from None
    reflection.enable_server_reflection((*service_names, reflection.SERVICE_NAME), server)


async def until_signalled() -> None:
    """Return on SIGTERM or SIGINT (how every service is asked to stop)."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run_service(serve: Callable[[], Awaitable[int]], log_level: str) -> int:
    """Log at ``log_level`` (an upstream level name) and run ``serve`` to its exit code."""
    import asyncio
    import logging

    from cogment_jupyter.engine.logs import LOG_LEVELS

    logging.basicConfig(level=LOG_LEVELS[log_level], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve())
