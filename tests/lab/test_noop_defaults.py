"""The no-op defaults where its meaning is clear, and the clear error elsewhere."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.notebook.keymap import KeyMapError
from tests.waiting import wait_for


class NamedActions(gym.Env):
    """A Discrete game whose actions are named the way ALE names Atari's (``NOOP`` second)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), float(action), False, False, {}

    def get_action_meanings(self):
        return ["FIRE", "NOOP", "LEFT"]


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        yield lab


def press(widget, pressed: list[str], seq: int) -> None:
    """What the widget's front end sends when the held keys change."""
    widget._handle_message(widget, {"type": "keys", "pressed": pressed, "seq": seq, "t_ms": 0}, [])


def test_teach_needs_no_noop_no_key_held_lets_the_agent_act(lab):
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
    lab.serve_actor("left", actors.Constant(0))
    widget = lab.teach("cartpole", "left", keys={"ArrowRight": 1}, fps=40, max_steps=30)
    trial = widget.trial
    wait_for(lambda: trial.state == "RUNNING", 30, "the trial to run")
    press(widget, ["ArrowRight"], 1)  # (the first key also starts the game)
    wait_for(lambda: trial.tick >= 3, 30, "three ticks with the key held")
    press(widget, [], 2)
    released = trial.tick
    wait_for(lambda: trial.tick >= released + 3 or trial.ended, 30, "the agent to play on its own")
    handle = trial.wait(60)
    widget.close()
    assert handle.errors == []
    interventions = lab.interventions(handle.id)
    taken, free = interventions[interventions["active"]], interventions[~interventions["active"]]
    assert len(taken) >= 1 and (taken["executed"] == 1).all()
    assert len(free) >= 2 and (free["executed"] == 0).all()  # no key held: the agent's own action


def test_play_uses_the_environments_own_key_map_and_its_no_op(lab, monkeypatch):
    monkeypatch.setenv("COGMENT_JUPYTER_HUMAN_STAND_IN", "random:5")
    lab.serve_env("mountaincar", envs.Gymnasium("MountainCar-v0"))  # get_keys_to_action: {(): 1, (276,): 0, ...}
    widget = lab.play("mountaincar", fps=0, max_steps=6)
    assert widget.player.keymap.noop == 1 and widget.player.keymap.keys == {"ArrowLeft", "ArrowRight"}
    handle = widget.trial.wait(60)
    widget.close()
    assert handle.errors == []
    recorded = lab.steps(handle.id)["action"].iloc[:7].tolist()  # max_steps + 1 actions
    assert recorded == widget.player.actions and set(recorded) <= {0, 1, 2}


def test_play_takes_the_action_an_environment_names_noop(lab):
    lab.serve_env("named", envs.Gymnasium(NamedActions))
    widget = lab.play("named", keys={" ": 0, "ArrowLeft": 2}, fps=0, max_steps=1)
    assert widget.player.keymap.noop == 1
    assert widget.player.keymap(frozenset()) == 1
    widget.close()
    explicit = lab.play("named", keys={" ": 0, "ArrowLeft": 2}, noop=2, fps=0, max_steps=1)
    assert explicit.player.keymap.noop == 2  # what the player says wins
    explicit.close()


def test_without_a_clear_no_op_the_error_says_how_to_give_one(lab):
    lab.serve_env("pendulum", envs.Gymnasium("Pendulum-v1"))
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
    for env, keys in (("pendulum", {"ArrowLeft": [-2.0], "ArrowRight": [2.0]}), ("cartpole", {"ArrowLeft": 0})):
        with pytest.raises(KeyMapError, match=r"no no-op action .*: add a 'no-op' entry.*or pass noop="):
            lab.play(env, keys=keys)
    with pytest.raises(KeyMapError, match=r"pass keys=\.\.\."):
        lab.play("cartpole")  # CartPole has no key map of its own
    assert lab.handles == []
