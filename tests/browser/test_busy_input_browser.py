"""A person's keys and clicks reach the trial while a cell runs, in JupyterLab and Notebook 7.

Real key presses in the page while the kernel is busy with another cell; the tests read what
the trial *recorded*. The busy cells wait for the game to end, so input that waited for the
cell would never arrive: the cell would hang and the test fail on its deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .jupyter_harness import NotebookPage

PLAY = ".cj-play"
STAGE = ".cj-play-stage"
UIS = ["lab", "notebook"]

SETUP = """
%load_ext cogment_jupyter
%cogment launch --datastore trials
from cogment_jupyter import envs
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
lab.serve_actor("lean", lambda o: int(o[2] + o[3] > 0))
"""


def take_keyboard(nb: NotebookPage, page: Any) -> None:
    """Click the game (as a person would, after the busy cell took the notebook's focus)."""
    page.locator(STAGE).first.click()
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")


@pytest.mark.parametrize("ui", UIS)
def test_play_keys_are_recorded_while_a_cell_waits_for_the_game(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str
) -> None:
    nb = open_notebook(
        [SETUP, 'w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=7)\nw'],
        ui=ui,
        name=f"busy_play_{ui}.ipynb",
    )
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
    nb.start_cell("print('game over at tick', w.trial.wait(300).tick)")  # busy until the game ends
    take_keyboard(nb, page)
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
    nb = open_notebook(
        [SETUP, 'f = lab.feedback("cartpole", "lean", keys={"+": 1.0, "-": -1.0}, fps=4, max_steps=24)\nf'],
        ui=ui,
        name=f"busy_feedback_{ui}.ipynb",
    )
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
    # the episode waits for its person; a pure-Python loop holds the GIL meanwhile, as training does
    nb.start_cell("n = 0\nwhile not f.trial.ended:\n    n += sum(i * i for i in range(20_000))\nprint('done')")
    take_keyboard(nb, page)
    keys = ["+", "-", "+", "-", "+"]
    given = 0.0
    for key in keys:  # each once the one before was given (the widget's return is the sum given)
        page.keyboard.press(key)
        given += 1.0 if key == "+" else -1.0
        nb.wait_attr(PLAY, "data-return", f"v => +v === {given}", timeout_s=30)
    nb.wait_kernel_idle(90, what="the loop running until the episode ends")
    rewards = nb.value("lab.rewards(f.trial.id).query('sender == \"trainer\"')['value'].tolist()")
    assert rewards == [1.0 if k == "+" else -1.0 for k in keys]
