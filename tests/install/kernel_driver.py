"""Run code in a kernel that a running Jupyter server starts, as a notebook would; print what it printed.

    python kernel_driver.py SERVER_URL RUNTIME_DIR CODE_FILE

Run by the pip-installed environment's own Python (it needs only the ``jupyter_client`` that
environment has): the server starts the kernel (``POST /api/kernels``), this connects to it
through the connection file the server wrote, executes the code and prints its output; on an
error in the code it exits with status 1.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

from jupyter_client import BlockingKernelClient


def _request(method: str, url: str) -> dict:
    request = urllib.request.Request(url, data=b"{}" if method == "POST" else None, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    return json.loads(body) if body else {}


def main(base: str, runtime_dir: str, code_file: str) -> int:
    kernel = _request("POST", f"{base}/api/kernels")["id"]
    deadline = time.monotonic() + 180
    client = BlockingKernelClient(connection_file=str(Path(runtime_dir) / f"kernel-{kernel}.json"))
    failed = False
    try:
        client.load_connection_file()
        client.start_channels()
        while True:  # its heartbeat may not beat yet: that reads as "died", so ask again
            try:
                client.wait_for_ready(timeout=10)
                break
            except (RuntimeError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

        def show(message: dict) -> None:
            nonlocal failed
            content = message["content"]
            if message["msg_type"] == "stream":
                sys.stdout.write(content["text"])
            elif message["msg_type"] in ("execute_result", "display_data"):
                sys.stdout.write(content["data"].get("text/plain", "") + "\n")
            elif message["msg_type"] == "error":
                failed = True
                sys.stdout.write("\n".join(content["traceback"]) + "\n")

        reply = client.execute_interactive(Path(code_file).read_text(), timeout=300, output_hook=show)
        failed = failed or reply["content"]["status"] != "ok"
    finally:
        client.stop_channels()
        _request("DELETE", f"{base}/api/kernels/{kernel}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
