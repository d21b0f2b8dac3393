"""What every Cogment service answers to ``Version`` and ``Status``."""

from collections.abc import Callable, Mapping

from cogment_jupyter import __version__
from cogment_jupyter.proto import common_pb2

#: The upstream version we speak; the SDK's ``get_remote_versions()`` reads the ``cogment`` entry.
COGMENT_VERSION = "2.22.0"


def version_info() -> common_pb2.VersionInfo:
    return common_pb2.VersionInfo(
        versions=[
            common_pb2.VersionInfo.Version(name="cogment", version=COGMENT_VERSION),
            common_pb2.VersionInfo.Version(name="cogment_jupyter", version=__version__),
        ]
    )


def status_reply(
    request: common_pb2.StatusRequest, extra: Mapping[str, Callable[[], str]] | None = None
) -> common_pb2.StatusReply:
    """``overall_load`` (and a service's ``extra`` statuses) when asked for by name or with ``*``;
    nothing for an empty request (upstream answers only ``overall_load``, always "0")."""
    reply = common_pb2.StatusReply()
    every = "*" in request.names
    if every or "overall_load" in request.names:
        reply.statuses["overall_load"] = "0"
    for name, value in (extra or {}).items():
        if every or name in request.names:
            reply.statuses[name] = value()
    return reply
