"""``lab.play`` reattached after a page reload, and ``lab.replay`` scrubbed, in a real JupyterLab.

The people's widgets played with the kernel idle and busy are in ``test_busy_input_browser.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.waiting import wait_for

from .jupyter_harness import JupyterServer, NotebookPage
from .widgets import PLAY, STAGE

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


def test_reload_mid_trial_reattaches_and_the_trial_goes_on(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb = open_notebook(
        [SETUP, 'w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=5)\nw'],
        name="play_reload.ipynb",
    )
    nb.run_all()
    click_to_play(nb, page)
    nb.press_each(["ArrowLeft", "ArrowRight"])
    nb.save()
    nb.reload()
    # the reloaded page shows the widget again with the latest frame, and the trial waits for us
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=30)
    nb.screenshot(artifacts / "reloaded.png", PLAY)
    assert nb.value("w.trial.state") == "RUNNING"
    click_to_play(nb, page)
    nb.press_each(["ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft"])
    nb.wait_attr(PLAY, "data-state", "v => v === 'ended'", timeout_s=30)
    assert nb.value("lab.steps(w.trial.wait(30).id)['action'].iloc[:6].tolist()") == [0, 1, 1, 1, 0, 0]
    # re-display: a second view of the same widget shows the final frame
    nb.append_and_run("w")
    page.wait_for_function("n => document.querySelectorAll('.cj-play').length >= n", arg=2)


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
