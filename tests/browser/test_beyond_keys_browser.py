"""People beyond the keyboard in a real JupyterLab: the pointer moved over the frame, a gamepad
(``navigator.getGamepads`` answered by the page, as a browser's would with a pad plugged in),
on-screen sliders moved with real clicks and keys, and a front end of one's own; each test reads
back what the datastore *recorded*."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .jupyter_harness import JupyterServer, NotebookPage
from .widgets import PLAY, STAGE

SETUP = """
%load_ext cogment_jupyter
%cogment launch --datastore trials
import time
import numpy as np
from cogment_jupyter import envs
# no time limit: the test ends the round itself
lab.serve_env("pendulum", envs.Gymnasium("Pendulum-v1", max_episode_steps=100_000))
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))

def last_action_is(target, timeout=60):
    "Wait until the person's last action is ``target``; else say what it was."
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if w.actions and np.allclose(np.asarray(w.actions[-1], dtype=float), target, atol=0.03):
            return True
        time.sleep(0.02)
    return [np.asarray(a).tolist() for a in w.actions[-3:]]

def recorded():
    "End the round; the actions the datastore recorded, rounded."
    w.trial.cancel()
    handle = w.trial.wait(30)
    return [np.round(np.asarray(a, dtype=float), 2).tolist() for a in lab.steps(handle.id)["action"].dropna()]
"""

#: a gamepad the page reports (the Gamepad API's standard mapping), moved by the test
FAKE_GAMEPAD = """() => {
  const button = () => ({ pressed: false, touched: false, value: 0 });
  window.__pad = { id: 'test pad', index: 0, connected: true, mapping: 'standard', timestamp: 0,
                   axes: [0, 0, 0, 0], buttons: Array.from({ length: 17 }, button) };
  const pads = () => [window.__pad, null, null, null];
  Object.defineProperty(navigator, 'getGamepads', { configurable: true, value: pads });
}"""


def runs_of(actions: list[Any]) -> list[Any]:
    """The actions with repeats collapsed: what a person did, move by move."""
    return [a for i, a in enumerate(actions) if i == 0 or a != actions[i - 1]]


def open_game(open_notebook: Callable[..., NotebookPage], page: Any, cell: str, name: str) -> NotebookPage:
    nb = open_notebook([SETUP, cell], name=f"{name}.ipynb")
    nb.run_all()
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 1", timeout_s=30)
    return nb


def click_to_play(nb: NotebookPage, page: Any) -> None:
    page.locator(STAGE).first.click()
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")


def move_pointer(page: Any, fraction_x: float) -> None:
    box = page.locator(f"{PLAY} canvas").first.bounding_box()
    page.mouse.move(box["x"] + fraction_x * box["width"], box["y"] + box["height"] / 2)


def test_the_pointer_plays_pendulum_and_its_torque_is_recorded(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb = open_game(open_notebook, page, 'w = lab.play("pendulum", pointer="x", fps=20)\nw', "pointer")
    click_to_play(nb, page)
    move_pointer(page, 0.75)  # 3/4 across Box(-2, 2): torque 1
    nb.wait_attr(PLAY, "data-analog-pointer", "v => v && v.startsWith('0.750')")
    assert nb.value("last_action_is([1.0])") is True
    # a cell took the keyboard, but the pointer plays on: no "click to play" over the game, the aim shown
    assert not page.locator(".cj-play-cover-text").first.is_visible()
    assert page.locator(".cj-play-aim").first.is_visible()
    nb.screenshot(artifacts / "pointer-right.png", PLAY)
    page.mouse.down()  # a drag that leaves the frame keeps steering, clamped at its edge
    box = page.locator(f"{PLAY} canvas").first.bounding_box()
    page.mouse.move(box["x"] - 200, box["y"] + box["height"] / 2, steps=4)
    nb.wait_attr(PLAY, "data-analog-pointer", "v => v && v.startsWith('0.000')")
    assert nb.value("last_action_is([-2.0])") is True
    page.mouse.up()
    actions = nb.value("recorded()")
    moves = runs_of(actions)
    assert moves[0] in ([0.0], [1.0]) and [1.0] in moves and moves[-1] == [-2.0]
    assert moves.index([1.0]) < moves.index([-2.0])
    assert all(-2.0 <= a[0] <= 1.0 for a in actions)  # only where the pointer was


def test_a_gamepad_stick_plays_pendulum_and_its_buttons_play_cartpole(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any
) -> None:
    nb = open_game(open_notebook, page, 'w = lab.play("pendulum", gamepad={"axes": [0]}, fps=20)\nw', "gamepad")
    page.evaluate(FAKE_GAMEPAD)
    click_to_play(nb, page)
    page.evaluate("() => { window.__pad.axes[0] = 0.5; }")  # stick half right: torque 1
    nb.wait_attr(PLAY, "data-analog-gamepad", "v => v && v.startsWith('0.500')")
    assert nb.value("last_action_is([1.0])") is True
    click_to_play(nb, page)  # running a cell took the focus: the pad is read while the game has it
    page.evaluate("() => { window.__pad.axes[0] = -1; }")
    nb.wait_attr(PLAY, "data-analog-gamepad", "v => v && v.startsWith('-1.000')")
    assert nb.value("last_action_is([-2.0])") is True
    moves = runs_of(nb.value("recorded()"))
    assert moves[-2:] == [[1.0], [-2.0]] and moves[0] in ([0.0], [1.0])

    # buttons play as keys: a turn-based CartPole, one action per press
    nb.append_and_run('w = lab.play("cartpole", gamepad={"buttons": {0: 0, 1: 1}}, noop=0, fps=0, max_steps=3)\nw')
    page.locator(STAGE).nth(1).click()
    page.wait_for_function("() => document.querySelectorAll('.cj-play')[1]?.dataset.focused === 'true'")
    second = "document.querySelectorAll('.cj-play')[1].dataset"
    presses = [1, 0, 0, 1]
    for n, button in enumerate(presses, start=1):
        page.evaluate(f"() => {{ const b = window.__pad.buttons[{button}]; b.pressed = true; b.value = 1; }}")
        page.wait_for_function(f"() => ({second}.pressed || '') === 'Gamepad{button}'")
        page.evaluate(f"() => {{ const b = window.__pad.buttons[{button}]; b.pressed = false; b.value = 0; }}")
        page.wait_for_function(f"() => +{second}.tick >= {n}", timeout=30000)
    assert nb.value("lab.steps(w.trial.wait(30).id)['action'].dropna().astype(int).tolist()") == presses


def test_sliders_moved_by_click_and_keys_play_pendulum(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb = open_game(open_notebook, page, 'w = lab.play("pendulum", sliders=["torque"], fps=20)\nw', "sliders")
    slider = page.locator(".cj-play-slider input[type=range]").first
    assert slider.get_attribute("min") == "-2" and slider.get_attribute("max") == "2"
    box = slider.bounding_box()
    slider.click(position={"x": box["width"] * 0.9, "y": box["height"] / 2})  # moving it starts the game
    nb.wait_attr(PLAY, "data-analog-sliders", "v => v !== null && +v > 0.5")
    page.keyboard.press("End")
    nb.wait_attr(PLAY, "data-analog-sliders", "v => v === '2.000'")
    assert nb.value("last_action_is([2.0])") is True
    nb.screenshot(artifacts / "sliders.png", PLAY)
    slider.click(position={"x": box["width"] * 0.1, "y": box["height"] / 2})  # a cell took the focus
    page.keyboard.press("Home")
    nb.wait_attr(PLAY, "data-analog-sliders", "v => v === '-2.000'")
    assert nb.value("last_action_is([-2.0])") is True
    assert nb.cell_count() == 4  # the slider's keys left the notebook alone (two value cells)
    moves = runs_of(nb.value("recorded()"))
    # click near the right end, End, click near the left end, Home: recorded in order (a click's
    # own value only if a tick came before the key); the game started with the slider, never at 0
    assert moves[-1] == [-2.0] and [2.0] in moves
    assert all(1.0 < m[0] <= 2.0 for m in moves[: moves.index([2.0]) + 1]), moves
    assert all(-2.0 <= m[0] < -1.0 for m in moves[moves.index([2.0]) + 1 :]), moves


MY_FRONT_END = '''
from cogment_jupyter.notebook.widget import PlayWidget

class ButtonsAndNumbers(PlayWidget):
    "My own front end: the observation as numbers, a button per action of the space."
    _esm = """
    export default { render({ model, el }) {
      const view = "mine-" + Math.random().toString(36).slice(2);
      const shown = document.createElement("pre");
      shown.className = "my-observation";
      const buttons = document.createElement("div");
      const space = model.get("action_space");
      for (let a = 0; a < space.n; a++) {
        const b = document.createElement("button");
        b.className = "my-action"; b.textContent = "action " + a;
        b.onclick = () => model.send({ type: "action", value: a });
        buttons.append(b);
      }
      model.on("msg:custom", (msg) => {
        if (msg.type !== "frame") return;
        shown.textContent = JSON.stringify(msg.observation);
        shown.dataset.tick = String(msg.tick ?? 0);
        model.send({ type: "ack", seq: msg.seq, view });
      });
      model.send({ type: "hello", view });
      el.append(shown, buttons);
    } };
    """
'''


def test_your_own_front_end_shows_observations_and_plays_with_json_actions(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any
) -> None:
    cell = MY_FRONT_END + '\nw = lab.play("cartpole", front_end=ButtonsAndNumbers, fps=0, max_steps=3, seed=3)\nw'
    nb = open_notebook([SETUP, cell], name="front_end.ipynb")
    nb.run_all()
    shown: list[list[float]] = []
    for n, action in enumerate([1, 1, 0, 1]):
        page.wait_for_function(f"() => +(document.querySelector('.my-observation')?.dataset.tick ?? -1) >= {n}")
        shown.append(page.evaluate("() => JSON.parse(document.querySelector('.my-observation').textContent)"))
        page.locator(".my-action").nth(action).click()
    steps = nb.value(
        "[[np.asarray(o).tolist(), int(a)] for o, a in "
        "lab.steps(w.trial.wait(30).id)[['observation', 'action']].dropna().values]"
    )
    assert [a for _, a in steps] == [1, 1, 0, 1]
    for seen, (observation, _) in zip(shown, steps, strict=True):  # each frame came with its observation
        assert all(abs(s - o) < 1e-6 for s, o in zip(seen, observation, strict=True))
