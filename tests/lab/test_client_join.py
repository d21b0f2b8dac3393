"""A scripted human stand-in joins trials as a Cogment client actor: in-process and over gRPC."""

from __future__ import annotations

import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from tests.lab.test_magics_and_remote import attached_lab, remote_orchestrator  # noqa: F401 (fixture)


class Script(actors.Actor):
    """Plays a fixed sequence of actions, then repeats the last one."""

    def __init__(self, moves):
        self.moves = list(moves)
        self.played = []
        self.ended_with = None

    def act(self, observation, frame=None):
        move = self.moves[len(self.played)] if len(self.played) < len(self.moves) else self.moves[-1]
        self.played.append(move)
        return move

    def on_ending(self, observation, frame=None):
        self.ended_with = observation


def play_scripted(lab: Lab, moves):
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
    handle = lab.start_trial("cartpole", {"gym": "client"}, seed=9, max_steps=len(moves) - 1)
    script = Script(moves)
    lab.join(handle, "gym", script).result(60)
    handle.wait(60)
    return handle, script


def test_a_client_actor_joins_in_process(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        moves = [0, 1, 1, 0, 1, 0, 0]
        handle, script = play_scripted(lab, moves)
        assert handle.errors == []
        assert script.played == moves and script.ended_with is not None
        recorded = lab.steps(handle.id)["action"].iloc[: len(moves)].tolist()
        assert recorded == moves
        assert lab.steps(handle.id)["action_status"].iloc[0] == "normal"


def test_a_client_actor_joins_over_grpc(remote_orchestrator, tmp_path):  # noqa: F811
    with attached_lab(remote_orchestrator, tmp_path / "store") as lab:
        moves = [1, 1, 0, 0, 1]
        handle, script = play_scripted(lab, moves)
        assert handle.errors == [] and script.played == moves
        assert lab.steps(handle.id)["action"].iloc[: len(moves)].tolist() == moves


def test_joining_an_unknown_slot_fails_clearly(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        handle = lab.start_trial("cartpole", "random")
        with pytest.raises(Exception, match="not a client actor"):
            lab.join(handle, "gym", Script([0])).result(30)
        handle.wait(30)


def test_any_code_plays_through_a_queue_pair_and_a_callback(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        pair = actors.QueuePair()
        handle = lab.start_trial("cartpole", {"gym": "client"}, seed=4, max_steps=6, render=True)
        done = lab.join(handle, "gym", pair)
        answered, frames = [], []
        while not (turn := pair.observations.get(timeout=30)).last:  # an app's loop, on this thread
            assert turn.tick == len(answered)
            frames.append(turn.frame.shape)
            answered.append(int(turn.observation[2] > 0))
            pair.actions.put(answered[-1])
        done.result(30)
        assert handle.wait(30).errors == [] and frames[0] == (400, 600, 3)
        assert lab.steps(handle.id)["action"].dropna().astype(int).tolist() == answered
        np.testing.assert_allclose(turn.observation, lab.steps(handle.id)["observation"].iloc[-1], rtol=1e-6)

        seen = []
        handle = lab.start_trial("cartpole", {"gym": "client"}, seed=4, max_steps=4)
        lab.join(handle, "gym", lambda o: seen.append(o) or 1).result(30)  # a plain callback
        assert lab.steps(handle.wait(30).id)["action"].dropna().tolist() == [1] * len(seen) == [1] * 5
