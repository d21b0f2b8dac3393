"""Discovery endpoints resolved through a directory, as the upstream orchestrator does
(``directory.cpp``, ``trial.cpp``): what to ask, and what the first answer means.

A context endpoint (``""``, ``cogment://discover``, ``cogment://discover?k=v``) asks for the role's
service type with the role's properties added: ``__actor_class`` and, when set,
``__implementation`` for an actor; ``__implementation`` for an environment. A path
(``cogment://discover/actor?…``) asks for that type with the query's properties only.
``cogment://discover/service?__id=N`` asks for one registration. ``__authentication-token`` in a
query is sent as the directory token instead of a property.
"""

from __future__ import annotations

from dataclasses import dataclass

from cogment_jupyter.engine.endpoints import (
    ACTOR_CLASS_PROPERTY,
    AUTHENTICATION_TOKEN_PROPERTY,
    IMPLEMENTATION_PROPERTY,
    SERVICE_ID_PROPERTY,
    EndpointKind,
    ParsedEndpoint,
)
from cogment_jupyter.engine.errors import OrchestratorError
from cogment_jupyter.proto import directory_pb2

CLIENT_ADDRESS = "client"

PATH_TYPES = {
    "actor": directory_pb2.ACTOR_SERVICE,
    "environment": directory_pb2.ENVIRONMENT_SERVICE,
    "datalog": directory_pb2.DATALOG_SERVICE,
    "prehook": directory_pb2.PRE_HOOK_SERVICE,
}
#: paths the orchestrator never connects to, and why not
REFUSED_PATHS = {
    "lifecycle": "The orchestrator does not connect to 'lifecycle' services",
    "actservice": "The orchestrator does not connect to 'actservice' services",
    "datastore": "The orchestrator does not connect to 'datastore' services",
    "modelregistry": "The orchestrator does not connect to 'modelregistry' services",
    "directory": "The orchestrator cannot request another directory",
}
#: characters a class or implementation name may not hold when it becomes a query property
INVALID_CHARACTERS = set("%?&=;:/+,#@[]")


@dataclass(frozen=True)
class Inquiry:
    request: directory_pb2.InquireRequest
    token: str | None  # None: the directory client's own token


def inquiry_for(parsed: ParsedEndpoint, role: str, actor_class: str = "", implementation: str = "") -> Inquiry:
    """The ``InquireRequest`` a discovery endpoint of a ``role`` component asks (upstream rules)."""
    assert parsed.kind is EndpointKind.DISCOVER
    original = parsed.original
    query = list(parsed.query)
    path = parsed.path or role
    if parsed.is_context:
        for what, name in (("class", actor_class if role == "actor" else ""), ("implementation", implementation)):
            if INVALID_CHARACTERS.intersection(name):
                raise OrchestratorError(f"{role.capitalize()} {what} name contains invalid characters [{name}]")
        if role == "actor":
            query.append((ACTOR_CLASS_PROPERTY, actor_class))
        if implementation and role in ("actor", "environment"):
            query.append((IMPLEMENTATION_PROPERTY, implementation))
    token = next((value for name, value in query if name == AUTHENTICATION_TOKEN_PROPERTY), None)
    if path == "service":
        ids = [value for name, value in query if name == SERVICE_ID_PROPERTY]
        for name, _ in query:
            if name not in (SERVICE_ID_PROPERTY, AUTHENTICATION_TOKEN_PROPERTY):
                raise OrchestratorError(
                    f"Invalid endpoint service path property [{name}] (only [{SERVICE_ID_PROPERTY}] and "
                    f"[{AUTHENTICATION_TOKEN_PROPERTY}] allowed): [{original}]"
                )
        if not ids:
            raise OrchestratorError(
                f"Endpoint Service path must have an `{SERVICE_ID_PROPERTY}` property: [{original}]"
            )
        if not ids[-1].isdigit():
            raise OrchestratorError(f"Invalid service ID [{ids[-1]}] in endpoint [{original}]")
        return Inquiry(directory_pb2.InquireRequest(service_id=int(ids[-1])), token)
    if path in REFUSED_PATHS:
        raise OrchestratorError(f"{REFUSED_PATHS[path]}: [{original}]")
    if path not in PATH_TYPES:
        raise OrchestratorError(
            f"Unknown endpoint path ('service', 'actor', 'environment', 'datalog', 'prehook'): [{original}]"
        )
    properties: dict[str, str] = {}
    for name, value in query:
        if name != AUTHENTICATION_TOKEN_PROPERTY:
            properties.setdefault(name, value)  # the first of a repeated name, as upstream's map insert
    details = directory_pb2.ServiceDetails(type=PATH_TYPES[path], properties=properties)
    return Inquiry(directory_pb2.InquireRequest(details=details), token)


def describe(inquiry: Inquiry) -> str:
    """What an inquiry asks for, for error messages."""
    request = inquiry.request
    if request.WhichOneof("inquiry") == "service_id":
        return f"service id {request.service_id}"
    details = request.details
    properties = ", ".join(f"{k}={v}" for k, v in sorted(details.properties.items())) or "no properties"
    return f"a {directory_pb2.ServiceType.Name(details.type)} with {properties}"


def address_of(data: directory_pb2.FullServiceData, original: str, directory: str) -> str:
    """The endpoint a directory answer names: ``grpc://host:port`` or ``cogment://client``."""
    endpoint = data.endpoint
    protocol = endpoint.protocol
    if protocol == directory_pb2.ServiceEndpoint.GRPC:
        if endpoint.port == 0:
            raise OrchestratorError(f"Invalid address port (0) from directory [{directory}] for [{original}]")
        return f"grpc://{endpoint.host}:{endpoint.port}"
    if protocol == directory_pb2.ServiceEndpoint.GRPC_SSL:
        raise OrchestratorError(
            f"The service found in directory [{directory}] for [{original}] requires a SSL connection, "
            "which this orchestrator does not make"
        )
    if protocol == directory_pb2.ServiceEndpoint.COGMENT:
        if endpoint.host != CLIENT_ADDRESS:
            raise OrchestratorError(f"Unhandled endpoint from directory [{directory}]: [cogment://{endpoint.host}]")
        return "cogment://client"
    raise OrchestratorError(f"Unknown endpoint scheme from directory [{directory}] for [{original}]: [{protocol}]")
