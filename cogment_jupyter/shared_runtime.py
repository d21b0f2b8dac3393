"""How a kernel (or any process) finds the shared Cogment runtime a Jupyter server owns.

Kernels, the server extension and ``cogment-jupyter services runtime`` all use this module (the
runtime writes its file with ``write_json_atomically``), so it sits below all three and imports
none of them.

The server extension writes a *discovery file*, ``cogment_jupyter-<server pid>.json`` in the
server's Jupyter runtime directory, each time its runtime is ready. It holds what the runtime
wrote (``pid``, ``orchestrator``, ``datastore`` and ``model_registry`` endpoints, ``datastore_dir``,
``datastore_file``, ``model_registry_dir``, ``versions``, ``started_at``) plus ``server_pid`` and
``server_url``.

Where a process looks, first match wins:

1. ``COGMENT_JUPYTER_NO_SHARED=1`` (or ``true``/``yes``): nowhere, there is no shared runtime.
2. ``COGMENT_JUPYTER_RUNTIME=<path>``: that file; a discovery file, or the ``--runtime_file``
   of a ``cogment-jupyter services runtime`` started by hand.
3. ``COGMENT_JUPYTER_SERVER_RUNTIME``: set by the extension in the server's environment, so
   every kernel the server starts inherits the exact path of its server's file.
4. ``JPY_PARENT_PID`` (set by jupyter_client in kernels): that server's discovery file in
   ``jupyter_core.paths.jupyter_runtime_dir()``.

A file only counts when its server (if it names one) is alive and the orchestrator answers
``Version``; plain scripts and kernels of other front ends (VS Code) find nothing and keep
their embedded runtime. Only the standard library, ``grpc`` and ``cogment_jupyter.proto`` are imported,
so a kernel pays nothing for the server side.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RUNTIME_ENV = "COGMENT_JUPYTER_RUNTIME"
NO_SHARED_ENV = "COGMENT_JUPYTER_NO_SHARED"
SERVER_RUNTIME_ENV = "COGMENT_JUPYTER_SERVER_RUNTIME"
#: seconds a probe waits for the orchestrator (covers a supervised restart on the same ports)
PROBE_TIMEOUT = 3.0
FILE_PREFIX = "cogment_jupyter-"


@dataclass(frozen=True)
class SharedRuntime:
    """A running shared runtime: where its orchestrator and datastore listen, and its files."""

    orchestrator: str
    datastore: str
    datastore_dir: Path
    datastore_file: Path
    pid: int
    file: Path
    source: str
    server_pid: int | None = None
    server_url: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    started_at: float | None = None
    #: the runtime's model registry (None: a runtime from before it had one)
    model_registry: str | None = None

    def lab_arguments(self) -> dict[str, str]:
        """``Lab(**these)`` attaches to the orchestrator and records into the shared datastore."""
        arguments = {
            "orchestrator": self.orchestrator,
            "datalog": self.datastore,
            "datastore": str(self._lab_datastore()),
        }
        if self.model_registry:
            arguments["model_registry"] = self.model_registry
        return arguments

    def _lab_datastore(self) -> Path:
        # the directory reads better in reprs; the file only when it is not the directory's default
        from cogment_jupyter.datastore.schema import resolve_file

        return self.datastore_dir if resolve_file(self.datastore_dir) == self.datastore_file else self.datastore_file


@dataclass(frozen=True)
class Discovery:
    """What a probe found, and why (for ``%cogment status``)."""

    runtime: SharedRuntime | None
    reason: str


def discovery_file(server_pid: int, runtime_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the server with this pid writes its discovery file."""
    if runtime_dir is None:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dir = jupyter_runtime_dir()
    return Path(runtime_dir) / f"{FILE_PREFIX}{server_pid}.json"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie still answers kill(0); its /proc state says Z
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """Readers polling for ``path`` never see half a file: write a sibling, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(document, indent=2, sort_keys=True))
    os.chmod(partial, 0o600)
    partial.replace(path)


def read_runtime_file(path: str | os.PathLike[str], source: str = "file") -> SharedRuntime:
    """Parse a discovery or runtime file; ``ValueError`` says what is wrong with it."""
    path = Path(path)
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    try:
        datastore_file = Path(document["datastore_file"])
        return SharedRuntime(
            orchestrator=str(document["orchestrator"]),
            datastore=str(document["datastore"]),
            datastore_dir=Path(document.get("datastore_dir") or datastore_file.parent),
            datastore_file=datastore_file,
            pid=int(document["pid"]),
            file=path,
            source=source,
            server_pid=int(document["server_pid"]) if document.get("server_pid") else None,
            server_url=document.get("server_url"),
            versions=dict(document.get("versions") or {}),
            started_at=document.get("started_at"),
            model_registry=document.get("model_registry") or None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path} is not a cogment_jupyter runtime file (bad or missing {error})") from None


def orchestrator_answers(endpoint: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when the orchestrator answers ``Version`` within ``timeout``, else why not."""
    import grpc

    from cogment_jupyter.access import target
    from cogment_jupyter.proto import common_pb2, orchestrator_pb2_grpc

    with grpc.insecure_channel(target(endpoint)) as channel:
        stub = orchestrator_pb2_grpc.TrialLifecycleSPStub(channel)
        try:
            stub.Version(common_pb2.VersionRequest(), timeout=timeout, wait_for_ready=True)
        except grpc.RpcError as error:
            return f"the orchestrator at {endpoint} does not answer ({error.code().name})"
    return None


def _candidates() -> list[tuple[Path, str]]:
    """Files to try, most explicit first (``COGMENT_JUPYTER_RUNTIME`` is handled apart)."""
    out: list[tuple[Path, str]] = []
    if server_file := os.environ.get(SERVER_RUNTIME_ENV):
        out.append((Path(server_file), f"the Jupyter server ({SERVER_RUNTIME_ENV})"))
    parent = os.environ.get("JPY_PARENT_PID", "")
    if parent.isdigit():
        path = discovery_file(int(parent))
        if all(path != p for p, _ in out):
            out.append((path, f"the parent Jupyter server (pid {parent})"))
    return out


def _check(path: Path, source: str, timeout: float) -> Discovery:
    try:
        runtime = read_runtime_file(path, source)
    except ValueError as error:
        return Discovery(None, str(error))
    if runtime.server_pid is not None and not pid_alive(runtime.server_pid):
        return Discovery(None, f"{path}: its Jupyter server (pid {runtime.server_pid}) is gone")
    problem = orchestrator_answers(runtime.orchestrator, timeout)
    if problem is not None:
        return Discovery(None, f"{path}: {problem}")
    with contextlib.suppress(ValueError):  # a supervised restart may have replaced the process meanwhile
        runtime = read_runtime_file(path, source)
    return Discovery(runtime, f"shared runtime of {source}: orchestrator {runtime.orchestrator}")


def probe_shared_runtime(timeout: float = PROBE_TIMEOUT) -> Discovery:
    """Look for a shared runtime (see the module docstring for where) and say what was found."""
    if os.environ.get(NO_SHARED_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return Discovery(None, f"disabled by {NO_SHARED_ENV}")
    if override := os.environ.get(RUNTIME_ENV):
        found = _check(Path(override).expanduser(), RUNTIME_ENV, timeout)
        if found.runtime is None:
            log.warning("%s=%s is not usable: %s", RUNTIME_ENV, override, found.reason)
        return found
    reasons = []
    for path, source in _candidates():
        if not path.exists():
            reasons.append(f"no {path.name} from {source}")
            continue
        found = _check(path, source, timeout)
        if found.runtime is not None:
            return found
        reasons.append(found.reason)
    if not reasons:
        return Discovery(None, "not started by a Jupyter server with the cogment_jupyter extension")
    return Discovery(None, "; ".join(reasons))


def find_shared_runtime(timeout: float = PROBE_TIMEOUT) -> SharedRuntime | None:
    """The shared runtime this process should attach to, or None (then run an embedded one)."""
    return probe_shared_runtime(timeout).runtime


def shared_lab_arguments(timeout: float = PROBE_TIMEOUT) -> dict[str, str] | None:
    """Keyword arguments for ``Lab`` that attach to the shared runtime, or None without one.

    ``Lab(**shared_lab_arguments())`` runs every trial on the shared orchestrator (this
    process serves its environments and actors to it over gRPC), the runtime records them into
    the shared datastore, and ``lab.trials()`` / ``lab.steps()`` read that same datastore, so
    every notebook of the server sees every trial, across kernel restarts. Drop
    ``orchestrator`` and ``datalog`` to keep the in-kernel fast path while recording into the
    same file (``Lab(datastore=...)`` alone).

    The runtime logs asynchronously: a trial that just ended may take a few tens of
    milliseconds to appear as ``ENDED`` in the datastore.
    """
    runtime = find_shared_runtime(timeout)
    return runtime.lab_arguments() if runtime is not None else None


__all__ = [
    "NO_SHARED_ENV",
    "RUNTIME_ENV",
    "SERVER_RUNTIME_ENV",
    "Discovery",
    "SharedRuntime",
    "discovery_file",
    "find_shared_runtime",
    "probe_shared_runtime",
    "read_runtime_file",
    "shared_lab_arguments",
]
