"""Run All of the classroom notebooks with a person playing in the browser (a script pressing real
keys in the page, not the in-kernel stand-in): the notebook finishes, and the cells after the game
read the game the person played."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .jupyter_harness import JupyterServer, NotebookPage
from .widgets import PLAY, STAGE, UIS

REPO = Path(__file__).resolve().parents[2]


def open_classroom_notebook(name: str, page: Any, jupyter: JupyterServer, ui: str) -> NotebookPage:
    copy = f"{ui}_{name}"
    shutil.copy(REPO / "notebooks" / name, jupyter.root / copy)
    nb = NotebookPage(page, jupyter, copy, ui=ui)  # type: ignore[arg-type]
    nb.open()
    return nb


def play_while_the_notebook_runs(nb: NotebookPage, press: Callable[[Any], None], timeout_s: float) -> int:
    """Start Run All and play the widget like a person until every cell has run; the presses made."""
    page = nb.page
    page.evaluate("p => { window.__cj.run(p, 'notebook:run-all-cells', null); return true; }", nb.path)
    deadline = time.monotonic() + timeout_s
    presses = 0
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        state = nb.state()
        assert not state.get("errors"), f"a cell raised: {state['errors']}"
        if state.get("kernelStatus") == "idle" and state.get("running") == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 1.0:
                return presses
        else:
            quiet_since = None
        game = page.locator(f"{PLAY}[data-state='running']").element_handles()
        if game:  # (a handle: the game may end between these lines, the element stays)
            if game[0].get_attribute("data-focused") != "true":
                game[0].query_selector(STAGE).click(timeout=5000)  # (again, if running cells took the focus)
            press(page)
            presses += 1
        else:
            page.wait_for_timeout(100)
    raise AssertionError(f"Run All did not finish within {timeout_s:.0f} s; last state {nb.state()}")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("ui", UIS)
def test_run_all_of_play_cartpole_with_a_person_playing(page: Any, jupyter: JupyterServer, ui: str) -> None:
    nb = open_classroom_notebook("01_play_cartpole.ipynb", page, jupyter, ui)

    def hold_right(page: Any) -> None:  # pushing right all the time: the pole soon falls
        page.keyboard.down("ArrowRight")
        page.wait_for_timeout(150)
        page.keyboard.up("ArrowRight")

    presses = play_while_the_notebook_runs(nb, hold_right, timeout_s=300)
    assert presses > 0
    # the cells after the game read the round that was played: its actions are the keys held
    first = nb.value("game.trials[0].id")
    assert first in nb.value("rounds['trial_id'].tolist()")
    actions = nb.value(f"lab.steps({first!r})['action'].dropna().astype(int).tolist()")
    assert actions and sum(actions) >= len(actions) // 2  # mostly "right" (1): the key held most of the time
    assert nb.value("len(steps)") > 0 and nb.value("best") in nb.value("[t.id for t in game.trials]")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("ui", UIS)
def test_run_all_of_teach_with_feedback_with_a_person_rewarding(page: Any, jupyter: JupyterServer, ui: str) -> None:
    nb = open_classroom_notebook("05_teach_with_feedback.ipynb", page, jupyter, ui)

    def reward(page: Any) -> None:
        page.keyboard.press("+")
        page.wait_for_timeout(250)

    presses = play_while_the_notebook_runs(nb, reward, timeout_s=420)
    assert presses > 0
    given = nb.value("yours['feedback given'].tolist()")
    assert len(given) == 5 and all(n > 0 for n in given)  # every episode got the person's feedback
    assert sum(given) <= presses
    assert nb.value("yours['net feedback'].tolist()") == given  # "+" only: +1 each
    assert nb.value("bool((learner.w != 0).any())")  # and the learner learned from it


@pytest.mark.timeout(600)
@pytest.mark.parametrize("ui", UIS)
@pytest.mark.parametrize(
    ("name", "agent", "keys"),
    [
        ("02_you_vs_agents.ipynb", "gym", ["ArrowRight"]),
        ("03_learn_from_demonstrations.ipynb", "gym", ["ArrowLeft", "ArrowRight"]),
        ("04_play_with_an_agent.ipynb", "paddle_0", ["ArrowUp", "ArrowDown"]),
    ],
)
def test_run_all_of_the_other_games_with_a_person_playing(
    page: Any, jupyter: JupyterServer, name: str, agent: str, keys: list[str], ui: str
) -> None:
    nb = open_classroom_notebook(name, page, jupyter, ui)
    rng = random.Random(0)

    def tap(page: Any) -> None:
        key = rng.choice(keys)
        page.keyboard.down(key)
        page.wait_for_timeout(150)
        page.keyboard.up(key)

    assert play_while_the_notebook_runs(nb, tap, timeout_s=420) > 0
    first = nb.value("game.trials[0].id")
    steps = f"lab.steps({first!r})"
    actions = nb.value(f"{steps}[{steps}['actor'] == {agent!r}]['action'].dropna().astype(int).tolist()")
    assert any(a != 0 for a in actions)  # the keys pressed (the no-op is 0), recorded in the round the cells read
