"""Parsing of Cogment endpoint strings (``grpc://``, ``cogment://client``, discovery)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum

from cogment_jupyter.engine.errors import OrchestratorError


class EndpointKind(Enum):
    GRPC = "grpc"
    CLIENT = "client"
    DISCOVER = "discover"


@dataclass(frozen=True, slots=True)
class ParsedEndpoint:
    kind: EndpointKind
    address: str = ""  # host:port for GRPC
    path: str = ""  # discovery path
    query: str = ""


_DISCOVERY_PATHS = {"actor", "environment", "datalog", "prehook", "service"}


@functools.lru_cache(maxsize=512)  # every trial parses the same few endpoints
def parse_endpoint(value: str, *, role: str) -> ParsedEndpoint:
    """Parse an endpoint as the upstream orchestrator does; ``role`` is actor/environment/datalog/prehook."""
    text = value.strip()
    if " " in text or "\t" in text:
        raise OrchestratorError(f"Invalid endpoint [{value}]: it must not contain spaces")
    lowered = text.lower()
    if lowered == "client":
        if role != "actor":
            raise OrchestratorError(f"Invalid endpoint [{value}]: only actors can be client actors")
        return ParsedEndpoint(EndpointKind.CLIENT)
    if lowered == "" or lowered.startswith("cogment://discover"):
        rest = text[len("cogment://discover") :] if lowered else ""
        path, _, query = rest.partition("?")
        path = path.strip("/").lower()
        if path and path not in _DISCOVERY_PATHS:
            raise OrchestratorError(f"Invalid discovery endpoint [{value}]: unknown path [{path}]")
        return ParsedEndpoint(EndpointKind.DISCOVER, path=path or role, query=query)
    if lowered.startswith("cogment://client"):
        if lowered != "cogment://client":
            raise OrchestratorError(f"Invalid client endpoint [{value}]: no path may follow 'cogment://client'")
        if role != "actor":
            raise OrchestratorError(f"Invalid endpoint [{value}]: only actors can be client actors")
        return ParsedEndpoint(EndpointKind.CLIENT)
    if lowered.startswith("grpc://"):
        address = text[len("grpc://") :]
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise OrchestratorError(
                f"Invalid endpoint [{value}]: expected 'grpc://HOST:PORT', e.g. 'grpc://127.0.0.1:9001'"
            )
        return ParsedEndpoint(EndpointKind.GRPC, address=address)
    raise OrchestratorError(
        f"Invalid endpoint [{value}]: Unknown endpoint scheme (must be 'grpc' or 'cogment'), "
        "e.g. 'grpc://127.0.0.1:9001' or 'cogment://client'"
    )
