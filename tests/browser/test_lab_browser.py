"""``lab.play``, ``lab.feedback`` and ``lab.teach`` in a real JupyterLab, played with real key presses.

Every round is a Cogment trial whose player is a client actor; the tests read what the datastore
recorded and compare it with the keys the browser pressed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.waiting import wait_for

from .jupyter_harness import JupyterServer, NotebookPage

PLAY = ".cj-play"
STAGE = ".cj-play-stage"

SETUP = """
%load_ext cogment_jupyter
%cogment launch --datastore trials
from cogment_jupyter import envs, actors
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
"""


def click_to_play(nb: NotebookPage, page: Any, running: bool = True) -> None:
    """Wait for the first frame (and the round to be running), then click the widget to take the keys."""
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=30)
    if running:
        nb.wait_attr(PLAY, "data-state", "v => v === 'running'", timeout_s=30)
    page.locator(STAGE).first.click()
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")


def press_each(nb: NotebookPage, page: Any, keys: list[str]) -> None:
    """Press the keys one by one, each once the turn-based round took the one before (its
    frame shows the next tick), as a person plays."""
    tick = int(nb.wait_attr(PLAY, "data-tick", "v => v !== null"))
    for n, key in enumerate(keys, start=tick + 1):
        page.keyboard.press(key)
        nb.wait_attr(PLAY, "data-tick", f"v => +v >= {n}", timeout_s=30)


def test_play_cartpole_turn_based_records_the_keys_pressed(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb = open_notebook(
        [SETUP, 'w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=7)\nw'],
        name="play_turn_based.ipynb",
    )
    nb.run_all()
    click_to_play(nb, page)
    cells = nb.cell_count()
    keys = ["ArrowLeft", "ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft", "ArrowRight", "ArrowLeft", "ArrowRight"]
    nb.screenshot(artifacts / "1-playing.png", PLAY)
    press_each(nb, page, keys)
    nb.wait_attr(PLAY, "data-state", "v => v === 'ended'", timeout_s=30)
    nb.screenshot(artifacts / "2-game-over.png", PLAY)
    assert nb.cell_count() == cells  # no key leaked into notebook shortcuts
    recorded = nb.value("lab.steps(w.trial.wait(30).id)['action'].iloc[:8].tolist()")
    expected = [0 if k == "ArrowLeft" else 1 for k in keys]
    assert recorded == expected
    mode = nb.value("lab.mode")
    assert mode in ("embedded", "shared")


def test_reload_mid_trial_reattaches_and_the_trial_goes_on(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb = open_notebook(
        [SETUP, 'w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=5)\nw'],
        name="play_reload.ipynb",
    )
    nb.run_all()
    click_to_play(nb, page)
    press_each(nb, page, ["ArrowLeft", "ArrowRight"])
    nb.save()
    nb.reload()
    # the reloaded page shows the widget again with the latest frame, and the trial waits for us
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=30)
    nb.screenshot(artifacts / "reloaded.png", PLAY)
    assert nb.value("w.trial.state") == "RUNNING"
    click_to_play(nb, page)
    press_each(nb, page, ["ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft"])
    nb.wait_attr(PLAY, "data-state", "v => v === 'ended'", timeout_s=30)
    assert nb.value("lab.steps(w.trial.wait(30).id)['action'].iloc[:6].tolist()") == [0, 1, 1, 1, 0, 0]
    # re-display: a second view of the same widget shows the final frame
    nb.append_and_run("w")
    page.wait_for_function("n => document.querySelectorAll('.cj-play').length >= n", arg=2)


def test_feedback_and_teacher_widgets(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb = open_notebook(
        [
            SETUP,
            'lab.serve_actor("left", actors.Constant(0))\n'
            'lab.serve_actor("lean", lambda o: int(o[2] + o[3] > 0))\n'
            'f = lab.feedback("cartpole", "lean", keys={"+": 1.0, "-": -1.0}, fps=5, max_steps=60)\nf',
        ],
        name="feedback.ipynb",
    )
    nb.run_all()
    click_to_play(nb, page)
    message = page.locator(".cj-play-message").first
    for key in ["+", "-", "+"]:  # each once the one before was given ("feedback +1 at tick 3")
        before = message.text_content()
        page.keyboard.press(key)
        page.wait_for_function(
            "([el, before]) => el.textContent.startsWith('feedback') && el.textContent !== before",
            arg=[message.element_handle(), before],
        )
    nb.screenshot(artifacts / "feedback.png", PLAY)
    given = nb.value("[v for _, v in f.feedback]")
    assert given == [1.0, -1.0, 1.0]
    nb.append_and_run("f.trial.cancel()")
    rewards = nb.value("lab.rewards(f.trial.wait(30).id).query('sender == \"trainer\"')['value'].tolist()")
    assert rewards == [1.0, -1.0, 1.0]

    index = nb.append_and_run(
        'lab.serve_actor("lean", lambda o: int(o[2] + o[3] > 0))\n'
        't = lab.teach("cartpole", "lean", keys={"ArrowRight": 1}, noop=0, fps=20, max_steps=80)\nt'
    )
    teacher = page.locator(PLAY).nth(1)
    teacher.locator(STAGE).click()
    held_from = int(teacher.get_attribute("data-tick") or 0)
    page.keyboard.down("ArrowRight")
    page.wait_for_function("([el, n]) => +el.dataset.tick >= n", arg=[teacher.element_handle(), held_from + 4])
    nb.screenshot(artifacts / "teacher-in-control.png")
    page.keyboard.up("ArrowRight")
    taken = nb.value("int(lab.interventions(t.trial.wait(30).id)['active'].sum())")
    assert taken >= 2
    assert index > 0


def test_replay_widget_plays_a_recorded_trial(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb = open_notebook(
        [
            SETUP,
            'lab.serve_env("cartpole-frames", envs.Gymnasium("CartPole-v1", render=True))\n'
            'lab.serve_actor("lean", lambda o: int(o[2] + o[3] > 0))\n'
            'h = lab.start_trial("cartpole-frames", "lean", seed=2, max_steps=40).wait(60)\n'
            "r = lab.replay(h.id, fps=30)\nr",
        ],
        name="replay.ipynb",
    )
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=30)
    nb.wait_attr(PLAY, "data-state", "v => v === 'replay'")
    assert not page.locator(".cj-play-cover-text").first.is_visible()  # nothing to click to play
    assert not page.locator(".cj-play-pause").first.is_visible()
    page.locator(".widget-play button").first.click()  # play
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 10", timeout_s=30)
    nb.screenshot(artifacts / "replay.png")
    tick = nb.value("r.slider.value")
    assert tick >= 5
    nb.append_and_run("r.player.playing = False")  # stop the playback before scrubbing
    # (a step of the playback still on its way may move the slider after it is set: set it until it stays)
    scrubbed = "setattr(r.slider, 'value', 3) or [r.view.tick, 'tick 3' in r.details.value]"
    wait_for(lambda: nb.value(scrubbed) == [3, True], 30, "the replay to show tick 3")
    assert nb.value("[r.slider.value, r.view.tick]") == [3, 3]
