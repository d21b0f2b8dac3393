"""Who can reach the gRPC servers a lab or a shared runtime starts: the one place that decides.

By default every internal endpoint (a lab's orchestrator and components, its datastore, a
``process=True`` service, the Jupyter server's shared runtime) is a Unix domain socket in a
directory only its user can enter (mode 0700; the socket itself is 0600): other users of the
machine (students of one JupyterHub host) cannot connect, and the owner's processes need no
secret to. TCP is opened only when asked: ``Lab(host=...)``, attaching to an orchestrator
reached over TCP (it must call the lab's services back), ``--host``/ports on the command line;
then anyone who can reach that host and port can reach the service, as with upstream Cogment.

The directory, first that works: ``$COGMENT_JUPYTER_RUNTIME_DIR``, ``$XDG_RUNTIME_DIR/cogment-jupyter``,
``<tmp>/cogment-jupyter-<uid>``. One that another user owns, or that others can enter, is
refused (someone could be waiting there to impersonate the lab).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cogment_jupyter.engine.endpoints import parse_endpoint, unix_endpoint

log = logging.getLogger(__name__)

RUNTIME_DIR_ENV = "COGMENT_JUPYTER_RUNTIME_DIR"
#: ``sun_path`` holds 108 bytes on Linux, 104 on macOS; a socket name takes up to ~40 of them.
_MAX_DIRECTORY = 60
LOOPBACK = "127.0.0.1"


class _Server(Protocol):
    def add_insecure_port(self, address: str) -> int: ...


class AccessError(OSError):
    """No private place for the lab's sockets; the message says why and what to do."""


def _check_private(directory: Path) -> str | None:
    """Why ``directory`` is not private to this user (None when it is)."""
    info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "it is not a directory (or is a symbolic link)"
    if info.st_uid != os.geteuid():
        return f"it belongs to uid {info.st_uid}, not to this user ({os.geteuid()})"
    if info.st_mode & 0o077:
        return f"others may enter it (mode {stat.S_IMODE(info.st_mode):o}, 700 expected)"
    return None


def _candidates() -> list[Path]:
    if override := os.environ.get(RUNTIME_DIR_ENV):
        return [Path(override)]
    out = []
    if xdg := os.environ.get("XDG_RUNTIME_DIR"):
        out.append(Path(xdg) / "cogment-jupyter")
    out.append(Path(tempfile.gettempdir()) / f"cogment-jupyter-{os.geteuid()}")
    return out


@functools.cache
def private_directory() -> Path:
    """The directory of this user's sockets, created 0700 on first use (see the module docstring)."""
    problems = []
    for directory in _candidates():
        if len(str(directory)) > _MAX_DIRECTORY:
            problems.append(f"{directory}: too long a path for Unix sockets")
            continue
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            problem = _check_private(directory)
        except OSError as error:
            problem = error.strerror or str(error)
        if problem is None:
            _sweep(directory)
            return directory
        problems.append(f"{directory}: {problem}")
        if os.environ.get(RUNTIME_DIR_ENV):
            break
    raise AccessError(
        "no private directory for the lab's sockets (" + "; ".join(problems) + "). "
        f"Set {RUNTIME_DIR_ENV} to a short path of a directory only you can enter (mode 700), "
        "or pass host='127.0.0.1' to use TCP instead (reachable by every user of this machine)."
    )


def _sweep(directory: Path) -> None:
    """Remove the sockets of processes that are gone (a SIGKILL leaves them): names start with the owner's pid."""
    import psutil

    for path in directory.glob("*.sock"):
        owner = path.name.partition("-")[0]
        if owner.isdigit() and int(owner) != os.getpid() and not psutil.pid_exists(int(owner)):
            with contextlib.suppress(OSError):
                path.unlink()


def socket_path(name: str, owner: int | None = None) -> Path:
    """A socket path in the private directory: ``<owner pid>-<name>.sock``; unique per process
    unless ``owner`` is given (then stable: a supervised runtime restarts on the same paths)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:32]  # (a served name may hold anything)
    if owner is None:
        return private_directory() / f"{os.getpid()}-{name}-{secrets.token_hex(3)}.sock"
    return private_directory() / f"{owner}-{name}.sock"


@dataclass(frozen=True)
class Reach:
    """Who can reach the servers started with this policy.

    ``Reach()``: this user only (Unix sockets in the private directory). ``Reach("HOST")``: TCP
    on HOST (``0.0.0.0`` for every interface), reachable by anyone who can reach it.
    """

    host: str | None = None

    @property
    def private(self) -> bool:
        return self.host is None

    @classmethod
    def to_call_back(cls, orchestrator: str | None, host: str | None, *, discoverable: bool = False) -> Reach:
        """The policy of a lab whose services ``orchestrator`` calls: private unless ``host`` is
        given, that orchestrator is reached over TCP (it may be on another machine), or the lab
        registers its services in a directory (``discoverable``: its entries are host and port)."""
        if host is not None:
            return cls(host)
        over_tcp = orchestrator is not None and not target(orchestrator).startswith("unix:")
        return cls(LOOPBACK) if over_tcp or discoverable else cls()

    def address(self, name: str, port: int = 0, *, owner: int | None = None) -> str:
        """Where a server called ``name`` binds: a fresh socket path (the same for the same
        ``owner``, see :func:`socket_path`), or ``HOST:PORT`` (0: a free port)."""
        if self.host is None:
            return "unix:" + str(socket_path(name, owner))
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{port}"

    def describe(self) -> str:
        if self.host is None:
            return f"Unix sockets in {private_directory()} (this user only)"
        return f"TCP on {self.host} (any process that can reach it)"


#: ``--help`` of a ``--host`` flag (every service that listens on TCP)
HOST_HELP = (
    "interface to bind (default 127.0.0.1: every user of this machine, no other machine; 0.0.0.0: other machines too)"
)


def tcp_service_description(what: str, ports: str, lets: str) -> str:
    """What ``--help`` says of a service that listens on TCP (as its upstream counterpart): who can reach it."""
    import textwrap

    text = (
        f"{what}. As upstream, it listens on TCP ({ports}; --host, default 127.0.0.1): every process that "
        f"can reach that host and port can {lets} (127.0.0.1: every user of this machine; 0.0.0.0: other "
        "machines too). For services only you can reach, use `cogment-jupyter services runtime` (private Unix "
        "sockets) or a lab."
    )
    return textwrap.fill(text, 96, break_on_hyphens=False)


def bind(server: _Server, address: str) -> str:
    """Bind ``server`` to ``address`` (``HOST:PORT`` or ``unix:/path``); the endpoint to dial.

    A socket is made 0600 (its directory already keeps other users out).
    """
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        what = "the port is in use or the host is not local" if not address.startswith("unix:") else "see the log"
        raise OSError(f"cannot listen on {address}: {what}")
    if address.startswith("unix:"):
        path = address[len("unix:") :]
        os.chmod(path, 0o600)
        return unix_endpoint(path)
    host = address.rpartition(":")[0]
    connect = LOOPBACK if host in ("0.0.0.0", "", "[::]") else host
    return f"grpc://{connect}:{bound}"


def describe(endpoint: str) -> str:
    """An endpoint as a person reads it: a Unix socket's path (and who may use it), or as it is."""
    if not endpoint.lower().startswith("grpc://unix:"):
        return endpoint
    return f"{target(endpoint)[5:]} (Unix socket, this user only)"


def port_of(endpoint: str) -> int:
    """The TCP port of an endpoint (0 for a Unix socket)."""
    port = endpoint.rpartition(":")[2]
    return int(port) if port.isdigit() else 0


def target(endpoint: str) -> str:
    """What gRPC dials for a ``grpc://`` endpoint: ``HOST:PORT`` or ``unix:/path``."""
    return parse_endpoint(endpoint, role="environment").address
