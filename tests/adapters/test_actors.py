from __future__ import annotations

import asyncio
import inspect
import pickle
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter.adapters import AgentSpec, Constant, Policy, Random, Torch, TrialContext, ValueOutsideSpaceError
from cogment_jupyter.adapters.actors import derive_seed

from .spaces_cases import SPACES

OBS = gym.spaces.Box(-1, 1, (4,), dtype=np.float32)


def started(actor, action_space: gym.Space, seed: int | None = None, agent: str = "gym", obs_space=OBS):
    trial = actor.fork()
    trial.reset(agent, AgentSpec(obs_space, action_space), TrialContext("t", seed=seed))
    return trial


def actions(actor, n: int = 50, **kwargs) -> list:
    return [actor.act(None, None, **kwargs) for _ in range(n)]


@pytest.mark.parametrize("name", [n for n in SPACES if not n.startswith("text")])
def test_random_samples_the_action_space(name: str) -> None:
    space = SPACES[name]
    trial = started(Random(), space)
    for action in actions(trial, 20):
        assert space.contains(action), action


def test_random_discrete_fast_path_returns_ints_in_range() -> None:
    trial = started(Random(), gym.spaces.Discrete(3, start=-1))
    drawn = actions(trial, 3000)
    assert all(type(a) is int for a in drawn)
    counts = Counter(drawn)
    assert set(counts) == {-1, 0, 1} and min(counts.values()) > 800


def test_random_trials_with_a_seed_are_reproducible() -> None:
    space = gym.spaces.Discrete(6)
    a = actions(started(Random(), space, seed=5))
    b = actions(started(Random(), space, seed=5))
    assert a == b
    assert actions(started(Random(), space, seed=6)) != a
    assert actions(started(Random(), space, seed=5, agent="other")) != a  # agents get their own streams
    box = gym.spaces.Box(-1, 1, (3,))
    np.testing.assert_array_equal(
        np.stack(actions(started(Random(), box, seed=5), 5)), np.stack(actions(started(Random(), box, seed=5), 5))
    )


def test_random_reset_with_a_spec_it_saw_before_draws_as_with_a_new_one() -> None:
    """A batch's trials share one spec (what a Random actor works out of it is kept once):
    its forks, reset in turn with specs of other spaces, each draw from their trial's spec
    and seed as with a spec of their own."""
    template = Random()
    masked = gym.spaces.Dict({"obs": OBS, "action_mask": gym.spaces.MultiBinary(4)})
    spaces = [gym.spaces.Discrete(3, start=2), gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(4)]
    shared = [AgentSpec(OBS, space) for space in spaces] + [AgentSpec(masked, gym.spaces.Discrete(4))]
    for round_ in range(3):
        for spec in shared:
            trial, fresh = template.fork(), Random().fork()
            trial.reset("gym", spec, TrialContext("t", seed=round_))
            fresh.reset("gym", AgentSpec(spec.observation_space, spec.action_space), TrialContext("t", seed=round_))
            mask = np.array([0, 0, 1, 0], dtype=np.int8) if spec.observation_space is masked else None
            drawn, expected = actions(trial, 20, action_mask=mask), actions(fresh, 20, action_mask=mask)
            np.testing.assert_array_equal(np.stack(drawn), np.stack(expected))
            assert all(spec.action_space.contains(action) for action in drawn)
            if mask is not None:
                assert set(drawn) == {2}
    assert actions(started(template, gym.spaces.Discrete(2), seed=1), 12) == actions(
        started(Random(), gym.spaces.Discrete(2), seed=1), 12
    )


def test_random_seeded_streams_are_those_of_earlier_versions() -> None:
    """A seeded trial's actions replay across versions (recorded trials stay reproducible):
    the seeds each actor derives and the actions drawn from them are pinned."""
    assert [
        derive_seed(None, 7, "gym", 0),
        derive_seed(3, 7, "gym", 5),
        derive_seed(3, None, "gym", 2),
        derive_seed(None, 2**40, "player_1", 0),
    ] == [8322296428583040768, 13012434059523555576, 15750137830708874629, 10077573565403444096]
    space = gym.spaces.Discrete(6)
    assert actions(started(Random(), space, seed=5), 12) == [1, 0, 0, 4, 3, 5, 1, 3, 0, 3, 0, 5]
    assert actions(started(Random(seed=9), space), 12) == [2, 0, 0, 5, 4, 1, 0, 0, 4, 2, 1, 1]


def test_a_random_actor_in_use_pickles_with_its_stream() -> None:
    """An actor is pickled to be served from another process: its generator goes with it."""
    actor = Random(seed=1, action_space=gym.spaces.Discrete(50))
    actions(actor, 3)
    copied = pickle.loads(pickle.dumps(actor))
    assert actions(copied, 20) == actions(actor, 20)


def test_random_unseeded_trials_differ() -> None:
    template = Random()
    space = gym.spaces.Discrete(1000)
    runs = [tuple(actions(started(template, space), 10)) for _ in range(5)]
    assert len(set(runs)) == 5
    other = [tuple(actions(started(Random(), gym.spaces.Box(-1, 1, (2,))), 3)[0]) for _ in range(3)]
    assert len(set(other)) == 3


def test_random_own_seed_replays_the_sequence_of_trials() -> None:
    space = gym.spaces.Discrete(50)

    def sequence(actor: Random) -> list[list[int]]:
        return [actions(started(actor, space), 10) for _ in range(3)]

    first, second = sequence(Random(seed=1)), sequence(Random(seed=1))
    assert first == second
    assert first[0] != first[1]  # but each trial differs from the previous one


def test_random_respects_action_masks() -> None:
    trial = started(Random(), gym.spaces.Discrete(5))
    mask = np.array([0, 1, 0, 1, 0], dtype=np.int8)
    assert set(actions(trial, 200, action_mask=mask)) == {1, 3}
    assert "action_mask" in inspect.signature(trial.act).parameters  # how the runtime detects it
    pettingzoo = gym.spaces.Dict(
        {
            "observation": gym.spaces.Box(0, 1, (9,), dtype=np.int8),
            "action_mask": gym.spaces.Box(0, 1, (9,), dtype=np.int8),
        }
    )
    ttt = started(Random(), gym.spaces.Discrete(9), obs_space=pettingzoo)
    observation = {"observation": np.zeros(9, np.int8), "action_mask": np.eye(9, dtype=np.int8)[4]}
    assert {ttt.act(observation) for _ in range(50)} == {4}
    multi = started(Random(), gym.spaces.MultiDiscrete([3, 2]))
    drawn = {tuple(multi.act(None, None, action_mask=(np.array([0, 0, 1]), np.array([1, 0])))) for _ in range(20)}
    assert drawn == {(2, 0)}


def test_random_standalone_and_errors() -> None:
    standalone = Random(seed=3, action_space=gym.spaces.Discrete(4))
    assert all(0 <= a < 4 for a in actions(standalone, 20))
    assert actions(Random(seed=3, action_space=gym.spaces.Discrete(4)), 20) == actions(
        Random(seed=3, action_space=gym.spaces.Discrete(4)), 20
    )
    with pytest.raises(RuntimeError, match="before reset"):
        Random().act(None)


def test_constant() -> None:
    trial = started(Constant(1), gym.spaces.Discrete(2))
    assert actions(trial, 3) == [1, 1, 1]
    vector = started(Constant([0.5, -0.5]), gym.spaces.Box(-1, 1, (2,), dtype=np.float32))
    assert vector.act(None).dtype == np.float32
    with pytest.raises(ValueOutsideSpaceError, match=r"Constant action of agent 'gym' 7 is outside Discrete\(2\)"):
        started(Constant(7), gym.spaces.Discrete(2))
    assert repr(Constant(1)) == "Constant(1)"


def test_policy_takes_any_callable() -> None:
    threshold = 0.0

    def closure(obs):
        return int(obs[2] > threshold)

    trial = started(Policy(closure), gym.spaces.Discrete(2))
    assert trial.act(np.array([0, 0, 0.1, 0])) == 1 and trial.act(np.array([0, 0, -0.1, 0])) == 0
    assert started(Policy(lambda obs: 1), gym.spaces.Discrete(2)).act(None) == 1
    with pytest.raises(TypeError, match="callable"):
        Policy(3)  # type: ignore[arg-type]
    assert "closure" in repr(Policy(closure))


def test_async_policy() -> None:
    async def think(obs):
        await asyncio.sleep(0)
        return obs + 1

    policy = Policy(think)
    assert inspect.iscoroutinefunction(policy.act)
    assert asyncio.run(policy.act(1)) == 2


# -- torch ------------------------------------------------------------------------------------


def test_torch_errors_without_importing_torch() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        Torch(lambda x: x, mode="softmax")
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
        Torch(lambda x: x, epsilon=2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        Torch(lambda x: x, temperature=0)
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        Torch(3)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def q_net(torch, n_out: int = 3):
    net = torch.nn.Linear(4, n_out, bias=True)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.copy_(torch.arange(n_out, dtype=torch.float32))  # action n_out - 1 is best
    return net


def test_torch_greedy_follows_live_weights(torch) -> None:
    net = q_net(torch)
    trial = started(Torch(net), gym.spaces.Discrete(3, start=10))
    obs = np.zeros(4, np.float32)
    assert trial.act(obs) == 12
    with torch.no_grad():
        net.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))  # "trained" in the notebook
    assert trial.act(obs) == 10
    assert trial.act(obs, None, action_mask=np.array([0, 1, 1])) in (11, 12)
    assert net.training  # the actor does not flip the module's mode
    follows = started(Torch(net, device=None), gym.spaces.Discrete(3))
    assert follows.act(obs) == 0


def test_torch_epsilon_and_boltzmann(torch) -> None:
    obs = np.zeros(4, np.float32)
    eps = started(Torch(q_net(torch), "epsilon", epsilon=1.0, seed=0), gym.spaces.Discrete(3))
    assert set(eps.act(obs) for _ in range(100)) == {0, 1, 2}
    eps.set_epsilon(0.0)
    assert {eps.act(obs) for _ in range(20)} == {2}
    hot = started(Torch(q_net(torch), "boltzmann", temperature=100.0, seed=1), gym.spaces.Discrete(3))
    assert set(hot.act(obs) for _ in range(200)) == {0, 1, 2}
    hot.set_temperature(0.01)
    assert {hot.act(obs) for _ in range(20)} == {2}
    masked = {hot.act(obs, None, action_mask=[1, 1, 0]) for _ in range(20)}
    assert masked == {1}
    with pytest.raises(ValueError, match="temperature"):
        hot.set_temperature(-1)
    with pytest.raises(ValueError, match="output needs 5 units"):
        started(Torch(q_net(torch)), gym.spaces.Discrete(5)).act(obs)


def test_torch_box_actions_and_dict_observations(torch) -> None:
    net = torch.nn.Linear(4, 2)
    with torch.no_grad():
        net.weight.fill_(10.0)
    trial = started(Torch(net), gym.spaces.Box(-1, 1, (2,), dtype=np.float32))
    action = trial.act(np.ones(4, np.float32))
    assert action.dtype == np.float32 and action.shape == (2,) and np.all(action == 1.0)  # clipped
    with pytest.raises(ValueError, match="boltzmann"):
        started(Torch(net, "boltzmann"), gym.spaces.Box(-1, 1, (2,)))
    pettingzoo = gym.spaces.Dict({"observation": OBS, "action_mask": gym.spaces.Box(0, 1, (3,), dtype=np.int8)})
    masked = started(Torch(q_net(torch)), gym.spaces.Discrete(3), obs_space=pettingzoo)
    assert masked.act({"observation": np.zeros(4, np.float32), "action_mask": np.array([1, 1, 0], np.int8)}) == 1
    with pytest.raises(ValueError, match="Discrete and Box"):
        started(Torch(net), gym.spaces.MultiBinary(2))
    assert "Linear" in repr(Torch(net))
