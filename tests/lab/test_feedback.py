"""Live feedback: a person's key presses become rewards for the agent, recorded with the person as sender."""

from __future__ import annotations

from cogment_jupyter import Lab, actors, envs
from tests.waiting import wait_for


class Learner(actors.Actor):
    """Records the rewards it receives (what a TAMER learner would train on)."""

    def __init__(self):
        self.received = []

    def act(self, observation, frame=None):
        return 0

    def on_reward(self, value, tick_id, sources):
        self.received.append((tick_id, value, sorted(s.sender_name for s in sources)))


def press(widget, key):
    widget._handle_message(widget, {"type": "keys", "pressed": [key], "seq": 1, "t_ms": 0}, [])
    widget._handle_message(widget, {"type": "keys", "pressed": [], "seq": 2, "t_ms": 0}, [])


def test_feedback_keys_reach_the_agent_and_the_datastore(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        learner = Learner()
        lab.serve_actor("learner", learner)
        widget = lab.feedback("cartpole", "learner", keys={"+": 1.0, "-": -2.0}, fps=20, seed=3, max_steps=30)
        wait_for(lambda: widget.trial.state == "RUNNING", 20, "the trial to run")
        for n, key in enumerate(["+", "-", "+"], start=1):
            press(widget, key)
            wait_for(lambda n=n: len(widget.feedback) == n, 20, f"feedback {n} to be given")
            given_at = widget.feedback[-1][0]
            wait_for(lambda t=given_at: widget.trial.tick > t, 20, "the next tick")  # one feedback per tick
        widget.trial.wait(30)
        given = widget.feedback
        assert [v for _, v in given] == [1.0, -2.0, 1.0]
        rewards = lab.rewards(widget.trial.id)
        human = rewards[rewards["sender"] == "trainer"]
        assert human["value"].tolist() == [1.0, -2.0, 1.0]
        assert set(human["receiver"]) == {"gym"}
        assert human["tick"].tolist() == [tick for tick, _ in given]
        env = rewards[rewards["sender"] == "env"]
        assert (env["value"] == 1.0).all()
        from_trainer = [(tick, value) for tick, value, senders in learner.received if "trainer" in senders]
        assert [tick for tick, _ in from_trainer] == [tick for tick, _ in given]
