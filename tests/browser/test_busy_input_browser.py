"""A person's keys and clicks reach the trial whatever the kernel is doing, in JupyterLab and Notebook 7.

Real key presses and clicks in the page, with the kernel idle and while it is busy with another
cell; the tests read what the trial *recorded* (actions, rewards, interventions in order). The
busy cells wait for the game to end, so input that waited for the cell would never arrive: the
cell would hang and the test fail on its deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .jupyter_harness import JupyterServer, NotebookPage
from .widgets import PLAY, SETUP, STAGE, UIS

#: what the kernel does while the person plays: nothing, or another cell that runs until the game ends
KERNEL = ["idle", "busy"]


class Beside:
    """A widget's notebook, and the cell that keeps the kernel busy meanwhile (or none)."""

    def __init__(self, nb: NotebookPage, busy_cell: str | None) -> None:
        self.nb, self.busy_cell = nb, busy_cell

    def done(self, what: str, timeout_s: float = 90.0) -> str:
        """Once the person is done: the busy cell's output (it ended by itself), or '' when idle."""
        if self.busy_cell is None:
            assert self.nb.state()["running"] == 0  # the input came with no cell running
            return ""
        self.nb.wait_kernel_idle(timeout_s, what=what)
        return self.nb.output_text(-1)


def widget_in_a_notebook(
    open_notebook: Callable[..., NotebookPage],
    page: Any,
    ui: str,
    kernel: str,
    widget_cell: str,
    busy_cell: str,
    name: str,
    click: str = STAGE,
) -> Beside:
    """Show the widget, start ``busy_cell`` when the kernel is to be busy (not waited for), then
    click the widget as a person would (a running cell takes the notebook's focus)."""
    nb = open_notebook([SETUP, widget_cell], ui=ui, name=f"{name}_{kernel}_{ui}.ipynb")
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=60)
    beside = Beside(nb, None if kernel == "idle" else busy_cell)
    if beside.busy_cell:
        nb.start_cell(busy_cell)
    page.locator(click).first.click()
    if click == STAGE:
        nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")
    return beside


#: cells that keep the kernel busy until the game ends: a wait on it, batches of trials on the lab's loop
PLAY_BUSY = {
    "busy": "print('game over at tick', w.trial.wait(300).tick)",
    "run_trials": "batches = 0\nwhile not w.trial.ended:\n"
    "    batches += bool(lab.run_trials(40, 'cartpole', 'random', progress=False))\nprint('batches', batches)",
}


@pytest.mark.parametrize("kernel", [*KERNEL, "run_trials"])
@pytest.mark.parametrize("ui", UIS)
def test_play_keys_are_recorded_in_order(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str, kernel: str
) -> None:
    play = 'w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=7)\nw'
    game = widget_in_a_notebook(open_notebook, page, ui, kernel, play, PLAY_BUSY.get(kernel, ""), "play")
    # max_steps=7: seven steps, and the action of the tick that reaches the limit (8 in all)
    keys = ["ArrowLeft", "ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft", "ArrowRight", "ArrowLeft", "ArrowRight"]
    cells = game.nb.cell_count()
    game.nb.press_each(keys)  # each one reaches the round whatever the kernel does
    game.nb.wait_attr(PLAY, "data-state", "v => v === 'ended'", timeout_s=60)
    assert game.nb.cell_count() == cells  # no key leaked into the notebook's shortcuts
    printed = game.done("the cell busy until the game ends")
    assert kernel != "run_trials" or int(printed.split()[-1]) >= 1  # batches ran while the person played
    recorded = game.nb.value("lab.steps(w.trial.wait(60).id)['action'].dropna().astype(int).tolist()")
    assert recorded == [0 if k == "ArrowLeft" else 1 for k in keys]
    assert game.nb.value("w.notice") == ""  # the keys came through a subshell, not between cells


@pytest.mark.parametrize("kernel", KERNEL)
@pytest.mark.parametrize("ui", UIS)
def test_feedback_is_recorded_in_order(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str, kernel: str
) -> None:
    feedback = 'f = lab.feedback("cartpole", "lean", keys={"+": 1.0, "-": -1.0}, fps=4, max_steps=24)\nf'
    # the episode waits for its person; a pure-Python loop holds the GIL meanwhile, as training does
    busy = "n = 0\nwhile not f.trial.ended:\n    n += sum(i * i for i in range(20_000))\nprint('done')"
    episode = widget_in_a_notebook(open_notebook, page, ui, kernel, feedback, busy, "feedback")
    keys = ["+", "-", "+", "-", "+"]
    given = 0.0
    for key in keys:  # each once the one before was given (the widget's return is the sum given)
        page.keyboard.press(key)
        given += 1.0 if key == "+" else -1.0
        episode.nb.wait_attr(PLAY, "data-return", f"v => +v === {given}", timeout_s=30)
    episode.done("the loop running until the episode ends")
    rewards = episode.nb.value("lab.rewards(f.trial.wait(90).id).query('sender == \"trainer\"')['value'].tolist()")
    assert rewards == [1.0 if k == "+" else -1.0 for k in keys]


@pytest.mark.parametrize("kernel", KERNEL)
@pytest.mark.parametrize("ui", UIS)
def test_taking_over_from_an_agent_is_recorded_in_order(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str, kernel: str
) -> None:
    teach = (  # a pendulum never falls: however long the person holds a key, the episode goes on
        'lab.serve_env("pendulum", envs.Gymnasium("Pendulum-v1"))\n'
        'lab.serve_actor("still", lambda o: [0.0])\n'
        't = lab.teach("pendulum", "still", keys={"ArrowLeft": [-2.0], "ArrowRight": [2.0]}, noop=[0.0],\n'
        "              fps=10, max_steps=60)\nt"
    )
    busy = "print('interventions', int(lab.interventions(t.trial.wait(300).id)['active'].sum()))"
    lesson = widget_in_a_notebook(open_notebook, page, ui, kernel, teach, busy, "teach")
    for key in ["ArrowLeft", "ArrowRight"]:  # the person takes over for a few ticks, once with each key
        held_from = int(lesson.nb.wait_attr(PLAY, "data-tick", "v => v !== null"))
        page.keyboard.down(key)
        # six ticks shown held; the first of them may pass before the key reaches a loaded kernel
        lesson.nb.wait_attr(PLAY, "data-tick", f"v => +v >= {held_from + 6}", timeout_s=60)
        page.keyboard.up(key)
    lesson.done("the cell waiting for the supervised episode")
    interventions = "lab.interventions(t.trial.wait(120).id).sort_values('tick')"
    taken = lesson.nb.value(f"[a[0] for a in {interventions}.query('active == 1')['executed']]")
    lefts = taken.count(-2.0)
    # the ticks each key was held: the person's action, left first, then right; the agent's otherwise
    assert lefts >= 2 and len(taken) - lefts >= 2 and taken == [-2.0] * lefts + [2.0] * (len(taken) - lefts)
    assert lesson.nb.value(f"sorted({{a[0] for a in {interventions}.query('active == 0')['executed']}})") == [0.0]


@pytest.mark.parametrize("kernel", KERNEL)
@pytest.mark.parametrize("ui", UIS)
def test_a_replay_plays_from_its_controls(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str, kernel: str
) -> None:
    replay = (
        'lab.serve_env("cartpole-frames", envs.Gymnasium("CartPole-v1", render=True))\n'
        'h = lab.start_trial("cartpole-frames", "lean", seed=2, max_steps=40).wait(60)\n'
        "r = lab.replay(h.id, fps=30)\nr"
    )
    # the cell ends only once the replay's controls moved it: their messages must come while it runs
    busy = "import time\nwhile r.view.tick < 20:\n    time.sleep(0.05)\nprint('replayed to', r.view.tick)"
    shown = widget_in_a_notebook(
        open_notebook, page, ui, kernel, replay, busy, "replay", click=".widget-play button"
    )  # its play button
    shown.nb.wait_attr(PLAY, "data-tick", "v => +v >= 20", timeout_s=60)
    printed = shown.done("the cell waiting for the replay")
    assert shown.busy_cell is None or "replayed to" in printed
    assert shown.nb.value("r.view.tick") >= 20  # the kernel's side of the replay moved


@pytest.mark.parametrize("kernel", KERNEL)
@pytest.mark.parametrize("ui", UIS)
def test_two_people_in_one_trial_are_both_recorded(
    open_notebook: Callable[..., NotebookPage], page: Any, ui: str, kernel: str
) -> None:
    two = (
        'lab.serve_env("pong", envs.PettingZooParallel("butterfly/cooperative_pong-v6", render=True))\n'
        'first = lab.play("pong", keys={"ArrowUp": 1, "ArrowDown": 2}, noop=0, fps=0, agent="paddle_0",\n'
        '                 actors={"paddle_1": "client"}, max_steps=3)\n'
        'second = first.add_player("paddle_1", keys={"w": 1, "s": 2}, noop=0)\n'
        "display(first, second)"
    )
    busy = "print('game over at tick', first.trial.wait(300).tick)"
    game = widget_in_a_notebook(open_notebook, page, ui, kernel, two, busy, "two_players")
    widgets = page.locator(PLAY)
    page.wait_for_function("() => document.querySelectorAll('.cj-play-stage').length === 2")
    mine, theirs = ["ArrowUp", "ArrowDown", "ArrowDown", "ArrowUp"], ["s", "w", "s", "s"]  # 4 turns: max_steps=3
    first = widgets.nth(0).element_handle()
    tick = int(game.nb.wait_attr(PLAY, "data-tick", "v => v !== null", timeout_s=60))
    for n, (key, other) in enumerate(zip(mine, theirs, strict=True), start=tick + 1):
        for index, pressed in ((0, key), (1, other)):  # each person at their own widget, one after the other
            widgets.nth(index).locator(STAGE).click()
            page.wait_for_function("el => el.dataset.focused === 'true'", arg=widgets.nth(index).element_handle())
            page.keyboard.press(pressed)
        page.wait_for_function("([el, n]) => +el.dataset.tick >= n", arg=[first, n], timeout=30_000)
    game.nb.wait_attr(PLAY, "data-state", "v => v === 'ended'", timeout_s=60)
    game.done("the cell waiting for the two people's game")
    steps = "lab.steps(first.trial.wait(60).id).dropna(subset=['action'])"
    recorded = game.nb.value(
        f"{{a: g['action'].astype(int).tolist() for a, g in {steps}.sort_values('tick').groupby('actor')}}"
    )
    assert recorded == {"paddle_0": [1, 2, 2, 1], "paddle_1": [2, 1, 2, 2]}


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
