"""People beyond the keyboard, without a browser: the pointer and sliders steer a Box action
and what they asked for is what the trial records; a front end of your own gets each frame's
observation and plays with JSON actions. (Real pointer, gamepad and slider events in a real
page: tests/browser/test_beyond_keys_browser.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cogment_jupyter import Lab, envs
from cogment_jupyter.notebook.play import GameWidget
from cogment_jupyter.notebook.widget import PlayWidget
from tests.waiting import wait_for


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("pendulum", envs.Gymnasium("Pendulum-v1"))
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        yield lab


def from_view(widget: PlayWidget, **content: Any) -> None:
    """A message from the widget's view, as the comm delivers it."""
    widget._handle_message(widget, content, [])


def recorded_actions(lab: Lab, widget: GameWidget) -> list[Any]:
    """The actions the datastore recorded for the widget's current round (max_steps + 1 of them)."""
    handle = widget.trial.wait(60)
    assert handle.errors == []
    return [np.asarray(a).tolist() for a in lab.steps(handle.id)["action"].dropna()]


def test_the_pointer_steers_a_continuous_game_and_is_recorded(lab) -> None:
    widget = lab.play("pendulum", pointer="x", fps=50, max_steps=6)
    human = widget.player
    assert widget.inputs == {"pointer": "x"} and widget.action_space["type"] == "Box"
    from_view(widget, type="analog", view="v", source="pointer", values=[0.75, 0.1], t_ms=1.0)
    wait_for(lambda: human._held_action is not None, 10, "the pointer reached the player")
    widget.focused = True  # the click that starts a paced game
    assert recorded_actions(lab, widget) == [[1.0]] * 7  # 3/4 of the way across Box(-2, 2)
    widget.close()


def test_a_held_key_beats_the_pointer_and_no_input_is_the_neutral_action(lab) -> None:
    widget = lab.play("pendulum", keys={"ArrowLeft": [-2.0]}, pointer="x", fps=50, max_steps=4)
    widget.focused = True
    assert recorded_actions(lab, widget) == [[0.0]] * 5  # nothing moved yet: zero torque
    from_view(widget, type="analog", view="v", source="pointer", values=[1.0, 0.0], t_ms=1.0)
    from_view(widget, type="keys", view="v", seq=1, event="down", key="ArrowLeft", pressed=["ArrowLeft"], t_ms=2.0)
    wait_for(lambda: widget.player._held_action is not None, 10, "the pointer reached the player")
    from_view(widget, type="control", action="play_again")
    wait_for(lambda: len(widget.trials) == 2, 10, "a second round")
    assert recorded_actions(lab, widget) == [[-2.0]] * 5
    widget.close()


def test_moving_a_slider_starts_the_game_with_its_value(lab) -> None:
    widget = lab.play("pendulum", sliders=["torque"], max_steps=5)
    assert widget.inputs["sliders"] == [{"label": "torque", "min": -2.0, "max": 2.0, "step": 0.02, "value": 0.0}]
    from_view(widget, type="analog", view="v", source="sliders", values=[-1.5], t_ms=1.0)
    assert recorded_actions(lab, widget) == [[-1.5]] * 6  # no click needed: the slider engaged
    widget.close()


def test_analog_inputs_need_a_paced_game(lab) -> None:
    with pytest.raises(ValueError, match="give fps > 0"):
        lab.play("pendulum", pointer="x", fps=0)


class ObservationFrontEnd(PlayWidget):
    """A front end of one's own: its view is a stub; its Python side keeps what went to the view."""

    _esm = "export default { render({ el }) { el.textContent = 'my game'; } };"

    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        super().__init__(**kwargs)

    def send(self, content: Any, buffers: Any = None) -> None:
        self.sent.append(content)
        super().send(content, buffers)


def test_your_own_front_end_gets_observations_and_plays_with_json_actions(lab) -> None:
    widget = lab.play("cartpole", front_end=ObservationFrontEnd, fps=0, max_steps=3, seed=4)
    assert isinstance(widget, ObservationFrontEnd) and isinstance(widget, GameWidget)
    assert widget._esm == ObservationFrontEnd._esm and widget.send_observations
    assert widget.action_space == {"type": "Discrete", "n": 2, "start": 0, "dtype": "int64"}
    for n, action in enumerate([1, 0, 1, 1], start=1):
        wait_for(lambda n=n: sum(c.get("type") == "frame" for c in widget.sent) >= n, 30, f"frame {n}")
        from_view(widget, type="action", value=action)
    assert recorded_actions(lab, widget) == [1, 0, 1, 1]
    frames = [c for c in widget.sent if c.get("type") == "frame"]
    observations = lab.steps(widget.trial.id)["observation"].tolist()
    for frame, observation in zip(frames, observations, strict=False):  # each frame with its observation
        assert frame["observation"] == pytest.approx(np.asarray(observation).tolist())
    widget.close()


def test_a_front_end_must_be_a_play_widget(lab) -> None:
    with pytest.raises(TypeError, match="front_end= takes a PlayWidget subclass"):
        lab.play("cartpole", keys={"ArrowLeft": 0}, noop=0, front_end=object)


def test_a_paced_front_end_starts_with_its_first_json_action_which_stays(lab) -> None:
    widget = lab.play("cartpole", front_end=ObservationFrontEnd, fps=50, max_steps=5)
    wait_for(lambda: any(c.get("type") == "frame" for c in widget.sent), 30, "the first frame")
    from_view(widget, type="action", value=0)  # no click, no key map: the action starts the game
    assert recorded_actions(lab, widget) == [0] * 6  # sticky until another comes
    widget.close()
