from __future__ import annotations

import pickle

import pytest

from cogment_jupyter.adapters import Random, TrialContext, ValueOutsideSpaceError
from cogment_jupyter.adapters.pettingzoo_env import PettingZooAEC, PettingZooParallel, resolve_factory

pytest.importorskip("pettingzoo.classic")
pytestmark = pytest.mark.filterwarnings("ignore:The old environment creation API:DeprecationWarning")


def players(env, seed: int | None = None) -> dict:
    out = {}
    for agent, spec in env.agent_specs.items():
        actor = Random().fork()
        actor.reset(agent, spec, TrialContext("t", seed=seed))
        out[agent] = actor
    return out


def play_aec(env: PettingZooAEC, seed: int, moves: list | None = None) -> list:
    trial = env.fork()
    actors = players(env, seed)
    results = [trial.reset(TrialContext("t", seed=seed))]
    while not results[-1].done:
        last = results[-1]
        (agent,) = last.acting
        mask = last.action_masks[agent]
        action = actors[agent].act(last.observations[agent], None, action_mask=mask)
        if moves is not None:
            moves.append((mask, action))
        results.append(trial.step({agent: action}))
    trial.close()
    return results


def test_aec_turns_masks_and_final_rewards() -> None:
    env = PettingZooAEC("classic/tictactoe-v3")
    assert list(env.agent_specs) == ["player_1", "player_2"] and env.render_fps == 1.0
    moves: list = []
    results = play_aec(env, seed=4, moves=moves)
    assert all(mask[action] == 1 for mask, action in moves)  # masks respected
    first = results[0]
    assert first.acting == ["player_1"] and first.info["seed"] == 4
    assert first.observations["player_2"] is not None  # everyone observes, one acts
    assert [r.acting for r in results[1:3]] == [["player_2"], ["player_1"]]
    last = results[-1]
    assert last.done and last.acting == [] and all(last.terminated.values())
    assert sorted(last.rewards.values()) in ([-1.0, 1.0], [0.0, 0.0]) or last.rewards == {}
    assert last.observations["player_1"]["observation"].shape == (3, 3, 2)  # the final board is kept


def test_aec_reproducible_and_validated() -> None:
    env = PettingZooAEC("pettingzoo.classic.tictactoe_v3")
    a = [r.rewards for r in play_aec(env, seed=11)]
    b = [r.rewards for r in play_aec(env, seed=11)]
    assert a == b
    trial = env.fork()
    trial.reset(TrialContext("v", seed=0))
    with pytest.raises(ValueError, match="it is the turn of 'player_1'"):
        trial.step({"player_2": 0})
    with pytest.raises(ValueOutsideSpaceError, match=r"action of 'player_1' 9 is outside Discrete\(9\)"):
        trial.step({"player_1": 9})
    with pytest.raises(ValueError, match="sent no action"):
        trial.step({"player_1": None})


def test_parallel_everyone_acts() -> None:
    env = PettingZooParallel("classic/rps-v2", make_kwargs={"max_cycles": 3})
    trial = env.fork()
    first = trial.reset(TrialContext("p", seed=2))
    assert first.acting == ["player_0", "player_1"] and first.info["seed"] == 2
    results = [first]
    while not results[-1].done:
        results.append(trial.step({"player_0": 0, "player_1": 1}))  # paper covers rock
    assert len(results) == 4
    assert results[1].rewards == {"player_0": -1.0, "player_1": 1.0}
    assert results[-1].truncated == {"player_0": True, "player_1": True} and results[-1].acting == []
    fresh = env.fork()
    fresh.reset(TrialContext("q"))
    with pytest.raises(ValueError, match=r"no action for \['player_1'\]"):
        fresh.step({"player_0": 0})


def test_rendering_factories_and_errors() -> None:
    env = PettingZooAEC("pettingzoo.classic.tictactoe_v3.env", render=True)
    result = env.fork().reset(TrialContext("r"))
    assert result.frame is not None and result.frame.ndim == 3
    from pettingzoo.classic import rps_v2

    assert resolve_factory(rps_v2.parallel_env, "parallel") is rps_v2.parallel_env
    assert resolve_factory("pettingzoo.classic.rps_v2", "parallel") is rps_v2.parallel_env
    with pytest.raises(ValueError, match=r"cannot find the PettingZoo aec env .*'classic/tictactoe-v3'"):
        PettingZooAEC("classic/tictactoe-v9")
    with pytest.raises(ValueError, match="cannot find"):
        PettingZooAEC("pettingzoo.classic.nothing_here_v0")
    assert PettingZooAEC("pettingzoo.classic.tictactoe_v3").agent_specs.keys() == {"player_1", "player_2"}
    with pytest.raises(ValueError, match="render_mode='human'"):
        PettingZooAEC("pettingzoo.classic.tictactoe_v3", make_kwargs={"render_mode": "human"})
    for name in ("classic/rps-v2", "pettingzoo.classic.rps_v2"):
        clone = pickle.loads(pickle.dumps(PettingZooParallel(name)))
        assert clone.fork().reset(TrialContext("c", seed=1)).info["seed"] == 1
    assert clone.fork().reset(TrialContext("c", seed=1)).info["seed"] == 1
    assert "rps_v2" in repr(clone)
