"""Binding a gRPC server to its port, with the error a person can act on."""

from __future__ import annotations

import grpc


def bind(server: grpc.aio.Server, host: str, port: int) -> int:
    """Listen on ``host:port`` (0: a free port); the port bound, or ``OSError`` saying why not."""
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:  # what recent grpcio raises where older ones returned 0
        bound = 0
    if bound == 0:
        raise OSError(f"Cannot listen on {host}:{port}: the port is in use or the host is not local")
    return bound
