"""The ``Status`` answer every Cogment service gives (upstream: only ``overall_load``, always "0")."""

from cogment_jupyter.proto import common_pb2


def status_reply(request: common_pb2.StatusRequest) -> common_pb2.StatusReply:
    """``overall_load`` when asked for by name or with ``*``; nothing for an empty request."""
    reply = common_pb2.StatusReply()
    if "overall_load" in request.names or "*" in request.names:
        reply.statuses["overall_load"] = "0"
    return reply
