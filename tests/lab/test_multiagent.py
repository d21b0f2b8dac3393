"""PettingZoo games, people beside agents, two people in one trial, teacher override, observers."""

from __future__ import annotations

import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.conversions import Observer, Teacher
from tests.waiting import wait_for


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_actor("random", actors.Random())
        yield lab


def test_pettingzoo_aec_and_parallel_trials(lab):
    lab.serve_env("ttt", envs.PettingZooAEC("classic/tictactoe-v3"))
    lab.serve_env("pong", envs.PettingZooParallel("butterfly/cooperative_pong-v6"))
    ttt = lab.start_trial("ttt", "random", seed=1).wait(60)
    assert ttt.errors == []
    steps = lab.steps(ttt.id)
    # turn-based: at each tick exactly one player acts, the other answers nothing
    acted = steps[steps["tick"] < ttt.tick].groupby("tick")["action"].count()
    assert (acted == 1).all()
    data = lab.get_trial_data(ttt.id)
    assert len(data["player_1"]) + len(data["player_2"]) == ttt.tick
    assert data["player_1"].observations["observation"].shape[1:] == (3, 3, 2)
    pong = lab.start_trial("pong", {"paddle_0": "random", "paddle_1": "random"}, max_steps=20).wait(60)
    assert pong.errors == [] and pong.tick == 21
    assert set(lab.steps(pong.id)["actor"]) == {"paddle_0", "paddle_1"}


def _pong_policy(observation):
    return int(observation.sum()) % 3  # deterministic: the same game in the lab and in PettingZoo's loop


def test_aec_trial_data_is_pettingzoos_last_loop(lab):
    """A whole turn-based game: every agent's rewards (those given on the other's turn too),
    observations and end flags are what PettingZoo's own ``last()`` loop reports."""
    from pettingzoo.butterfly import cooperative_pong_v6

    game = cooperative_pong_v6.env(max_cycles=40)
    game.reset(seed=0)
    turns = {agent: [] for agent in game.possible_agents}
    for agent in game.agent_iter():
        observation, reward, terminated, truncated, _ = game.last()
        turns[agent].append((observation.copy(), reward, terminated, truncated))
        game.step(None if terminated or truncated else _pong_policy(observation))

    lab.serve_env("pong", envs.PettingZooAEC("butterfly/cooperative_pong-v6", make_kwargs={"max_cycles": 40}))
    lab.serve_actor("policy", _pong_policy)
    handle = lab.start_trial("pong", "policy", seed=0).wait(120)
    assert handle.errors == []
    data = lab.get_trial_data(handle.id)
    steps = lab.steps(handle.id)
    for agent, seen in turns.items():
        observations, rewards, terminated, truncated = (list(column) for column in zip(*seen, strict=True))
        mine = data[agent]
        assert len(mine) == len(seen) - 1  # every turn but the final one is an action
        # last() at turn k + 1 reports what turn k's action brought (turn 0's is added to the first)
        assert mine.rewards.tolist() == [rewards[0] + rewards[1], *rewards[2:]]
        assert mine.rewards.sum() == sum(rewards) == steps[steps["actor"] == agent]["reward"].sum() > 0
        assert np.array_equal(mine.observations, np.stack(observations[:-1]))
        assert np.array_equal(mine.next_observations, np.stack(observations[1:]))
        assert mine.terminated.tolist() == terminated[1:] and mine.truncated.tolist() == truncated[1:]
        assert len(mine.info) == len(seen) and mine.info[-1] == {agent: {} for agent in turns}
    assert lab.trials(trial_ids=[handle.id]).iloc[0]["return_paddle_0"] == sum(r for _, r, *_ in turns["paddle_0"])


def test_a_person_beside_an_agent_and_two_people_in_one_trial(lab, monkeypatch):
    monkeypatch.setenv("COGMENT_JUPYTER_HUMAN_STAND_IN", "random:3")
    lab.serve_env("pong", envs.PettingZooParallel("butterfly/cooperative_pong-v6", render=True))
    keys = {"ArrowUp": 1, "ArrowDown": 2}
    beside = lab.play("pong", keys=keys, noop=0, fps=60, agent="paddle_0", actors={"paddle_1": "random"}, max_steps=15)
    handle = beside.trial.wait(60)
    beside.stand_in.stop()
    assert handle.errors == [] and handle.tick == 16
    actions = lab.steps(handle.id)
    mine = actions[(actions["actor"] == "paddle_0") & (actions["tick"] < 16)]["action"].tolist()
    assert mine == beside.actions

    first = lab.play("pong", keys=keys, noop=0, fps=60, agent="paddle_0", actors={"paddle_1": "client"}, max_steps=15)
    second = first.add_player("paddle_1", keys={"w": 1, "s": 2}, noop=0)
    handle = first.trial.wait(60)
    first.stand_in.stop()
    second.stand_in.stop()
    assert handle.errors == [] and handle.tick == 16
    steps = lab.steps(handle.id)
    played = steps[steps["tick"] < 16]
    assert played[played["actor"] == "paddle_0"]["action"].tolist() == first.actions
    assert played[played["actor"] == "paddle_1"]["action"].tolist() == second.actions
    assert first.state == second.state == "ended"


def test_teacher_override_is_recorded(lab):
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
    lab.serve_actor("left", actors.Constant(0))
    widget = lab.teach("cartpole", "left", keys={"ArrowRight": 1}, noop=0, fps=40, max_steps=25)
    trial = widget.trial
    wait_for(lambda: trial.state == "RUNNING", 30, "the trial to run")
    widget._handle_message(widget, {"type": "keys", "pressed": ["ArrowRight"], "seq": 1, "t_ms": 0}, [])
    wait_for(lambda: trial.tick >= 3, 30, "three ticks with the key held")
    widget._handle_message(widget, {"type": "keys", "pressed": [], "seq": 2, "t_ms": 0}, [])
    handle = widget.trial.wait(60)
    assert handle.errors == []
    interventions = lab.interventions(handle.id)
    taken = interventions[interventions["active"]]
    assert len(taken) >= 2 and (taken["executed"] == 1).all() and (taken["proposed"] == 0).all()
    free = interventions[~interventions["active"]]
    assert (free["executed"] == free["proposed"]).all()
    # what the teacher sent each tick is in the data too
    teacher_rows = lab.steps(handle.id)
    teacher_rows = teacher_rows[(teacher_rows["actor"] == "teacher") & (teacher_rows["tick"] < handle.tick)]
    assert sum(a["active"] for a in teacher_rows["action"]) == len(taken)


def test_conversions_on_their_own():
    base = envs.Gymnasium("CartPole-v1", render=True)
    teacher = Teacher(base)
    assert set(teacher.agent_specs) == {"gym", "teacher"}
    from cogment_jupyter.adapters.base import TrialContext

    fork = teacher.fork()
    first = fork.reset(TrialContext("t", seed=1, render=True))
    assert np.array_equal(first.observations["teacher"], first.observations["gym"])
    taken = fork.step({"gym": 0, "teacher": {"active": 1, "action": 1}})
    assert taken.info["intervention"] == {"teacher": "teacher", "active": True, "proposed": 0, "executed": 1}
    assert (taken.frame[0, 0] == [220, 30, 30]).all()
    left_alone = fork.step({"gym": 0, "teacher": {"active": 0, "action": 1}})
    assert left_alone.info["intervention"]["executed"] == 0
    fork.close()
    observer = Observer(envs.Gymnasium("CartPole-v1")).fork()
    start = observer.reset(TrialContext("o", seed=2))
    assert start.observations["observer"]["action"] == 0
    after = observer.step({"gym": 1, "observer": 0})
    assert after.observations["observer"]["action"] == 1
    with pytest.raises(ValueError, match="no agent"):
        Teacher(base, agent="nobody")


def test_an_observer_watches_an_agent(lab):
    lab.serve_env("watched", Observer(envs.Gymnasium("CartPole-v1")))
    lab.serve_actor("lean", lambda observation: int(observation[2] > 0))
    lab.serve_actor("watch", lambda observation: 0)
    handle = lab.start_trial("watched", {"gym": "lean", "observer": "watch"}, seed=4).wait(60)
    assert handle.errors == []
    steps = lab.steps(handle.id)
    gym_actions = steps[steps["actor"] == "gym"]["action"].tolist()
    seen = [o["action"] for o in steps[steps["actor"] == "observer"]["observation"]]
    assert seen[1:] == gym_actions[: len(seen) - 1]
