"""Run the classroom notebooks as a student would: in JupyterLab, in headless Debian Chromium,
cell after cell, playing the games with the keyboard; screenshots of every notebook afterwards.

    uv run python -m tests.notebooks.student_session            # every notebook
    uv run python -m tests.notebooks.student_session 01 05      # some of them

Screenshots go to ``test-artifacts/notebooks/<notebook>/`` (git-ignored): ``playing.png`` while
a game runs, ``part-N.png`` for the whole notebook after the run (scrolled page by page). The
server is a real ``jupyter lab`` with the project's server extension, so ``%cogment launch``
shares its runtime, as it would in a class. No stand-in: the keys go through the browser.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.browser.jupyter_harness import JupyterServer, NotebookPage, launch_chromium, missing_requirements

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts" / "notebooks"
PLAY = ".cj-play"
STAGE = ".cj-play-stage"
VIEWPORT = {"width": 1280, "height": 1000}

#: what the student presses in each notebook's games
KEYS = {
    "01": ["ArrowLeft", "ArrowRight"],
    "02": ["ArrowLeft", "ArrowRight"],
    "03": ["ArrowLeft", "ArrowRight"],
    "04": ["ArrowUp", "ArrowDown"],
    "05": ["+", "-"],
}

SCROLLER = """() => {
  const panels = [...document.querySelectorAll('.jp-NotebookPanel')]
    .filter(p => !p.classList.contains('lm-mod-hidden'));
  const p = panels[panels.length - 1];
  return p ? p.querySelector('.jp-WindowedPanel-outer') : null;
}"""


def fire_cell(nb: NotebookPage, index: int) -> None:
    """Start running cell ``index`` without waiting for it (it may wait for the player)."""
    nb.page.evaluate(
        "([p, i]) => { window.__cj.run(p, 'notebook:run-cell', i); return true; }",
        [nb.path, index],
    )


def cell_source(nb: NotebookPage, index: int) -> tuple[str, str]:
    return tuple(
        nb.page.evaluate(
            """([p, i]) => {
                const m = window.__cj.panel(p).content.widgets[i].model;
                return [m.type, m.sharedModel.getSource()];
            }""",
            [nb.path, index],
        )
    )


def mark_game(nb: NotebookPage, index: int) -> Any:
    """The game widget in cell ``index``, tagged so that later widgets (replays) are not mistaken for it."""
    nb.page.wait_for_function(
        """([p, i]) => {
            const el = window.__cj.panel(p).content.widgets[i].node.querySelector('.cj-play');
            if (!el) return false;
            document.querySelectorAll('[data-student-game]').forEach(e => e.removeAttribute('data-student-game'));
            el.setAttribute('data-student-game', '1');
            return true;
        }""",
        arg=[nb.path, index],
        timeout=30_000,
    )
    return nb.page.locator("[data-student-game]")


def press_for(nb: NotebookPage, keys: list[str], seconds: float, rng: random.Random) -> None:
    """A student at the keyboard: short presses and holds of the game's keys."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        key = rng.choice(keys)
        nb.page.keyboard.down(key)
        nb.page.wait_for_timeout(rng.randint(60, 250))
        nb.page.keyboard.up(key)
        nb.page.wait_for_timeout(rng.randint(30, 200))


def play_rounds(nb: NotebookPage, game: Any, keys: list[str], rounds: int, rng: random.Random, shot: Path) -> None:
    """Click the game, then play ``rounds`` rounds (Play again after each), screenshot mid-game."""
    game.locator(STAGE).click()
    for n in range(rounds):
        if game.get_attribute("data-state") == "ended":
            game.locator(".cj-play-again").click()
        press_for(nb, keys, 0.4, rng)
        if n == 0:
            nb.screenshot(shot)
        press_for(nb, keys, 1.0, rng)
        deadline = time.monotonic() + 30
        while game.get_attribute("data-state") != "ended" and time.monotonic() < deadline:
            press_for(nb, keys, 1.0, rng)


def busy(nb: NotebookPage) -> bool:
    s = nb.state()
    return s.get("kernelStatus") != "idle" or s.get("running", 0) > 0


def screenshot_notebook(nb: NotebookPage, out: Path) -> list[Path]:
    """The whole notebook, one viewport at a time."""
    page = nb.page
    page.evaluate(f"() => {{ const s = ({SCROLLER})(); if (s) s.scrollTop = 0; }}")
    total = page.evaluate(f"() => {{ const s = ({SCROLLER})(); return s ? s.scrollHeight : 0; }}")
    visible = page.evaluate(f"() => {{ const s = ({SCROLLER})(); return s ? s.clientHeight : 0; }}")
    shots = []
    y, part = 0, 1
    while True:
        page.evaluate(f"y => {{ const s = ({SCROLLER})(); if (s) s.scrollTop = y; }}", y)
        page.wait_for_timeout(300)
        shots.append(nb.screenshot(out / f"part-{part}.png"))
        if y + visible >= total or visible <= 0:
            break
        y += visible - 60
        part += 1
    return shots


def run_notebook(page: Any, server: JupyterServer, name: str, rng: random.Random) -> dict[str, Any]:
    number = name[:2]
    out = ARTIFACTS / Path(name).stem
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(NOTEBOOKS / name, server.root / name)
    nb = NotebookPage(page, server, name)
    nb.open(timeout_s=90)
    n_cells = nb.cell_count()
    keys = KEYS.get(number)
    game = None
    started = time.monotonic()
    for index in range(n_cells):
        kind, source = cell_source(nb, index)
        if kind != "code":
            continue
        fire_cell(nb, index)
        page.wait_for_timeout(500)
        # while a cell runs (it may wait for the round to end) the student keeps playing
        deadline = time.monotonic() + 240
        while busy(nb) and time.monotonic() < deadline:
            if keys and game is not None and game.get_attribute("data-state") == "running":
                press_for(nb, keys, 1.0, rng)
            else:
                page.wait_for_timeout(200)
        nb.wait_kernel_idle(60, what=f"{name} cell {index}")
        if keys and ("lab.play(" in source or "lab.feedback(" in source):
            game = mark_game(nb, index)
            nb.wait_attr("[data-student-game]", "data-frames-painted", "v => +v >= 3", timeout_s=30)
            play_rounds(nb, game, keys, 1 if number == "05" else 3, rng, out / "playing.png")
    shots = screenshot_notebook(nb, out)
    state = nb.state()
    (out / "state.json").write_text(json.dumps(state, indent=1))
    server.shutdown_kernels()
    return {"notebook": name, "seconds": round(time.monotonic() - started, 1), "errors": state.get("errors"),
            "screenshots": [str(p.relative_to(REPO)) for p in shots]}  # fmt: skip


def main(argv: list[str]) -> int:
    why = missing_requirements()
    if why:
        print(f"cannot run: {why}")
        return 2
    from playwright.sync_api import sync_playwright

    names = sorted(p.name for p in NOTEBOOKS.glob("0[1-7]_*.ipynb"))
    if argv:
        names = [n for n in names if any(n.startswith(a) for a in argv)]
    rng = random.Random(3)
    results = []
    with tempfile.TemporaryDirectory() as work:
        server = JupyterServer(root=Path(work) / "root", workdir=Path(work))
        server.start()
        try:
            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                context = browser.new_context(viewport=VIEWPORT)
                context.set_default_timeout(30_000)
                page = context.new_page()
                for name in names:
                    try:
                        results.append(run_notebook(page, server, name, rng))
                    except Exception as error:  # keep going: report every notebook
                        results.append({"notebook": name, "failed": repr(error)[:500]})
                        with_error = ARTIFACTS / Path(name).stem / "failure.png"
                        page.screenshot(path=str(with_error))
                    print(json.dumps(results[-1]), flush=True)
                browser.close()
        finally:
            shutil.copy(server.log_path, ARTIFACTS / "jupyter-server.log")
            server.stop()
    return 1 if any(r.get("failed") or r.get("errors") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
