"""A person's keys and clicks reach the trial while a cell runs, in JupyterLab and Notebook 7.

Real key presses in the page while the kernel is busy with another cell; the tests read what
the trial *recorded*. The busy cells wait for the game to end, so input that waited for the
cell would never arrive: the cell would hang and the test fail on its deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .jupyter_harness import JupyterServer, NotebookPage
from .widgets import PLAY, SETUP, STAGE, UIS


def widget_beside_a_busy_cell(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str, widget_cell: str, busy_cell: str, name: str
) -> NotebookPage:
    """Show the widget, start ``busy_cell`` (not waited for), then click the game as a person would
    (the running cell took the notebook's focus)."""
    nb = open_notebook([SETUP, widget_cell], ui=ui, name=f"{name}_{ui}.ipynb")
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
    nb.start_cell(busy_cell)
    page.locator(STAGE).first.click()
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")
    return nb


@pytest.mark.parametrize("ui", UIS)
def test_play_keys_are_recorded_while_a_cell_waits_for_the_game(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str
) -> None:
    play = 'w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=7)\nw'
    busy = "print('game over at tick', w.trial.wait(300).tick)"  # busy until the game ends
    nb = widget_beside_a_busy_cell(open_notebook, page, ui, play, busy, "busy_play")
    # max_steps=7: seven steps, and the action of the tick that reaches the limit (8 in all)
    keys = ["ArrowLeft", "ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft", "ArrowRight", "ArrowLeft", "ArrowRight"]
    nb.press_each(keys)  # each one reaches the round while the cell is busy
    nb.wait_attr(PLAY, "data-state", "v => v === 'ended'", timeout_s=60)
    nb.wait_kernel_idle(60, what="the cell waiting for the game")
    recorded = nb.value("lab.steps(w.trial.id)['action'].dropna().astype(int).tolist()")
    assert recorded == [0 if k == "ArrowLeft" else 1 for k in keys]
    assert nb.value("w.notice") == ""  # the keys came through a subshell, not between cells


@pytest.mark.parametrize("ui", UIS)
def test_feedback_is_recorded_while_a_training_loop_runs(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str
) -> None:
    feedback = 'f = lab.feedback("cartpole", "lean", keys={"+": 1.0, "-": -1.0}, fps=4, max_steps=24)\nf'
    # the episode waits for its person; a pure-Python loop holds the GIL meanwhile, as training does
    busy = "n = 0\nwhile not f.trial.ended:\n    n += sum(i * i for i in range(20_000))\nprint('done')"
    nb = widget_beside_a_busy_cell(open_notebook, page, ui, feedback, busy, "busy_feedback")
    keys = ["+", "-", "+", "-", "+"]
    given = 0.0
    for key in keys:  # each once the one before was given (the widget's return is the sum given)
        page.keyboard.press(key)
        given += 1.0 if key == "+" else -1.0
        nb.wait_attr(PLAY, "data-return", f"v => +v === {given}", timeout_s=30)
    nb.wait_kernel_idle(90, what="the loop running until the episode ends")
    rewards = nb.value("lab.rewards(f.trial.id).query('sender == \"trainer\"')['value'].tolist()")
    assert rewards == [1.0 if k == "+" else -1.0 for k in keys]


def test_taking_over_from_an_agent_is_recorded_while_a_cell_waits(
    open_notebook: Callable[..., NotebookPage], page: Any
) -> None:
    teach = 't = lab.teach("cartpole", "lean", keys={"ArrowRight": 1}, noop=0, fps=20, max_steps=60)\nt'
    busy = "print('interventions', int(lab.interventions(t.trial.wait(300).id)['active'].sum()))"
    nb = widget_beside_a_busy_cell(open_notebook, page, "lab", teach, busy, "busy_teach")
    held_from = int(nb.wait_attr(PLAY, "data-tick", "v => v !== null"))
    page.keyboard.down("ArrowRight")  # the person takes over for a few ticks
    nb.wait_attr(PLAY, "data-tick", f"v => +v >= {held_from + 5}", timeout_s=60)
    page.keyboard.up("ArrowRight")
    nb.wait_kernel_idle(90, what="the cell waiting for the supervised episode")
    taken = nb.value("lab.interventions(t.trial.id).query('active == 1')['executed'].tolist()")
    assert len(taken) >= 3 and set(taken) == {1}  # the ticks the key was held: the person's action


def test_a_replay_scrubs_while_a_cell_waits_for_it(open_notebook: Callable[..., NotebookPage], page: Any) -> None:
    replay = (
        'lab.serve_env("cartpole-frames", envs.Gymnasium("CartPole-v1", render=True))\n'
        'h = lab.start_trial("cartpole-frames", "lean", seed=2, max_steps=40).wait(60)\n'
        "r = lab.replay(h.id, fps=30)\nr"
    )
    # the cell ends only once the replay's controls moved it: their messages must come while it runs
    busy = "import time\nwhile r.view.tick < 20:\n    time.sleep(0.05)\nprint('replayed to', r.view.tick)"
    nb = open_notebook([SETUP, replay], ui="lab", name="busy_replay.ipynb")
    nb.run_all()
    nb.wait_attr(PLAY, "data-state", "v => v === 'replay'", timeout_s=60)
    nb.start_cell(busy)
    page.locator(".widget-play button").first.click()  # play
    nb.wait_attr(PLAY, "data-tick", "v => +v >= 20", timeout_s=60)
    nb.wait_kernel_idle(60, what="the cell waiting for the replay")
    assert "replayed to" in nb.output_text(-1)


def test_a_front_end_without_comm_subshells_is_told_keys_wait_for_cells(
    jupyter: JupyterServer, page: Any, open_notebook: Callable[..., NotebookPage]
) -> None:
    with jupyter.lab_setting("@jupyterlab/apputils-extension:kernels-settings", {"commsOverSubshells": "disabled"}):
        play = 'w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=5)\nw'
        nb = open_notebook([SETUP, play], name="no_subshells.ipynb")
        nb.run_all()
        nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
        page.locator(STAGE).first.click()
        nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")
        nb.press_each(["ArrowRight"])  # the kernel is idle: the key arrives, on its main thread
        notice = page.locator(".cj-play-notice").first
        notice.wait_for(state="visible", timeout=30_000)
        assert "only between cells" in notice.inner_text()
