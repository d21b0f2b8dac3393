"""A real ``jupyter server`` subprocess with the cogment_jupyter extension, for the server tests.

Private config, runtime and data directories under a tmp dir (nothing leaks into the user's
Jupyter setup), 127.0.0.1 on a free port, a known token, the venv's other server extensions
switched off (they only slow the start down). Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cogment_jupyter
from tests.waiting import wait_for

TOKEN = "cogment-test-token"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def extension_name() -> str:
    """``cogment_jupyter`` once the package re-exports the extension points, else the sub-package."""
    exported = hasattr(cogment_jupyter, "_jupyter_server_extension_points")
    return "cogment_jupyter" if exported else "cogment_jupyter.server"


def _other_extensions() -> list[str]:
    """Server extensions the venv enables (jupyterlab, notebook, ...): switched off for speed."""
    names: set[str] = set()
    for directory in (Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d",):
        for path in directory.glob("*.json"):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                names.update(json.loads(path.read_text())["ServerApp"]["jpserver_extensions"])
    return sorted(names - {"cogment_jupyter", "cogment_jupyter.server"})


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class JupyterServer:
    """``jupyter server`` serving ``base/root``; its Jupyter dirs are under ``base`` too."""

    base: Path
    extension_config: dict[str, Any] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.root = self.base / "root"
        self.config_dir = self.base / "config"
        self.runtime_dir = self.base / "runtime"
        self.data_dir = self.base / "data"
        self.log_path = self.base / "jupyter-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COGMENT_JUPYTER_", "JPY_"))}
        env.update(
            JUPYTER_CONFIG_DIR=str(self.config_dir),
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            JUPYTER_DATA_DIR=str(self.data_dir),
            JUPYTER_PLATFORM_DIRS="0",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, timeout: float = 60.0) -> JupyterServer:
        for directory in (self.root, self.config_dir, self.runtime_dir, self.data_dir):
            directory.mkdir(parents=True, exist_ok=True)
        extensions = dict.fromkeys(_other_extensions(), False)
        extensions[extension_name()] = True
        config = {"ServerApp": {"jpserver_extensions": extensions}, "CogmentJupyter": self.extension_config}
        (self.config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            "--ServerApp.terminals_enabled=False",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                command, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_for(lambda: self._answers(), timeout, f"jupyter server answering on {self.url}", interval=0.1)
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"the jupyter server did not start; its log:\n{self.log()}") from None
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited with {self.proc.returncode}:\n{self.log()}")
        return self.request("GET", "/api/status").status == 200

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return "(no log)"

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = TOKEN,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Response:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=dict(headers or {}))
        if token is not None:
            request.add_header("Authorization", f"token {token}")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return Response(reply.status, dict(reply.headers), reply.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A ``/cogment/api/`` call that must succeed; its JSON."""
        reply = self.request(method, "/cogment/api/" + path, **kwargs)
        assert 200 <= reply.status < 300, (method, path, reply.status, reply.body[:2000])
        return reply.json()

    def status(self) -> dict[str, Any]:
        return self.api("GET", "status")

    def wait_running(self, timeout: float = 60.0, pid_not: int | None = None) -> dict[str, Any]:
        def running() -> dict[str, Any] | None:
            status = self.status()
            if status["state"] == "failed":
                raise AssertionError(f"the runtime failed: {status}")
            ok = status["state"] == "running" and status["responding"] and status["pid"] != pid_not
            return status if ok else None

        return wait_for(running, timeout, "the shared runtime running")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the server's clean shutdown), SIGKILL of the group if it hangs."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        return proc.returncode


@contextlib.contextmanager
def running_server(base: Path, **options: Any) -> Iterator[JupyterServer]:
    server = JupyterServer(base, **options).start()
    try:
        yield server
    finally:
        server.stop()
