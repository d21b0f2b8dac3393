"""Try to reach Cogment endpoints, as another user if asked:
``python -m tests.access_probe [--as UID GID] ENDPOINT...``.

Everything is imported first, then the process drops to ``UID``/``GID`` (it starts as root),
then it connects to every endpoint at once: a plain socket connection, and a gRPC channel that
must become ready (an HTTP/2 connection with the server). Prints one JSON line:
``{"uid": ..., "results": {endpoint: {"socket": "connected" or the error, "grpc": "ready" or the reason}}}``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import grpc

from cogment_jupyter.access import target

READY_TIMEOUT = 3.0


def _socket(address: str) -> str:
    if address.startswith("unix:"):
        family, where = socket.AF_UNIX, address[len("unix:") :]
    else:
        host, _, port = address.rpartition(":")
        family, where = socket.AF_INET, (host.strip("[]"), int(port))
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(READY_TIMEOUT)
        try:
            probe.connect(where)
        except OSError as error:
            return error.strerror or repr(error)
    return "connected"


def _grpc(address: str) -> str:
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT)
        except grpc.FutureTimeoutError:
            return f"not ready within {READY_TIMEOUT} s"
    return "ready"


def _reach(endpoint: str) -> dict[str, str]:
    address = target(endpoint)
    return {"socket": _socket(address), "grpc": _grpc(address)}


def main() -> None:
    arguments = sys.argv[1:]
    with grpc.insecure_channel("unix:/nonexistent/warm-up.sock"):  # load what a channel needs while we may
        pass
    if arguments[0] == "--as":
        uid, gid, *arguments = arguments[1:]
        os.setgroups([])
        os.setgid(int(gid))
        os.setuid(int(uid))
    with ThreadPoolExecutor(len(arguments)) as pool:
        results = dict(zip(arguments, pool.map(_reach, arguments), strict=True))
    print(json.dumps({"uid": os.getuid(), "results": results}), flush=True)


if __name__ == "__main__":
    main()
