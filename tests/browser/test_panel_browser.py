"""The Cogment side panel (labextension/, prebuilt into cogment_jupyter/labextension) in a real JupyterLab.

It shows what ``GET /cogment/api/status`` says of the shared runtime, lists a trial a notebook
started on the shared orchestrator, and its Terminate button ends that trial; a trial running on
the kernel's own in-process orchestrator is listed as "in kernel", without a button.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .jupyter_harness import JupyterServer, NotebookPage

PANEL = "#cogment-jupyter-panel"
TAB = ".jp-SideBar .lm-TabBar-tab[data-id='cogment-jupyter-panel']"

SETUP = """
%load_ext cogment_jupyter
%cogment launch
import asyncio
import numpy as np
import gymnasium as gym
from cogment_jupyter import envs, actors

class Endless(envs.Environment):
    @property
    def agent_specs(self):
        return {"player": envs.AgentSpec(gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Discrete(2))}
    def reset(self, context, options=None):
        return envs.StepResult(observations={"player": np.zeros(2, np.float32)})
    def step(self, actions):
        return envs.StepResult(observations={"player": np.zeros(2, np.float32)}, rewards={"player": 1.0})

class Slow(actors.Actor):
    async def act(self, observation, frame=None):
        await asyncio.sleep(0.05)
        return 0

lab.serve_env("endless", Endless())
lab.serve_actor("slow", Slow())
print(lab.mode)
"""

# a client actor: the trial runs on the server's shared orchestrator (terminable from the panel)
START_SHARED = """
shared = lab.start_trial("endless", {"player": "client"}, properties={"suite": "panel"})
joined = lab.join(shared, "player", Slow())
print(shared.id)
"""
# every part in this kernel: the in-process fast path, recorded into the shared datastore
START_IN_KERNEL = """
local = lab.start_trial("endless", "slow", properties={"suite": "panel"})
print(local.id)
"""


def rest_status(jupyter: JupyterServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{jupyter.base}/cogment/api/status", timeout=10) as reply:
        return json.loads(reply.read())


def last_line(nb: NotebookPage, index: int) -> str:
    return nb.output_text(index).strip().splitlines()[-1]


def row(trial_id: str) -> str:
    return f"{PANEL} tr[data-trial-id='{trial_id}']"


def test_panel_shows_the_runtime_and_terminates_a_trial(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb = open_notebook([SETUP], name="panel.ipynb")
    nb.run_all()
    assert last_line(nb, 0) == "shared", nb.output_text(0)  # %cogment launch attached to the server's runtime

    # the panel: a tab in the left sidebar
    page.locator(TAB).click()
    panel = page.locator(PANEL)
    panel.wait_for(state="visible")
    page.wait_for_selector(f"{PANEL}[data-runtime-state='running']")
    status = rest_status(jupyter)
    assert status["state"] == "running"
    field = lambda name: panel.locator(f"dd[data-field='{name}']").inner_text()  # noqa: E731
    assert panel.locator(".jp-CogmentPanel-runtimeState").inner_text() == "running"
    for name in ("orchestrator", "datastore", "model_registry"):  # private sockets, shown by their file name
        socket = status["endpoints"][name].rpartition("%2F")[2]
        assert field(name) == f"{socket} (this user only)"
    assert field("pid") == str(status["pid"])
    assert field("restarts").startswith(str(status["restarts"]))
    for name, version in status["versions"].items():
        assert f"{name} {version}" in field("versions")
    assert field("uptime").endswith(" s") or "min" in field("uptime")

    # a trial on the shared orchestrator, and one in the kernel
    shared_id = last_line(nb, nb.append_and_run(START_SHARED))
    local_id = last_line(nb, nb.append_and_run(START_IN_KERNEL))
    shared_row = page.locator(row(shared_id))
    shared_row.locator("button.jp-CogmentPanel-terminate").wait_for(state="visible", timeout=15_000)
    page.wait_for_selector(f"{row(shared_id)}[data-state='RUNNING']")
    assert shared_row.locator(".jp-CogmentPanel-env").inner_text() == "endless"
    assert shared_row.locator(".jp-CogmentPanel-actors").inner_text() == "player"  # a client: no implementation
    assert shared_row.locator(".jp-CogmentPanel-id").inner_text() == shared_id.split("-")[0]
    assert shared_id in (shared_row.locator(".jp-CogmentPanel-trialCell").get_attribute("title") or "")
    page.wait_for_function(  # the tick goes on
        "sel => +document.querySelector(sel).innerText.replace('tick ', '') > 0",
        arg=f"{row(shared_id)} .jp-CogmentPanel-tick",
    )
    local_row = page.locator(row(local_id))
    local_row.locator("td.jp-CogmentPanel-action[data-kind='kernel']").wait_for(timeout=15_000)
    assert local_row.locator("button").count() == 0
    assert "in kernel" in local_row.inner_text()
    assert local_row.locator(".jp-CogmentPanel-actors").inner_text() == "player: slow"
    assert panel.locator(".jp-CogmentPanel-count").inner_text() == "2 running"
    panel.screenshot(path=str(artifacts / "1-running.png"))

    # Terminate: the trial ends, on the orchestrator and in the datastore
    shared_row.locator("button.jp-CogmentPanel-terminate").click()
    page.wait_for_selector(f"{row(shared_id)}[data-state='ENDED']", timeout=20_000)
    assert shared_row.locator("button").count() == 0
    nb.append_and_run("joined.result(30); print(shared.wait(30).state)")
    assert nb.output_text(-1).strip().endswith("ENDED")
    assert panel.locator(".jp-CogmentPanel-notice").is_hidden()
    nb.append_and_run("local.cancel(); print(local.wait(30).state)")
    page.wait_for_selector(f"{row(local_id)}[data-state='ENDED']", timeout=20_000)
    panel.screenshot(path=str(artifacts / "2-terminated.png"))
    assert not [m for m in page.console_messages_seen if "cogment" in m.lower()]


def open_panel(page: Any, jupyter: JupyterServer) -> Any:
    page.goto(f"{jupyter.base}/lab?reset", wait_until="domcontentloaded")
    page.locator(TAB).click()
    panel = page.locator(PANEL)
    panel.wait_for(state="visible")
    return panel


def test_panel_says_what_is_wrong_without_the_server_extension(
    jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    """What the server answers is replaced in the browser: no second server needed."""
    answers: dict[str, Any] = {"status": 404}
    asked: list[str] = []

    def reply(route: Any) -> None:
        asked.append(route.request.url)
        answer = answers["status"]
        if answer == "abort":
            route.abort("connectionrefused")
        elif isinstance(answer, dict):
            route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))
        else:
            route.fulfill(status=answer, content_type="text/html", body="<html>404: Not Found</html>")

    page.route("**/cogment/api/**", reply)
    panel = open_panel(page, jupyter)
    problem = panel.locator(".jp-CogmentPanel-problem")
    problem.wait_for(state="visible")
    assert "server extension does not answer" in problem.inner_text()
    assert "jupyter server extension list" in problem.inner_text()
    assert panel.get_attribute("data-runtime-state") == "unavailable"
    assert panel.locator(".jp-CogmentPanel-trials").is_hidden()
    panel.screenshot(path=str(artifacts / "1-no-extension.png"))

    answers["status"] = "abort"  # the server went away
    page.locator(f"{PANEL} .jp-CogmentPanel-header button").click()
    page.wait_for_function(
        "sel => document.querySelector(sel).innerText.includes('cannot be reached')",
        arg=f"{PANEL} .jp-CogmentPanel-problem",
    )

    # a runtime that starts on first use: the panel only observes, and offers to start it
    answers["status"] = {
        **rest_status(jupyter),
        "state": "stopped",
        "auto_start": False,
        "endpoints": None,
        "pid": None,
    }
    asked.clear()
    page.locator(f"{PANEL} .jp-CogmentPanel-header button").click()
    page.wait_for_selector(f"{PANEL}[data-runtime-state='stopped']")
    assert problem.is_hidden()
    assert panel.locator(".jp-CogmentPanel-runtimeState").inner_text() == "not started"
    assert panel.locator("button.jp-CogmentPanel-restart").inner_text() == "Start runtime"
    assert "auto_start is off" in panel.locator(".jp-CogmentPanel-note").inner_text()
    assert all(url.split("/cogment/api/")[1].startswith("status") for url in asked), asked
    panel.screenshot(path=str(artifacts / "2-not-started.png"))


TOKEN = "cogment-panel-test-token"


class TokenServer(JupyterServer):
    """The harness's server with a token, the XSRF check on, and a runtime that starts on first use."""

    def _write_config(self, cfg: Path) -> None:
        super()._write_config(cfg)
        with open(cfg / "jupyter_server_config.py", "a") as f:
            f.write(
                f"c.IdentityProvider.token = {TOKEN!r}\n"
                "c.ServerApp.disable_check_xsrf = False\n"
                "c.CogmentJupyter.auto_start = False\n"
            )

    def request(self, path: str, method: str = "GET") -> Any:
        data = b"" if method == "POST" else None
        headers = {"Authorization": f"token {TOKEN}"}
        return urllib.request.urlopen(
            urllib.request.Request(f"{self.base}{path}", method=method, data=data, headers=headers), timeout=5
        )

    def _answers(self) -> bool:
        try:
            with self.request("/api/status") as reply:
                return reply.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.request("/api/shutdown", "POST").close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        super().stop()


@pytest.fixture(scope="module")
def token_server(browser_requirements: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    work = tmp_path_factory.mktemp("jupyter-token")
    server = TokenServer(root=work / "root", workdir=work)
    server.start()
    yield server
    server.stop()


def test_panel_with_a_token_and_xsrf_starts_a_runtime_that_waits_for_first_use(
    token_server: TokenServer, browser: Any, artifacts: Path, request: pytest.FixtureRequest
) -> None:
    """ServerConnection sends the token (GET) and the XSRF header (POST); the panel's polling
    does not start a runtime that waits for its first use, its Start button does."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{token_server.base}/cogment/api/status", timeout=5)
        assert anonymous.value.code == 403
        page.goto(f"{token_server.base}/lab?reset&token={TOKEN}", wait_until="domcontentloaded")
        page.locator(TAB).click()
        panel = page.locator(PANEL)
        page.wait_for_selector(f"{PANEL}[data-runtime-state='stopped']")
        assert panel.locator(".jp-CogmentPanel-runtimeState").inner_text() == "not started"
        page.wait_for_timeout(2200)  # a poll later: still not started
        assert json.loads(token_server.request("/cogment/api/status").read())["state"] == "stopped"
        panel.screenshot(path=str(artifacts / "1-not-started.png"))

        panel.locator("button.jp-CogmentPanel-restart").click()
        page.wait_for_selector(f"{PANEL}[data-runtime-state='running']", timeout=30_000)
        assert panel.locator(".jp-CogmentPanel-restart").is_hidden()
        status = json.loads(token_server.request("/cogment/api/status").read())
        assert status["state"] == "running"
        assert panel.locator("dd[data-field='pid']").inner_text() == str(status["pid"])
        page.wait_for_function(
            "sel => document.querySelector(sel).innerText.includes('No trials')",
            arg=f"{PANEL} .jp-CogmentPanel-message",
        )
        assert panel.locator(".jp-CogmentPanel-problem").is_hidden()
        panel.screenshot(path=str(artifacts / "2-started.png"))
    except BaseException:
        page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
