"""Fixtures for browser tests: one real Jupyter server (JupyterLab + Notebook 7) and one headless
Debian Chromium per session, a fresh page per test, and on failure a screenshot, the browser
console and the server log in test-artifacts/<test>/.

Skips (with the reason) when /usr/bin/chromium or Playwright is missing locally; CI installs both.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .jupyter_harness import (
    JupyterServer,
    NotebookPage,
    launch_chromium,
    missing_requirements,
    safe_name,
    write_notebook,
)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
_counter = itertools.count(1)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Remember each phase's report on the item so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser_requirements() -> None:
    why = missing_requirements()
    if why:
        pytest.skip(f"browser tests need a browser: {why}")


@pytest.fixture(scope="session")
def jupyter(browser_requirements: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """``jupyter lab`` on a free 127.0.0.1 port, no token (test only), fresh root and workspaces."""
    work = tmp_path_factory.mktemp("jupyter")
    server = JupyterServer(root=work / "root", workdir=work)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(browser_requirements: None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, jupyter: JupyterServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; evidence is saved when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    console: list[str] = []
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    pg.console_messages_seen = console
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        out = ARTIFACTS / safe_name(request.node.name)
        out.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(path=str(out / "failure.png"), full_page=True)
        except Exception as e:  # the page may be what broke
            (out / "screenshot-error.txt").write_text(repr(e))
        (out / "console.log").write_text("\n".join(console))
        if jupyter.log_path.exists():
            shutil.copy(jupyter.log_path, out / "jupyter-server.log")
    context.close()
    jupyter.shutdown_kernels()  # kernels of finished tests must not compete for the CPU


@pytest.fixture
def open_notebook(page: Any, jupyter: JupyterServer) -> Callable[..., NotebookPage]:
    """Write a notebook of code cells into the server's root and open it (``ui='lab'|'notebook'``)."""

    def _open(cells: list[str], ui: str = "lab", name: str | None = None) -> NotebookPage:
        nb_name = name or f"nb{next(_counter)}.ipynb"
        write_notebook(jupyter.root / nb_name, cells)
        nb = NotebookPage(page, jupyter, nb_name, ui=ui)  # type: ignore[arg-type]
        nb.open()
        return nb

    return _open


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps screenshots for people to look at (git-ignored)."""
    out = ARTIFACTS / safe_name(request.node.name)
    out.mkdir(parents=True, exist_ok=True)
    return out
