"""The scripted stand-in plays through the widget's own message path."""

from __future__ import annotations

from cogment_jupyter import Lab, envs


def test_a_stand_in_plays_cartpole_turn_based(tmp_path, monkeypatch):
    monkeypatch.setenv("COGMENT_JUPYTER_HUMAN_STAND_IN", "random:7")
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        widget = lab.play("cartpole", keys={"ArrowLeft": 0, "ArrowRight": 1}, noop=0, fps=0, max_steps=9)
        handle = widget.trial.wait(60)
        widget.stand_in.stop()
        assert handle.errors == [] and handle.tick == 10
        recorded = lab.steps(handle.id)["action"].iloc[:10].tolist()
        mapping = {"ArrowLeft": 0, "ArrowRight": 1}
        assert recorded == widget.actions == [mapping[k] for k in widget.stand_in.pressed[:10]]
        assert widget.state == "ended" and widget.episode_return == 10 and "Enter" in widget.message


def test_a_stand_in_steers_a_pointer_game_by_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("COGMENT_JUPYTER_HUMAN_STAND_IN", "random:3")
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("pendulum", envs.Gymnasium("Pendulum-v1"))
        widget = lab.play("pendulum", pointer="x", fps=100, max_steps=40)  # no key to press: it clicks
        handle = widget.trial.wait(60)
        widget.stand_in.stop()
        assert handle.errors == []
        torques = [float(a[0]) for a in lab.steps(handle.id)["action"].dropna()]
        assert len(torques) == 41 and all(-2.0 <= t <= 2.0 for t in torques)
        assert len(set(torques)) > 2  # it moved the pointer more than once
