"""What a person sees when the kernel is interrupted, restarted or shut down, and when a key map
is wrong: in a real JupyterLab and Notebook 7, through their own commands."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.interrupt_checks import recorded_trials, summary_counts, unchanged_for
from tests.waiting import wait_for

from .jupyter_harness import NotebookPage
from .widgets import PLAY, SETUP, STAGE, UIS

PLAY_CELL = 'w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=3)\nw'


def cell_output_text(nb: NotebookPage, index: int) -> str:
    """What the page shows under cell ``index`` (the rendered output, not the model)."""
    return str(
        nb.page.evaluate(
            "([p, i]) => { const w = window.__cj.panel(p).content.widgets; "
            "const c = w[i < 0 ? w.length + i : i]; const o = c.node.querySelector('.jp-OutputArea'); "
            "return o ? o.innerText : ''; }",
            [nb.path, index],
        )
    )


@pytest.mark.parametrize("ui", UIS)
def test_interrupting_run_trials_stops_it_within_a_second(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str
) -> None:
    nb = open_notebook([SETUP], ui=ui, name=f"interrupt_{ui}.ipynb")
    nb.run_all()
    db = Path(nb.value("str(lab.datastore.file)"))
    before = recorded_trials(db)
    nb.start_cell("hs = lab.run_trials(20000, 'cartpole', 'random')")
    wait_for(lambda: recorded_trials(db) > before + 50, 120, "the batch recording trials")
    nb.command("notebook:interrupt-kernel")
    interrupted_at = time.monotonic()
    nb.wait_kernel_idle(60, what="the interrupted cell", errors_ok=True)
    time.sleep(max(0.0, interrupted_at + 1.0 - time.monotonic()))
    final = unchanged_for(2.0, lambda: recorded_trials(db))  # stopped growing within 1 s
    assert before + 50 < final < before + 20000
    shown = cell_output_text(nb, -1)
    assert "run_trials interrupted: " in shown and " of 20,000 trials finished" in shown
    assert "Traceback" not in shown and "concurrent" not in shown and ".py" not in shown
    assert nb.value("len(__import__('tqdm').tqdm._instances)") == 0  # the progress bar is closed
    finished, cancelled = summary_counts(shown)
    assert finished + cancelled == final - before  # every trial it started is recorded


@pytest.mark.parametrize("ui", UIS)
def test_a_widget_whose_kernel_restarted_says_so_and_its_cell_plays_again(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str, artifacts: Path
) -> None:
    nb = open_notebook([SETUP, PLAY_CELL], ui=ui, name=f"restart_{ui}.ipynb")
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
    page.evaluate("p => { window.__cj.panel(p).sessionContext.restartKernel(); return true; }", nb.path)
    nb.wait_attr(PLAY, "data-kernel", "v => v === 'gone'", timeout_s=60)
    widget = page.locator(PLAY).first
    nb.screenshot(artifacts / "kernel-gone.png", PLAY)
    assert "This game stopped: the kernel restarted" in widget.inner_text()
    assert "Run the cell again to play" in widget.inner_text()
    assert widget.locator(".cj-play-pause").is_disabled() and widget.locator(".cj-play-restart").is_disabled()
    nb.wait_kernel_idle(60, what="the restarted kernel")
    cells = nb.cell_count()
    widget.locator(STAGE).click()  # nothing to play: no error, and no key reaches the notebook's shortcuts
    for key in ["ArrowLeft", "a", "b"]:
        page.keyboard.press(key)
    assert nb.cell_count() == cells
    assert not [m for m in page.console_messages_seen if "Cannot send" in m]

    nb.run_all()  # the cells again: a live widget, and its keys are recorded
    nb.wait_attr(PLAY, "data-kernel", "v => v === 'alive'", timeout_s=60)
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
    page.locator(STAGE).first.click()
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")
    nb.press_each(["ArrowRight", "ArrowLeft", "ArrowRight", "ArrowLeft"])
    nb.wait_attr(PLAY, "data-state", "v => v === 'ended'", timeout_s=60)
    assert nb.value("lab.steps(w.trial.wait(30).id)['action'].dropna().astype(int).tolist()") == [1, 0, 1, 0]
    assert "Enter / Space" in page.locator(".cj-play-end").first.inner_text()
    page.locator(STAGE).first.click(position={"x": 8, "y": 8})  # the keyboard back to the game (not its button)
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")
    page.keyboard.press("Enter")  # the end screen: Enter starts the next round
    nb.wait_attr(PLAY, "data-state", "v => v === 'running'", timeout_s=60)
    assert nb.value("len(w.trials)") == 2


def test_a_widget_whose_kernel_died_says_so(open_notebook: Callable[..., NotebookPage], page: Any) -> None:
    nb = open_notebook([SETUP, PLAY_CELL], name="died.ipynb")
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
    nb.start_cell("import os; os._exit(1)")  # the kernel process dies; the server starts another
    nb.wait_attr(PLAY, "data-kernel", "v => v === 'gone'", timeout_s=60)
    text = page.locator(PLAY).first.inner_text()  # the page may learn it from the restart before the death
    assert "This game stopped: the kernel died" in text or "This game stopped: the kernel restarted" in text


def test_a_widget_whose_kernel_was_shut_down_says_so(open_notebook: Callable[..., NotebookPage], page: Any) -> None:
    nb = open_notebook([SETUP, PLAY_CELL], name="shutdown.ipynb")
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
    page.evaluate("p => { window.__cj.panel(p).sessionContext.shutdown(); return true; }", nb.path)
    nb.wait_attr(PLAY, "data-kernel", "v => v === 'gone'", timeout_s=60)
    assert "This game stopped: the kernel was shut down" in page.locator(PLAY).first.inner_text()


@pytest.mark.parametrize(
    ("ui", "bad", "says"),
    [
        *[
            (
                ui,
                'lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 5}, noop=0)',
                "key 'ArrowRight' is mapped to 5, which is not an action of Discrete(2)",
            )
            for ui in UIS
        ],
        (  # a discrete key map on a continuous action space
            "lab",
            'lab.serve_env("pendulum", envs.Gymnasium("Pendulum-v1"))\n'
            'lab.play("pendulum", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0)',
            "key 'ArrowLeft' is mapped to 0, which is not an action of Box(",
        ),
    ],
    ids=[*(f"{ui}-discrete" for ui in UIS), "lab-box"],
)
def test_a_bad_key_map_is_an_error_in_the_cell_and_no_widget(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str, bad: str, says: str
) -> None:
    nb = open_notebook([SETUP, bad], ui=ui, name=f"badmap_{ui}_{len(bad)}.ipynb")
    nb.page.evaluate("p => window.__cj.run(p, 'notebook:run-all-cells', null)", nb.path)
    nb.wait_kernel_idle(90, what="run all", errors_ok=True)
    shown = cell_output_text(nb, 1)
    assert says in shown
    assert page.locator(PLAY).count() == 0
    assert nb.value("len(lab.handles)") == 0


def test_each_notebook_sees_its_own_trials_on_the_shared_runtime(
    open_notebook: Callable[..., NotebookPage], page: Any
) -> None:
    ran: dict[str, list[str]] = {}
    for name, n in (("scope_first.ipynb", 3), ("scope_second.ipynb", 5)):  # two kernels, one server
        nb = open_notebook([SETUP, f"hs = lab.run_trials({n}, 'cartpole', 'random', progress=False)"], name=name)
        nb.run_all()
        ran[name] = nb.value("[h.id for h in hs]")
    assert nb.value("lab.mode") == "shared"  # both recorded into the Jupyter server's runtime
    assert sorted(nb.value("lab.trials()['trial_id'].tolist()")) == sorted(ran["scope_second.ipynb"])
    everything = set(nb.value("lab.trials(scope='all')['trial_id'].tolist()"))
    assert set(ran["scope_first.ipynb"]) | set(ran["scope_second.ipynb"]) <= everything
    page.evaluate("p => { window.__cj.panel(p).sessionContext.restartKernel(); return true; }", nb.path)
    wait_for(lambda: not nb.value("'hs' in globals()"), 60, "the kernel to restart")
    nb.append_and_run(SETUP)  # a new lab in the restarted kernel: the notebook's trials are still its own
    assert sorted(nb.value("lab.trials()['trial_id'].tolist()")) == sorted(ran["scope_second.ipynb"])
