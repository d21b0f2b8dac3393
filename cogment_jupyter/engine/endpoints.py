"""Parsing of Cogment endpoint strings (``grpc://``, ``cogment://client``, discovery).

Follows the upstream orchestrator's ``endpoint.cpp``: scheme, host and path are case-insensitive,
surrounding whitespace is trimmed, inner whitespace is an error, and a discovery query is a list
of ``name=value`` pairs split on ``&`` and ``=`` (no URL decoding), names and values kept as
written.

Besides ``grpc://HOST:PORT``, ``grpc://unix:PATH`` names a Unix domain socket (the private
endpoints of a lab, see ``cogment_jupyter.access``). The path is written percent-encoded
(``grpc://unix:%2Ftmp%2Fx.sock``) so that the whole target is the URL's host part: the official
SDK dials ``urlparse(endpoint).netloc``, which gRPC decodes back to the path.
"""

from __future__ import annotations

import functools
import urllib.parse
from dataclasses import dataclass
from enum import Enum

from cogment_jupyter.engine.errors import OrchestratorError


class EndpointKind(Enum):
    GRPC = "grpc"
    CLIENT = "client"
    DISCOVER = "discover"


#: the query properties the orchestrator adds for discovery by role, and the special ones
ACTOR_CLASS_PROPERTY = "__actor_class"
IMPLEMENTATION_PROPERTY = "__implementation"
SERVICE_ID_PROPERTY = "__id"
AUTHENTICATION_TOKEN_PROPERTY = "__authentication-token"


@dataclass(frozen=True, slots=True)
class ParsedEndpoint:
    kind: EndpointKind
    address: str = ""  # host:port for GRPC, or unix:/absolute/path (a gRPC target either way)
    #: the discovery path as written (lower case), "" for a context endpoint (path implied by the role)
    path: str = ""
    query: tuple[tuple[str, str], ...] = ()
    original: str = ""

    @property
    def is_context(self) -> bool:
        """``""``, ``cogment://discover`` or ``cogment://discover?…``: the role says what to find."""
        return self.kind is EndpointKind.DISCOVER and not self.path


def parse_query(text: str) -> tuple[tuple[str, str], ...]:
    """``a=1&b`` -> ``(("a", "1"), ("b", ""))``, as upstream's ``parse_properties``."""
    pairs = []
    for part in text.split("&") if text else ():
        name, _, value = part.partition("=")
        pairs.append((name, value))
    return tuple(pairs)


@functools.lru_cache(maxsize=512)  # every trial parses the same few endpoints
def parse_endpoint(value: str, *, role: str) -> ParsedEndpoint:
    """Parse an endpoint as the upstream orchestrator does; ``role`` is actor/environment/datalog/prehook."""
    text = value.strip()
    if any(c.isspace() for c in text):
        raise OrchestratorError(f"Invalid endpoint [{value}]: it must not contain spaces")
    lowered = text.lower()
    if lowered == "client":
        if role != "actor":
            raise OrchestratorError(f"Invalid endpoint [{value}]: only actors can be client actors")
        return ParsedEndpoint(EndpointKind.CLIENT, original=text)
    if lowered == "":
        return ParsedEndpoint(EndpointKind.DISCOVER, original=text)
    if lowered.startswith("cogment://"):
        rest = text[len("cogment://") :]
        host, separator, tail = _split_host(rest)
        if host.lower() == "client":
            if tail or separator:
                raise OrchestratorError(
                    f"Invalid client actor special endpoint (should not have a path): [{value}]; use 'cogment://client'"
                )
            if role != "actor":
                raise OrchestratorError(f"Invalid endpoint [{value}]: only actors can be client actors")
            return ParsedEndpoint(EndpointKind.CLIENT, original=text)
        if host.lower() != "discover":
            raise OrchestratorError(
                f"Unknown endpoint host (must be 'discover' or 'client'): [{value}], "
                "e.g. 'cogment://discover/actor?__implementation=NAME'"
            )
        if separator == "?":
            return ParsedEndpoint(EndpointKind.DISCOVER, query=parse_query(tail), original=text)
        path, _, query = tail.partition("?")
        return ParsedEndpoint(EndpointKind.DISCOVER, path=path.lower(), query=parse_query(query), original=text)
    if lowered.startswith("grpc://"):
        address = text[len("grpc://") :]
        if address[:5].lower() == "unix:":
            return ParsedEndpoint(EndpointKind.GRPC, address=_unix_address(address[5:], value), original=text)
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise OrchestratorError(
                f"Invalid endpoint [{value}]: expected 'grpc://HOST:PORT', e.g. 'grpc://127.0.0.1:9001'"
            )
        return ParsedEndpoint(EndpointKind.GRPC, address=address, original=text)
    raise OrchestratorError(
        f"Invalid endpoint [{value}]: Unknown endpoint scheme (must be 'grpc' or 'cogment'), "
        "e.g. 'grpc://127.0.0.1:9001', 'cogment://client' or 'cogment://discover'"
    )


def _split_host(rest: str) -> tuple[str, str, str]:
    """``discover/actor?x`` -> ``("discover", "/", "actor?x")``; the separator is ``/``, ``?`` or ``""``."""
    for index, char in enumerate(rest):
        if char in "/?":
            return rest[:index], char, rest[index + 1 :]
    return rest, "", ""


def unix_endpoint(path: str) -> str:
    """The Cogment endpoint of a Unix domain socket (see the module docstring)."""
    return "grpc://unix:" + urllib.parse.quote(str(path), safe="")


def _unix_address(path: str, value: str) -> str:
    decoded = urllib.parse.unquote(path)
    if not decoded.startswith("/"):
        raise OrchestratorError(
            f"Invalid endpoint [{value}]: a Unix socket endpoint needs an absolute path, "
            "e.g. 'grpc://unix:%2Frun%2Fuser%2F1000%2Fcogment.sock'"
        )
    return "unix:" + decoded
