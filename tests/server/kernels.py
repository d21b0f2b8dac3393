"""Kernels started *by the server* (its REST API), driven with jupyter_client over their
connection files: the way a notebook's kernel is started, environment included."""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass
from typing import Any

from jupyter_client import BlockingKernelClient

from tests.server.harness import JupyterServer, wait_for


@dataclass
class ServerKernel:
    server: JupyterServer
    id: str
    client: BlockingKernelClient | None = None

    @classmethod
    def start(cls, server: JupyterServer, timeout: float = 60.0) -> ServerKernel:
        reply = server.request("POST", "/api/kernels", body={"name": "python3"})
        assert reply.status == 201, (reply.status, reply.body)
        kernel = cls(server, reply.json()["id"])
        kernel.connect(timeout)
        return kernel

    def connect(self, timeout: float) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        path = self.server.runtime_dir / f"kernel-{self.id}.json"
        wait_for(path.exists, timeout, f"connection file {path.name}")
        client = BlockingKernelClient()
        client.load_connection_info(json.loads(path.read_text()))
        client.start_channels()
        self.client = client
        # not client.wait_for_ready(): it calls a kernel still importing (no heartbeat yet) dead
        wait_for(self._answers, timeout, f"kernel {self.id} answering kernel_info", interval=0)

    def _answers(self) -> bool:
        assert self.client is not None
        msg_id = self.client.kernel_info()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                reply = self.client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if reply["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    def run(self, code: str, timeout: float = 60.0) -> str:
        """Execute ``code``; its stdout. A raised error fails the test with the traceback."""
        assert self.client is not None
        out: list[str] = []
        errors: list[str] = []

        def output(msg: dict[str, Any]) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream" and content.get("name") == "stdout":
                out.append(content["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(content["traceback"]))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=output)
        if reply["content"]["status"] != "ok" or errors:
            raise AssertionError(f"kernel error running:\n{code}\n" + "\n".join(errors))
        return "".join(out)

    def value(self, expression: str, timeout: float = 60.0) -> Any:
        """The JSON value of ``expression`` evaluated in the kernel."""
        text = self.run(f"import json as _json; print(_json.dumps({expression}))", timeout)
        return json.loads(text.strip().splitlines()[-1])

    def restart(self, timeout: float = 60.0) -> None:
        """Restart through the server, as the notebook's Restart Kernel does."""
        reply = self.server.request("POST", f"/api/kernels/{self.id}/restart", timeout=timeout)
        assert reply.status == 200, (reply.status, reply.body)
        self.connect(timeout)

    def shutdown(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        self.server.request("DELETE", f"/api/kernels/{self.id}")
