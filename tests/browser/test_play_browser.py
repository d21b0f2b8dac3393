"""The play widget in a real JupyterLab and Notebook 7, driven as a player would drive it.

A kernel thread steps CartPole-v1 (render_mode="rgb_array") into ``PlayWidget.show_frame``; the
kernel writes what its callbacks receive to a JSON-lines file that the test reads directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .jupyter_harness import JupyterServer, NotebookPage, wait_for_file_lines

PLAY = ".cj-play"
STAGE = ".cj-play-stage"

PUMP_CELL = """
import json, threading, time
import gymnasium as gym
from cogment_jupyter.notebook.keymap import compile_keymap
from cogment_jupyter.notebook.widget import PlayWidget

events = open({events!r}, "a", buffering=1)
def log(kind, **kw):
    rec = {{"kind": kind, "thread": threading.current_thread().name, "t": time.time(), **kw}}
    events.write(json.dumps(rec) + "\\n")

keymap = compile_keymap({{"ArrowLeft": 0, "ArrowRight": 1}}, noop=0)
w = PlayWidget(fps=30, title="CartPole-v1", key_hints={{"ArrowLeft": "push left", "ArrowRight": "push right"}})
w.on_keys(lambda pressed, t_ms: log("keys", pressed=sorted(pressed), t_ms=t_ms))
w.on_control(lambda action: log("control", action=action))
w.observe(lambda change: log("focused", value=change["new"]), names="focused")
stop = threading.Event()

def pump():
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    tick, ret = 0, 0.0
    w.set_status(state="running", message="keep the pole up")
    while not stop.is_set():
        seq = w.key_seq
        _, r, term, trunc, _ = env.step(keymap(w.pressed_in_order))
        tick, ret = tick + 1, ret + r
        w.show_frame(env.render(), key_seq=seq, tick=tick, episode_return=ret)
        if term or trunc:
            env.reset()
        time.sleep(1 / 30)
    w.set_status(tick=tick, episode_return=ret, state="ended", message="")
    log("stopped", tick=tick, ret=ret)

threading.Thread(target=pump, daemon=True).start()
w
"""

NON_BACKGROUND_PIXELS = """el => {
  const c = el.querySelector('canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
  return n;
}"""


def pump_notebook(open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, name: str, ui: str = "lab"):
    events = f"{name}.jsonl"
    nb = open_notebook([PUMP_CELL.format(events=events)], ui=ui, name=f"{name}.ipynb")
    nb.run_all()
    return nb, jupyter.root / events


def records(path: Path, kind: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["kind"] == kind]


def key_downs(path: Path) -> list[list[str]]:
    """The non-empty held-key sets Python saw, in order."""
    return [r["pressed"] for r in records(path, "keys") if r["pressed"]]


def press_each(page: Any, events: Path, keys: list[str]) -> None:
    """Press the keys one by one, each once Python saw the one before (presses that overlap
    would be one held set)."""
    seen = len(key_downs(events))
    for n, key in enumerate(keys, start=seen + 1):
        page.keyboard.press(key)
        wait_for_file_lines(events, lambda _, n=n: len(key_downs(events)) >= n)


def wait_for_kind(path: Path, kind: str, n: int, timeout_s: float = 15) -> list[dict[str, Any]]:
    return [
        r
        for r in wait_for_file_lines(path, lambda rs: sum(r["kind"] == kind for r in rs) >= n, timeout_s)
        if r["kind"] == kind
    ]


def test_play_in_jupyterlab(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb, events = pump_notebook(open_notebook, jupyter, "lab_play")
    widget = page.locator(PLAY).first

    # frames arrive and show a CartPole, not a blank canvas; the widget invites a click
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 5")
    assert widget.evaluate(NON_BACKGROUND_PIXELS) > 500
    assert widget.get_attribute("data-focused") == "false"
    assert page.locator(".cj-play-cover-text").first.is_visible()
    nb.screenshot(artifacts / "1-waiting-for-click.png")

    # a click takes the keyboard; the kernel learns it
    cells_before = nb.cell_count()
    page.locator(STAGE).first.click()
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")
    assert nb.focused_element() == "input.cj-play-sink"
    assert wait_for_kind(events, "focused", 1)[-1]["value"] is True
    assert not page.locator(".cj-play-cover-text").first.is_visible()

    # keys that are also notebook shortcuts reach Python, in order, and leave the notebook alone
    keys = ["ArrowLeft", "a", "b", "x", "d", "d", "Enter", "ArrowRight", " ", "m", "z"]
    press_each(page, events, keys)
    assert key_downs(events) == [[k] for k in keys]
    assert nb.cell_count() == cells_before
    assert nb.focused_element() == "input.cj-play-sink"

    # held keys are a set; auto-repeat is not a new press; Escape releases everything
    n_before = len(records(events, "keys"))
    page.keyboard.down("ArrowUp")
    page.keyboard.down("ArrowLeft")
    page.keyboard.down("ArrowLeft")  # a repeat: ignored
    nb.screenshot(artifacts / "2-playing.png")
    nb.screenshot(artifacts / "2-playing-widget.png", PLAY)
    page.keyboard.press("Escape")
    nb.wait_attr(PLAY, "data-focused", "v => v === 'false'")
    wait_for_file_lines(events, lambda _: len(records(events, "keys")) >= n_before + 3)
    key_sets = [r["pressed"] for r in records(events, "keys")][n_before:]
    assert key_sets == [["ArrowUp"], ["ArrowLeft", "ArrowUp"], []]
    page.keyboard.up("ArrowLeft")
    page.keyboard.up("ArrowUp")
    assert nb.cell_count() == cells_before

    # the buttons reach Python and the UI follows the paused trait
    page.locator(".cj-play-pause").first.click()
    nb.wait_attr(PLAY, "data-paused", "v => v === 'true'")
    nb.screenshot(artifacts / "2-paused-widget.png", PLAY)
    page.locator(".cj-play-resume").first.click()
    nb.wait_attr(PLAY, "data-paused", "v => v === 'false'")
    assert [r["action"] for r in wait_for_kind(events, "control", 2)] == ["pause", "resume"]

    # the end of a trial: final frame, return, and "Play again"
    nb.append_and_run("stop.set()")
    stopped = wait_for_kind(events, "stopped", 1)[0]
    nb.wait_attr(PLAY, "data-state", "v => v === 'ended'")
    end = page.locator(".cj-play-end").first
    assert end.is_visible()
    assert f"in {stopped['tick']} ticks" in end.inner_text()
    assert widget.evaluate(NON_BACKGROUND_PIXELS) > 500  # the final frame stays
    nb.screenshot(artifacts / "3-ended.png", PLAY)
    page.locator(".cj-play-again").first.click()
    assert wait_for_kind(events, "control", 3)[-1]["action"] == "play_again"
    assert nb.cell_count() == cells_before + 1  # only the cell the test added


def test_keys_reach_python_while_a_cell_is_busy(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any
) -> None:
    """With ipykernel 7 subshells the widget's messages are handled while another cell runs."""
    nb, events = pump_notebook(open_notebook, jupyter, "busy")
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 3")
    page.locator(STAGE).first.click()
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")
    # the harness's own append-and-run (it activates the notebook first), not awaited: the cell sleeps
    page.evaluate("p => { window.__cj.appendAndRun(p, 'log(\"sleeping\"); time.sleep(20)'); }", nb.path)
    page.wait_for_function("p => window.__cj.state(p).kernelStatus === 'busy'", arg=nb.path)
    wait_for_kind(events, "sleeping", 1)  # the cell is now sleeping
    page.locator(STAGE).first.click()
    press_each(page, events, ["ArrowLeft", "ArrowRight"])
    seen = wait_for_file_lines(events, lambda _: len(key_downs(events)) >= 2, timeout_s=15)
    assert key_downs(events)[-2:] == [["ArrowLeft"], ["ArrowRight"]]
    threads = {r["thread"] for r in seen if r["kind"] == "keys"}
    assert any(t.startswith("subshell") for t in threads), threads
    nb.wait_kernel_idle(40)


def test_redisplay_and_page_reload_reattach(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb, events = pump_notebook(open_notebook, jupyter, "reattach")
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 3")
    nb.append_and_run("stop.set()")
    stopped = wait_for_kind(events, "stopped", 1)[0]

    # a second view of the same widget starts with the latest frame and status
    nb.append_and_run("w")
    page.wait_for_function("n => document.querySelectorAll('.cj-play').length >= n", arg=2)
    views = page.locator(PLAY)
    second = views.nth(1)
    second.scroll_into_view_if_needed()
    page.wait_for_function("el => +el.dataset.framesPainted >= 1", arg=second.element_handle())
    assert second.get_attribute("data-tick") == str(stopped["tick"])
    assert second.get_attribute("data-state") == "ended"
    first_pixels = views.nth(0).evaluate("el => el.querySelector('canvas').toDataURL()")
    assert second.evaluate("el => el.querySelector('canvas').toDataURL()") == first_pixels
    nb.screenshot(artifacts / "1-second-view.png", f"{PLAY} >> nth=1")

    # reload the page: the live widget re-renders from the kernel and gets its frame again
    nb.save()
    nb.reload()
    page.wait_for_function("n => document.querySelectorAll('.cj-play').length >= n", arg=2, timeout=30_000)
    first = page.locator(PLAY).first
    first.scroll_into_view_if_needed()
    page.wait_for_function("el => +el.dataset.framesPainted >= 1", arg=first.element_handle(), timeout=15_000)
    assert first.evaluate("el => el.querySelector('canvas').toDataURL()") == first_pixels
    assert first.get_attribute("data-tick") == str(stopped["tick"])

    # and the keyboard is wired again
    n_before = len(key_downs(events))
    first.locator(STAGE).click()
    page.keyboard.press("ArrowRight")
    wait_for_file_lines(events, lambda _: len(key_downs(events)) > n_before)
    assert key_downs(events)[-1] == ["ArrowRight"]
    nb.screenshot(artifacts / "2-after-reload.png")


def test_play_in_notebook7(
    open_notebook: Callable[..., NotebookPage], jupyter: JupyterServer, page: Any, artifacts: Path
) -> None:
    nb, events = pump_notebook(open_notebook, jupyter, "nb7_play", ui="notebook")
    assert "/notebooks/" in page.url
    nb.wait_attr(PLAY, "data-frames-painted", "v => +v >= 5")
    cells_before = nb.cell_count()
    page.locator(STAGE).first.click()
    nb.wait_attr(PLAY, "data-focused", "v => v === 'true'")
    keys = ["ArrowRight", "a", "b", "d", "d", "ArrowLeft"]
    press_each(page, events, keys)
    assert key_downs(events) == [[k] for k in keys]
    assert nb.cell_count() == cells_before
    nb.screenshot(artifacts / "notebook7.png")
