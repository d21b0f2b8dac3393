"""``CogmentJupyter``: the Jupyter server extension that owns the shared Cogment runtime.

Configured like any Jupyter app (``c.CogmentJupyter.datastore_dir = ...`` in
``jupyter_server_config.py``, or ``--CogmentJupyter.auto_start=False`` on the command line).

The runtime starts with the server by default (``auto_start``): kernels find it through a
file and cannot ask the server to start it (they do not hold its token), so starting it on
the first REST call would leave every notebook opened before that call on its embedded
runtime. An idle runtime costs one process and no CPU. With ``auto_start=False`` the first
request under ``/cogment/api/`` starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, Unicode

from cogment_jupyter.server.handlers import routes
from cogment_jupyter.server.nodelay import enable_kernel_websocket_nodelay, untrack_comm_status
from cogment_jupyter.server.orchestrator_client import OrchestratorClient
from cogment_jupyter.server.recorded_trials import RecordedTrials
from cogment_jupyter.server.supervisor import RuntimePaths, RuntimeSupervisor, State
from cogment_jupyter.shared_runtime import FILE_PREFIX, SERVER_RUNTIME_ENV, discovery_file, pid_alive

#: seconds the status route waits for the orchestrator's Version
VERSION_TIMEOUT = 1.0


class CogmentJupyter(ExtensionApp):
    """Starts, supervises and serves the Cogment runtime shared by the server's kernels."""

    name = "cogment_jupyter"
    description = "A shared Cogment runtime (orchestrator + datastore) for every kernel of this server"

    datastore_dir = Unicode(
        "",
        help="Datastore directory of the shared runtime; relative paths are under the server's "
        "root_dir. Default: <root_dir>/.cogment",
    ).tag(config=True)
    auto_start = Bool(
        True, help="Start the runtime with the server (else on the first request under /cogment/api/)"
    ).tag(config=True)
    startup_timeout = Float(30.0, help="Seconds the runtime has to become ready").tag(config=True)
    max_failures = Int(5, help="Failed starts (or quick deaths) in a row before giving up").tag(config=True)
    runtime_log_level = Unicode("info", help="Log level of the runtime process (its log file)").tag(config=True)
    runtime_host = Unicode(
        None,
        allow_none=True,
        help="Serve the runtime over TCP on this interface (e.g. 127.0.0.1) instead of Unix sockets only "
        "this user can reach; then every process that can reach the host can start, read and delete "
        "trials. Default: private Unix sockets",
    ).tag(config=True)
    kernel_nodelay = Bool(
        True,
        help="Set TCP_NODELAY on kernel websockets: play widgets' frames stop waiting for delayed TCP acknowledgements",
    ).tag(config=True)
    untrack_comm_status = Bool(
        True,
        help="JupyterLab ignores the busy/idle status answering comm messages (widgets' traffic): "
        "no indicator and favicon flicker, and the browser CPU they cost saved on every message",
    ).tag(config=True)

    supervisor: RuntimeSupervisor
    recorded_trials: RecordedTrials

    # ------------------------------------------------------------------ set-up

    def _datastore_path(self) -> Path:
        root = Path(self.serverapp.root_dir).expanduser()
        path = Path(self.datastore_dir).expanduser() if self.datastore_dir else Path(".cogment")
        return (path if path.is_absolute() else root / path).absolute()

    def initialize_settings(self) -> None:
        runtime_dir = Path(self.serverapp.runtime_dir)
        pid = os.getpid()
        paths = RuntimePaths(
            runtime_file=runtime_dir / f"{FILE_PREFIX}{pid}-runtime.json",
            discovery_file=discovery_file(pid, runtime_dir),
            log_file=runtime_dir / f"{FILE_PREFIX}{pid}-runtime.log",
        )
        datastore = self._datastore_path()
        self.supervisor = RuntimeSupervisor(
            datastore,
            paths,
            log=self.log,
            discovery_extra={"server_url": self.serverapp.connection_url},
            startup_timeout=self.startup_timeout,
            max_failures=self.max_failures,
            log_level=self.runtime_log_level,
            host=self.runtime_host,
        )
        self.recorded_trials = RecordedTrials(datastore)
        self._clients: dict[str, OrchestratorClient] = {}
        # kernels the server starts inherit the server's environment: this names their file
        os.environ[SERVER_RUNTIME_ENV] = str(paths.discovery_file)
        _remove_stale_files(runtime_dir)
        self.log.info("cogment_jupyter: shared runtime datastore %s (auto_start=%s)", datastore, self.auto_start)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())
        if self.kernel_nodelay:
            enable_kernel_websocket_nodelay()

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        if self.untrack_comm_status:  # after every extension's settings: JupyterLab's write the list
            untrack_comm_status(serverapp.web_app, serverapp.kernel_manager)
        if self.auto_start:
            self.supervisor.start()
        # pandas and the decoders take seconds to import: not during the first request
        self._warm_up = asyncio.get_running_loop().run_in_executor(None, self.recorded_trials.warm_up)

    async def stop_extension(self) -> None:
        await self.supervisor.stop()
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()
        await asyncio.to_thread(self.recorded_trials.close)
        if os.environ.get(SERVER_RUNTIME_ENV) == str(self.supervisor.paths.discovery_file):
            del os.environ[SERVER_RUNTIME_ENV]

    # ------------------------------------------------------------------ used by the handlers

    def use(self) -> None:
        """First use starts the runtime when it did not start with the server."""
        if self.supervisor.state is State.STOPPED and self.supervisor.error is None:
            self.supervisor.start()

    def orchestrator_client(self, endpoint: str) -> OrchestratorClient:
        client = self._clients.get(endpoint)
        if client is None:
            client = self._clients[endpoint] = OrchestratorClient(endpoint)
        return client

    async def live_info(self, trial_id: str) -> dict[str, Any] | None:
        """The orchestrator's view of a trial, or None (not running, or the runtime is down)."""
        import grpc

        runtime = self.supervisor.runtime
        if self.supervisor.state is not State.RUNNING or runtime is None:
            return None
        try:
            return await self.orchestrator_client(runtime.orchestrator).trial_info(trial_id)
        except grpc.aio.AioRpcError:
            return None

    async def status(self) -> dict[str, Any]:
        """The supervisor's status, plus whether the orchestrator answers right now."""
        import grpc

        status = self.supervisor.status()
        status["auto_start"] = self.auto_start
        status["server_pid"] = os.getpid()
        status["responding"] = False
        runtime = self.supervisor.runtime
        if self.supervisor.state is State.RUNNING and runtime is not None:
            try:
                await self.orchestrator_client(runtime.orchestrator).version(VERSION_TIMEOUT)
                status["responding"] = True
            except grpc.aio.AioRpcError as error:
                status["reason"] = f"the orchestrator does not answer: {error.code().name}"
        status["checked_at"] = time.time()
        return status


def _remove_stale_files(runtime_dir: Path) -> None:
    """Files of servers that are gone: their discovery files would only mislead kernels, and
    their runtime logs (kept after a stop for post-mortems) have served their purpose."""
    for path in [*runtime_dir.glob(f"{FILE_PREFIX}*.json"), *runtime_dir.glob(f"{FILE_PREFIX}*-runtime.log")]:
        pid = path.name.removeprefix(FILE_PREFIX).split("-")[0].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            path.unlink(missing_ok=True)
