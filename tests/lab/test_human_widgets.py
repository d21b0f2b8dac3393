"""The human widgets' rules that need no browser: bad key maps are refused before anything is
drawn or started, a failed round says why on its handle, and a feedback episode waits for its
person. (Keys pressed in a real page: tests/browser.)"""

from __future__ import annotations

import time

import pytest

from cogment_jupyter import Lab, envs
from cogment_jupyter.notebook.keymap import KeyMapError
from tests.waiting import wait_for


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_env("pendulum", envs.Gymnasium("Pendulum-v1"))
        lab.serve_actor("lean", lambda o: int(o[2] + o[3] > 0))
        yield lab


def stays(condition, seconds: float) -> None:
    """``condition`` holds throughout ``seconds`` (what must *not* happen, watched)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition()
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (
            lambda lab: lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 5}, noop=0),
            r"key 'ArrowRight' is mapped to 5, which is not an action of Discrete\(2\)",
        ),
        (
            lambda lab: lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=2),
            r"noop=2 is not an action of Discrete\(2\)",
        ),
        (
            lambda lab: lab.play("pendulum", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0),
            r"key 'ArrowLeft' is mapped to 0, which is not an action of Box\(.*shape \(1,\), e\.g\. \[0\.0\]",
        ),
        (
            lambda lab: lab.teach("cartpole", "lean", keys={"ArrowRight": 3}, noop=0),
            r"key 'ArrowRight' is mapped to 3",
        ),
        (
            lambda lab: lab.feedback("cartpole", "lean", keys={"+": "good"}),
            r"key '\+' gives 'good': a feedback key gives a reward, a finite number",
        ),
    ],
)
def test_bad_key_maps_are_refused_before_anything_is_drawn(lab, call, says) -> None:
    from ipywidgets.widgets.widget import _instances as widgets

    widgets_before = len(widgets)
    with pytest.raises(KeyMapError, match=says):
        call(lab)
    assert lab.handles == []  # no round started
    assert len(widgets) == widgets_before  # no widget made


def test_a_second_player_key_map_is_checked_too(lab) -> None:
    lab.serve_env("pong", envs.PettingZooParallel("butterfly/cooperative_pong-v6", render=True))
    first = lab.play(
        "pong", keys={"ArrowUp": 1, "ArrowDown": 2}, noop=0, agent="paddle_0", actors={"paddle_1": "client"}
    )
    try:
        with pytest.raises(KeyMapError, match=r"key 'w' is mapped to 9, which is not an action of Discrete\(3\)"):
            first.add_player("paddle_1", keys={"w": 9, "s": 2}, noop=0)
    finally:
        first.close()


def test_a_round_that_fails_says_why_on_its_handle(lab) -> None:
    w = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0)
    wait_for(lambda: w.trial.state == "RUNNING", 30, "the round to start")
    w._handle_message(w, {"type": "action", "value": 7}, [])  # a custom front end sends a bad action
    w.trial.wait(30)
    assert w.trial.state == "ENDED"
    assert w.trial.error is not None and "action 7 is outside Discrete(2)" in w.trial.error
    assert w.state == "ended" and "The trial failed" in w.message


def test_a_feedback_episode_waits_for_its_person(lab) -> None:
    f = lab.feedback("cartpole", "lean", fps=50, max_steps=20)
    wait_for(lambda: f.trial.state == "RUNNING", 30, "the episode to start")
    wait_for(lambda: "click the game" in f.message, 30, "the widget to invite its person")
    tick = f.trial.tick
    stays(lambda: f.trial.tick == tick, 0.3)  # 15 ticks at 50 fps, had it not waited
    assert tick <= 1
    f.focused = True  # the person clicks the widget (what the front end syncs)
    f.trial.wait(30)
    assert f.trial.tick >= 20 and f.trial.error is None


def test_a_continuous_key_map_with_actions_of_the_right_shape_plays(lab) -> None:
    w = lab.play("pendulum", keys={"ArrowLeft": [-2.0], "ArrowRight": [2.0]}, noop=[0.0], fps=0, max_steps=1)
    try:
        wait_for(lambda: w.trial.state == "RUNNING", 30, "the round to start")
        for seq, pressed in enumerate([["ArrowRight"], [], ["ArrowLeft"], []], start=1):  # max_steps=1: 2 actions
            w._handle_message(w, {"type": "keys", "pressed": pressed, "seq": seq, "t_ms": 0}, [])
        w.trial.wait(30)
        assert w.trial.error is None
        assert [list(a) for a in lab.steps(w.trial.id)["action"].dropna()] == [[2.0], [-2.0]]
    finally:
        w.close()
