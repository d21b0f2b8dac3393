"""The extension supervises a real runtime process: SIGKILL is noticed and repaired, data stays,
a lazily started runtime starts on first use, and the runtime stops with the server."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from cogment_jupyter.shared_runtime import pid_alive, read_runtime_file
from tests.server.conftest import discovery_path, recorded
from tests.server.harness import JupyterServer, running_server, wait_for


def test_killed_runtime_is_restarted_on_the_same_endpoints(server: JupyterServer, shared_lab) -> None:
    before = shared_lab.start_trial("cartpole", "random", properties={"suite": "kill", "when": "before"})
    before.wait(60)
    recorded(server, before.id)
    status = server.wait_running()
    old_pid, restarts = status["pid"], status["restarts"]

    os.kill(old_pid, signal.SIGKILL)
    after = server.wait_running(timeout=60, pid_not=old_pid)

    assert after["restarts"] == restarts + 1
    assert after["last_exit"]["pid"] == old_pid and after["last_exit"]["reason"] == "killed by SIGKILL"
    assert after["endpoints"] == status["endpoints"]  # attached clients reconnect by themselves
    assert not pid_alive(old_pid) and pid_alive(after["pid"])
    published = read_runtime_file(discovery_path(server))
    assert published.pid == after["pid"] and published.server_pid == server.proc.pid
    # what was recorded before the kill is still there
    document = recorded(server, before.id)
    assert document["trial"]["steps"] > 0
    assert server.api("GET", f"trials/{before.id}/steps")["count"] == document["trial"]["steps"]
    # and the lab attached before the kill runs trials on the new process
    again = shared_lab.start_trial("cartpole", "random", properties={"suite": "kill", "when": "after"})
    again.wait(60)
    recorded(server, again.id)
    ids = [t["trial_id"] for t in server.api("GET", "trials?property=suite=kill")["trials"]]
    assert ids == [before.id, again.id]


def test_manual_restart_route(server: JupyterServer) -> None:
    status = server.wait_running()
    restarted = server.api("POST", "runtime/restart", timeout=60)
    assert restarted["state"] == "running" and restarted["pid"] != status["pid"]
    assert restarted["restarts"] == status["restarts"] + 1
    assert not pid_alive(status["pid"])


def test_lazy_start_failure_repair_and_stop_with_the_server(tmp_path: Path) -> None:
    """auto_start=False: stopped until first use; a runtime that cannot start is given up with
    its reason (503s); once the cause is gone the restart route repairs it; it stops with the server."""
    blocker = tmp_path / "elsewhere"
    blocker.write_text("a file where the datastore's parent directory should be")
    store = blocker / "store"
    config = {"auto_start": False, "datastore_dir": str(store), "max_failures": 1}
    with running_server(tmp_path, extension_config=config) as jupyter:
        status = jupyter.status()
        assert status["state"] == "stopped" and status["pid"] is None and status["auto_start"] is False
        assert "first use" in status["reason"]
        discovery = Path(status["discovery_file"])
        assert not discovery.exists()

        # first use: reading answers at once (here: the datastore is unusable) and starts the runtime
        reply = jupyter.request("GET", "/cogment/api/trials")
        assert reply.status == 503 and "datastore cannot be read" in reply.json()["message"]

        def failed() -> dict | None:
            status = jupyter.status()
            return status if status["state"] == "failed" else None

        status = wait_for(failed, 60, "the runtime given up")
        assert "gave up after 1 failed starts" in status["error"] and "Not a directory" in status["error"]
        reply = jupyter.request("POST", "/cogment/api/trials/any-trial/terminate")
        assert reply.status == 503, reply.body
        assert "failed" in reply.json()["message"] and reply.json()["runtime"]["state"] == "failed"

        blocker.unlink()  # the cause is gone: repair by hand
        running = jupyter.api("POST", "runtime/restart", timeout=60)
        assert running["state"] == "running" and running["error"] is None
        assert running["datastore_dir"] == str(store) and (store / "trials.sqlite3").exists()
        assert jupyter.api("GET", "trials")["trials"] == []
        assert json.loads(discovery.read_text())["datastore_dir"] == str(store)
        runtime_pid = running["pid"]
        runtime_file = discovery.with_name(discovery.stem + "-runtime.json")
        assert runtime_file.exists()

        assert jupyter.stop() == 0  # SIGTERM: the server's clean shutdown
        wait_for(lambda: not pid_alive(runtime_pid), 15, "the runtime stopped with the server")
        assert not discovery.exists() and not runtime_file.exists()
