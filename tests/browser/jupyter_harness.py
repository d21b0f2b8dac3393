"""A real Jupyter server and Debian's headless Chromium, driven through Python Playwright.

The project's own browser harness (modelled on shared/tools/jupyter-browser/run_notebook.py,
which clones of the project do not have). Used by the browser tests' fixtures and by
bench/play_latency.py. Never downloads a browser: it runs /usr/bin/chromium (apt package
``chromium``), and the server is the venv's ``jupyter lab``, which also serves Notebook 7.

Test-only settings: no token, no XSRF check, 127.0.0.1 on a free port, private config,
runtime and workspace dirs, news and update checks off, every cell kept in the DOM.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CHROMIUM = os.environ.get("COGMENT_JUPYTER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]

UI = Literal["lab", "notebook"]


def missing_requirements() -> str | None:
    """Why the browser harness cannot run here, or None when it can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing (uv sync --group dev)"
    if not _jupyter_executable().exists() and not shutil.which("jupyter"):
        return "jupyter (jupyterlab) is not installed in this environment"
    return None


def _jupyter_executable() -> Path:
    return Path(sys.executable).with_name("jupyter")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# notebooks


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """Write a Python 3 notebook of code cells (markdown when a cell starts with '# %% md')."""
    nb_cells = []
    for i, src in enumerate(cells):
        if src.startswith("# %% md\n"):
            nb_cells.append({"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": src[len("# %% md\n") :]})
        else:
            nb_cells.append(
                {
                    "cell_type": "code",
                    "id": f"c{i}",
                    "metadata": {},
                    "execution_count": None,
                    "outputs": [],
                    "source": src,
                }
            )
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": nb_cells,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path


# ---------------------------------------------------------------------------------------------
# the server


NODELAY_PATCH = """
# measurement only: disable Nagle's algorithm on kernel websockets (small frames and acks)
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler as _KWH
_kwh_open = _KWH.open
async def _open_nodelay(self, kernel_id):
    self.set_nodelay(True)
    return await _kwh_open(self, kernel_id)
_KWH.open = _open_nodelay
"""


@dataclass
class JupyterServer:
    """``jupyter lab`` in its own process group, serving ``root`` on 127.0.0.1."""

    root: Path
    workdir: Path
    #: set TCP_NODELAY on kernel websockets (jupyter_server leaves Nagle on); for measurements
    nodelay: bool = False
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "jupyter-server.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, nb: str, ui: UI = "lab") -> str:
        quoted = urllib.request.quote(nb)
        return f"{self.base}/lab/tree/{quoted}?reset" if ui == "lab" else f"{self.base}/notebooks/{quoted}"

    def _write_config(self, cfg: Path) -> None:
        (cfg / "jupyter_server_config.py").write_text(
            "c = get_config()  # noqa\n"
            "c.IdentityProvider.token = ''\n"
            "c.ServerApp.password = ''\n"
            "c.ServerApp.disable_check_xsrf = True\n"
            "c.ServerApp.open_browser = False\n"
            "c.ServerApp.allow_root = True\n"
            "c.ServerApp.terminals_enabled = False\n"
            f"c.LabApp.workspaces_dir = {str(self.workdir / 'workspaces')!r}\n"
            "c.LabApp.expose_app_in_browser = True\n"
            "c.LabApp.news_url = None\n"
            "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n"
            "c.JupyterNotebookApp.expose_app_in_browser = True\n" + (NODELAY_PATCH if self.nodelay else "")
        )
        settings = {
            "apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
            "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        }
        for rel, value in settings.items():
            f = cfg / "lab" / "user-settings" / "@jupyterlab" / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))

    def start(self, timeout_s: float = 60.0, extra_env: dict[str, str] | None = None) -> None:
        cfg, runtime = self.workdir / "config", self.workdir / "runtime"
        for d in (cfg, runtime, self.workdir / "workspaces", self.root):
            d.mkdir(parents=True, exist_ok=True)
        self._write_config(cfg)
        jupyter = str(_jupyter_executable()) if _jupyter_executable().exists() else "jupyter"
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(cfg),
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        env.pop("JUPYTER_TOKEN", None)
        deadline = time.monotonic() + timeout_s
        for _attempt in range(3):  # the free port may be taken before the server binds it
            self.port = free_port()
            cmd = [
                jupyter, "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                "--ServerApp.port_retries=0", f"--ServerApp.root_dir={self.root}",
                "--ServerApp.open_browser=False",
            ]  # fmt: skip
            with open(self.log_path, "ab") as logf:
                self.proc = subprocess.Popen(
                    cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._answers():
                    return
                time.sleep(0.2)
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError(f"jupyter lab did not answer within {timeout_s:.0f}s; see {self.log_path}")
        raise RuntimeError(f"jupyter lab would not start; see {self.log_path}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/api/status", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Shut down politely, then end the server's process group (its kernels are in it)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(urllib.error.URLError, OSError):
                req = urllib.request.Request(f"{self.base}/api/shutdown", method="POST", data=b"")
                urllib.request.urlopen(req, timeout=5).close()
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    @contextlib.contextmanager
    def lab_setting(self, plugin: str, values: dict[str, Any]) -> Iterator[None]:
        """JupyterLab user settings of ``plugin`` (``@jupyterlab/apputils-extension:kernels-settings``) for the
        pages opened meanwhile; the earlier ones afterwards."""
        url = f"{self.base}/lab/api/settings/{plugin}"

        def put(raw: str) -> None:
            body = json.dumps({"raw": raw}).encode()
            req = urllib.request.Request(url, method="PUT", data=body, headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10).close()

        with urllib.request.urlopen(url, timeout=10) as r:
            before = json.loads(r.read()).get("raw") or "{}"
        put(json.dumps(values))
        try:
            yield
        finally:
            put(before)

    def shutdown_kernels(self) -> None:
        """Stop every kernel (between tests) so they do not compete for the 2 cores."""
        try:
            with urllib.request.urlopen(f"{self.base}/api/kernels", timeout=5) as r:
                kernels = json.loads(r.read())
        except (urllib.error.URLError, OSError):
            return
        for k in kernels:
            with contextlib.suppress(urllib.error.URLError, OSError):
                req = urllib.request.Request(f"{self.base}/api/kernels/{k['id']}", method="DELETE")
                urllib.request.urlopen(req, timeout=10).close()


@contextlib.contextmanager
def running_server(root: Path, workdir: Path, nodelay: bool = False) -> Iterator[JupyterServer]:
    server = JupyterServer(root=root, workdir=workdir, nodelay=nodelay)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# in-page helpers: the JupyterLab / Notebook 7 application object (exposed by the config above)

PAGE_JS = r"""
window.__cj = {
  app() { return window.jupyterapp || null; },
  panel(path) {
    const app = this.app();
    if (!app || !app.shell) return null;
    for (const w of app.shell.widgets('main')) {
      if (w && w.context && w.context.path === path) return w;
    }
    return null;
  },
  state(path) {
    const p = this.panel(path);
    const dlg = document.querySelector('.jp-Dialog');
    const s = { app: !!this.app(), panel: !!p, dialog: dlg ? dlg.innerText.slice(0, 300) : null };
    if (!p) return s;
    const sc = p.sessionContext;
    const k = sc && sc.session && sc.session.kernel;
    s.contextReady = p.context.isReady;
    s.kernelStatus = k ? k.status : null;
    s.nCells = p.content.widgets.length;
    s.running = 0;
    s.errors = [];
    for (const c of p.content.widgets) {
      if (c.model.type !== 'code') continue;
      if (c.model.executionState === 'running') s.running++;
      for (const o of c.model.outputs.toJSON()) {
        if (o.output_type === 'error') s.errors.push(o.ename + ': ' + o.evalue);
      }
    }
    return s;
  },
  async run(path, command, index) {
    const p = this.panel(path);
    if (!p) throw new Error('no notebook panel for ' + path);
    this.app().shell.activateById(p.id);
    if (index !== null && index !== undefined) {
      const n = p.content.widgets.length;
      p.content.activeCellIndex = index < 0 ? n + index : index;
      p.content.deselectAll();
    }
    await this.app().commands.execute(command);
    return p.content.activeCellIndex;
  },
  async command(path, command) {
    const p = this.panel(path);
    this.app().shell.activateById(p.id);
    await this.app().commands.execute(command);
    return true;
  },
  async appendAndRun(path, code) {
    const p = this.panel(path);
    this.app().shell.activateById(p.id);
    p.content.activeCellIndex = p.content.widgets.length - 1;
    p.content.deselectAll();
    await this.app().commands.execute('notebook:insert-cell-below');
    p.content.activeCell.model.sharedModel.setSource(code);
    await this.app().commands.execute('notebook:run-cell');
    return p.content.widgets.length - 1;
  },
  outputs(path, index) {
    const p = this.panel(path);
    const c = p.content.widgets[index < 0 ? p.content.widgets.length + index : index];
    return c.model.outputs.toJSON().map(o => {
      if (o.output_type === 'stream') return Array.isArray(o.text) ? o.text.join('') : String(o.text);
      if (o.output_type === 'error') return o.ename + ': ' + o.evalue;
      const t = (o.data || {})['text/plain'];
      return t === undefined ? '' : (Array.isArray(t) ? t.join('') : String(t));
    }).join('');
  },
};
"""


FOCUSED_JS = r"""() => {
  const e = document.activeElement;
  if (!e) return '';
  const names = typeof e.className === 'string' ? e.className.trim().split(/\s+/).filter(Boolean) : [];
  return [e.tagName.toLowerCase(), ...names].join('.');
}"""


class NotebookPage:
    """One notebook open in JupyterLab or Notebook 7, with the waits and inputs tests need."""

    def __init__(self, page: Any, server: JupyterServer, path: str, ui: UI = "lab") -> None:
        self.page, self.server, self.path, self.ui = page, server, path, ui
        #: cell errors a test caused on purpose (``wait_kernel_idle(errors_ok=True)``)
        self.expected_errors: set[str] = set()
        self.page.add_init_script(PAGE_JS)

    def state(self) -> dict[str, Any]:
        return self.page.evaluate("p => window.__cj.state(p)", self.path)

    def open(self, timeout_s: float = 60.0) -> None:
        self.page.goto(self.server.url(self.path, self.ui), wait_until="domcontentloaded")
        self.wait_kernel_idle(timeout_s, what="the notebook and its kernel")
        self.page.wait_for_selector(".jp-Notebook .jp-Cell >> visible=true", timeout=timeout_s * 1000)

    def reload(self, timeout_s: float = 60.0) -> None:
        self.page.reload(wait_until="domcontentloaded")
        self.wait_kernel_idle(timeout_s, what="the reloaded notebook")

    def wait_kernel_idle(
        self, timeout_s: float = 60.0, settle_ms: int = 300, what: str = "the kernel", errors_ok: bool = False
    ) -> None:
        """Until the kernel is idle and no cell runs, for ``settle_ms`` in a row; fails on cell errors
        (unless ``errors_ok``: a cell meant to fail)."""
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        s: dict[str, Any] = {}
        while time.monotonic() < deadline:
            s = self.state()
            if s.get("dialog"):
                if "Select Kernel" in s["dialog"] or "kernel" in s["dialog"].lower():
                    self.page.click(".jp-Dialog .jp-mod-accept", timeout=5000)
                    continue
                raise AssertionError(f"a dialog is open while waiting for {what}: {s['dialog']!r}")
            new_errors = [e for e in s.get("errors", []) if e not in self.expected_errors]
            if new_errors and not errors_ok:
                raise AssertionError(f"a cell raised: {new_errors}")
            if s.get("contextReady") and s.get("kernelStatus") == "idle" and s.get("running") == 0:
                quiet_since = quiet_since or time.monotonic()
                if (time.monotonic() - quiet_since) * 1000 >= settle_ms:
                    if errors_ok:  # the errors seen so far were meant: later waits ignore them
                        self.expected_errors.update(s.get("errors", []))
                    return
            else:
                quiet_since = None
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last state {s}")

    def run_all(self, timeout_s: float = 90.0) -> None:
        self.page.evaluate("p => window.__cj.run(p, 'notebook:run-all-cells', null)", self.path)
        self.wait_kernel_idle(timeout_s, what="run all")

    def run_cell(self, index: int, timeout_s: float = 60.0) -> None:
        self.page.evaluate("([p, i]) => window.__cj.run(p, 'notebook:run-cell', i)", [self.path, index])
        self.wait_kernel_idle(timeout_s, what=f"cell {index}")

    def append_and_run(self, code: str, timeout_s: float = 60.0) -> int:
        index = self.page.evaluate("([p, c]) => window.__cj.appendAndRun(p, c)", [self.path, code])
        self.wait_kernel_idle(timeout_s, what="the appended cell")
        return int(index)

    def value(self, expression: str, timeout_s: float = 60.0) -> Any:
        """Evaluate a Python expression in a new cell of the notebook and return it (through JSON)."""
        index = self.append_and_run(f"import json as _json; print(_json.dumps({expression}))", timeout_s)
        return json.loads(self.output_text(index).strip().splitlines()[-1])

    def start_cell(self, code: str) -> None:
        """Append a cell and start running it without waiting for it (it may wait for a person)."""
        self.page.evaluate("([p, c]) => { window.__cj.appendAndRun(p, c); return true; }", [self.path, code])
        self.page.wait_for_function(
            "p => { const s = window.__cj.state(p); return s.running > 0 || s.kernelStatus === 'busy'; }",
            arg=self.path,
        )

    def press_each(self, keys: list[str], widget: str = ".cj-play") -> None:
        """Press the keys one by one, each once the turn-based round in ``widget`` took the one
        before (its frame shows the next tick), as a person plays."""
        tick = int(self.wait_attr(widget, "data-tick", "v => v !== null"))
        for n, key in enumerate(keys, start=tick + 1):
            self.page.keyboard.press(key)
            self.wait_attr(widget, "data-tick", f"v => +v >= {n}", timeout_s=30)

    def command(self, command: str) -> None:
        """Run one of the notebook's commands (``notebook:interrupt-kernel``...), as its menu would."""
        self.page.evaluate("([p, c]) => window.__cj.command(p, c)", [self.path, command])

    def output_text(self, index: int) -> str:
        return str(self.page.evaluate("([p, i]) => window.__cj.outputs(p, i)", [self.path, index]))

    def cell_count(self) -> int:
        return int(self.state()["nCells"])

    def save(self) -> None:
        self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        self.page.wait_for_timeout(300)

    def focused_element(self) -> str:
        return str(self.page.evaluate(FOCUSED_JS))

    def wait_attr(
        self, selector: str, attr: str, js_predicate: str = "v => v !== null", timeout_s: float = 20.0
    ) -> str:
        """Wait until the first visible ``selector``'s ``attr`` satisfies ``js_predicate``; return it."""
        handle = self.page.wait_for_function(
            f"""([sel, attr]) => {{
                const els = [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null);
                if (!els.length) return false;
                const v = els[0].getAttribute(attr);
                return ({js_predicate})(v) ? (v === null ? 'null' : v) : false;
            }}""",
            arg=[selector, attr],
            timeout=timeout_s * 1000,
        )
        return str(handle.json_value())

    def screenshot(self, path: Path, selector: str | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if selector:
            self.page.locator(selector).first.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path))
        return path


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


def launch_chromium(playwright: Any, *, headless: bool = True) -> Any:
    """Debian's Chromium through Playwright; never a downloaded browser."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=headless, args=CHROMIUM_ARGS, chromium_sandbox=False, timeout=30000
    )


def wait_for_file_lines(path: Path, predicate: Any, timeout_s: float = 20.0) -> list[Any]:
    """Poll a JSON-lines file the kernel writes until ``predicate(records)`` holds; return the records."""
    deadline = time.monotonic() + timeout_s
    records: list[Any] = []
    while time.monotonic() < deadline:
        if path.exists():
            records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if predicate(records):
                return records
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting on {path.name}; it holds {records}")
