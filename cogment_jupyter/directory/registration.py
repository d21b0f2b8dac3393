"""A service registering itself to a directory, with the upstream command-line flags.

Every upstream service takes ``--directory_endpoint`` (``COGMENT_DIRECTORY_ENDPOINT``),
``--directory_authentication_token`` (``COGMENT_DIRECTORY_AUTHENTICATION_TOKEN``),
``--directory_registration_host`` and ``--directory_registration_properties`` (``k=v,k2=v2``;
environment ``COGMENT_<SERVICE>_DIRECTORY_REGISTRATION_HOST`` / ``…_PROPERTIES``). The service
registers once it listens and deregisters when it stops. Without a registration host it
registers the address it is reachable at: 127.0.0.1 when it binds loopback (our default),
this machine's outbound address when it binds every interface.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from cogment_jupyter import __version__
from cogment_jupyter.directory.client import ENDPOINT_ENV, TOKEN_ENV, DirectoryClient, Registrations

REGISTRATION_SOURCE_PROPERTY = "__registration_source"
VERSION_PROPERTY = "__version"


def parse_properties(text: str | None) -> dict[str, str]:
    """``a=1,b=2`` -> ``{"a": "1", "b": "2"}`` (upstream ``utils.ParseProperties``)."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, separator, value = part.partition("=")
        if not separator or not name.strip():
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE pairs separated by commas, got {part!r} in {text!r}")
        out[name.strip()] = value.strip()
    return out


def add_directory_flags(parser: argparse.ArgumentParser) -> None:
    """``--directory_endpoint`` and ``--directory_authentication_token`` (and their environment)."""
    parser.add_argument(
        "--directory_endpoint",
        default=os.environ.get(ENDPOINT_ENV) or None,
        help=f"Directory service gRPC endpoint, grpc://HOST:PORT (env {ENDPOINT_ENV})",
    )
    parser.add_argument(
        "--directory_authentication_token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"Authentication token for directory services (env {TOKEN_ENV})",
    )


def add_registration_flags(parser: argparse.ArgumentParser, service: str) -> None:
    """The upstream ``PopulateDirectoryRegistrationOptionsFlags``; ``service`` as ``MODEL_REGISTRY``."""
    add_directory_flags(parser)
    host_env = f"COGMENT_{service}_DIRECTORY_REGISTRATION_HOST"
    parser.add_argument(
        "--directory_registration_host",
        default=os.environ.get(host_env) or None,
        help=f"Host to register in the directory (default: the address this service is reachable at; env {host_env})",
    )
    properties_env = f"COGMENT_{service}_DIRECTORY_REGISTRATION_PROPERTIES"
    parser.add_argument(
        "--directory_registration_properties",
        type=parse_properties,
        default=parse_properties(os.environ.get(properties_env)),
        help=f"Properties to register in the directory, NAME=VALUE,… (env {properties_env})",
    )


def outbound_address() -> str:
    """This machine's address as others see it (no packet is sent), 127.0.0.1 without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def registration_host(bound_host: str, explicit: str | None) -> str:
    if explicit:
        return explicit
    if bound_host in ("0.0.0.0", "", "::", "[::]"):
        return outbound_address()
    return bound_host


@dataclass
class SelfRegistration:
    """What a service puts in the directory about itself, from its registration flags."""

    client: DirectoryClient | None
    host: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    _registrations: Registrations | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SelfRegistration:
        endpoint = args.directory_endpoint
        client = DirectoryClient(endpoint, args.directory_authentication_token) if endpoint else None
        return cls(client, args.directory_registration_host, dict(args.directory_registration_properties or {}))

    async def register(self, service_types: list[int], bound_host: str, port: int) -> None:
        if self.client is None:
            return
        properties = dict(self.properties)
        properties[REGISTRATION_SOURCE_PROPERTY] = "Self-Command_Line" if self.host else "Self-Implicit"
        properties[VERSION_PROPERTY] = __version__
        if self._registrations is None:
            self._registrations = Registrations(self.client)
        host = registration_host(bound_host, self.host)
        for service_type in service_types:
            await self._registrations.add("self", service_type, host, port, properties)

    async def deregister(self) -> None:
        if self._registrations is not None:
            await self._registrations.remove_all()
        if self.client is not None:
            await self.client.close()
