from __future__ import annotations

import pickle
import textwrap

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter.adapters import AGENT, Gymnasium, StepResult, TrialContext, ValueOutsideSpaceError


def run(env: Gymnasium, context: TrialContext, policy=lambda obs, t: 0, options=None) -> list[StepResult]:
    trial = env.fork()
    results = [trial.reset(context, options)]
    t = 0
    while not results[-1].done:
        results.append(trial.step({AGENT: policy(results[-1].observations[AGENT], t)}))
        t += 1
    trial.close()
    return results


def test_specs_and_metadata_without_a_trial() -> None:
    env = Gymnasium("CartPole-v1")
    spec = env.agent_specs[AGENT]
    assert list(env.agent_specs) == ["gym"]
    assert spec.action_space == gym.spaces.Discrete(2) and spec.observation_space.shape == (4,)
    assert env.render_fps == 50.0
    assert Gymnasium("MountainCar-v0").render_fps == 30.0
    assert "CartPole-v1" in repr(env)


def test_seeds_differ_by_default_and_are_recorded() -> None:
    env = Gymnasium("CartPole-v1")
    firsts = [env.fork().reset(TrialContext(f"t{i}")) for i in range(5)]
    seeds = [r.info["seed"] for r in firsts]
    assert len(set(seeds)) == 5 and all(isinstance(s, int) for s in seeds)
    assert len({r.observations[AGENT].tobytes() for r in firsts}) == 5
    # a recorded seed replays the trial exactly
    replay = env.fork().reset(TrialContext("again", seed=seeds[2]))
    np.testing.assert_array_equal(replay.observations[AGENT], firsts[2].observations[AGENT])


def test_given_seed_is_reproducible_step_by_step() -> None:
    env = Gymnasium("MountainCar-v0")

    def policy(obs, t):
        return t % 3

    a = run(env, TrialContext("a", seed=123), policy)
    b = run(env, TrialContext("b", seed=123), policy)
    assert a[0].info["seed"] == 123
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.observations[AGENT], y.observations[AGENT])
        assert x.rewards == y.rewards


def test_terminated_vs_truncated() -> None:
    cartpole = run(Gymnasium("CartPole-v1"), TrialContext("c", seed=1))  # always push left: falls
    last = cartpole[-1]
    assert last.done and last.terminated == {AGENT: True} and last.truncated == {AGENT: False}
    assert all(not r.done for r in cartpole[:-1])
    assert all(r.rewards == {AGENT: 1.0} for r in cartpole[1:])
    car = run(Gymnasium("MountainCar-v0", max_episode_steps=7), TrialContext("m", seed=1))
    assert len(car) == 8 and car[-1].truncated == {AGENT: True} and car[-1].terminated == {AGENT: False}
    assert type(car[-1].terminated[AGENT]) is bool and type(car[-1].rewards[AGENT]) is float


def test_info_and_action_masks_are_kept() -> None:
    env = Gymnasium("Taxi-v4")
    trial = env.fork()
    first = trial.reset(TrialContext("t", seed=0))
    assert first.info["prob"] == 1.0 and first.info["seed"] == 0
    np.testing.assert_array_equal(first.action_masks[AGENT], first.info["action_mask"])
    nxt = trial.step({AGENT: 0})
    assert "action_mask" in nxt.info and AGENT in nxt.action_masks
    assert Gymnasium("CartPole-v1").fork().reset(TrialContext("c")).action_masks == {}


def test_render_frames() -> None:
    env = Gymnasium("CartPole-v1", render=True)
    results = run(env, TrialContext("r", seed=3))
    assert all(r.frame is not None and r.frame.shape == (400, 600, 3) and r.frame.dtype == np.uint8 for r in results)
    assert not np.array_equal(results[0].frame, results[-1].frame)
    plain = Gymnasium("CartPole-v1")
    assert plain.fork().reset(TrialContext("p")).frame is None
    asked = plain.fork()
    assert asked.reset(TrialContext("q", render=True)).frame.shape == (400, 600, 3)  # the trial asks
    assert asked.step({AGENT: 1}).frame is not None
    with pytest.raises(ValueError, match="render_mode='human' is not supported"):
        Gymnasium("CartPole-v1", make_kwargs={"render_mode": "human"})
    assert Gymnasium("CartPole-v1", make_kwargs={"render_mode": "rgb_array"}).render


def test_unknown_id_names_close_matches() -> None:
    with pytest.raises(ValueError, match=r"unknown Gymnasium environment id 'CartPol-v1'.*'CartPole-v1'"):
        Gymnasium("CartPol-v1")
    with pytest.raises(ValueError, match=r"'MountainCar-v0'"):
        Gymnasium("mountaincar-v0")
    with pytest.raises(ValueError, match=r"cannot import 'no_such_module_xyz'"):
        Gymnasium("no_such_module_xyz:Thing-v0")
    with pytest.raises(TypeError, match="callable"):
        Gymnasium(42)  # type: ignore[arg-type]


@pytest.fixture
def custom_module(tmp_path, monkeypatch):
    name = "cj_test_registration_module"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            import gymnasium as gym
            import numpy as np

            class Counter(gym.Env):
                metadata = {"render_fps": 7, "render_modes": []}
                def __init__(self, limit=3):
                    self.limit = limit
                    self.observation_space = gym.spaces.Discrete(100)
                    self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
                def reset(self, *, seed=None, options=None):
                    super().reset(seed=seed)
                    self.t = int((options or {}).get("start", 0))
                    return self.t, {"options": options}
                def step(self, action):
                    self.t += 1
                    return self.t, float(action.sum()), self.t >= self.limit, False, {"t": self.t}

            gym.register(id="CjCounter-v0", entry_point=Counter)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    gym.registry.pop("CjCounter-v0", None)


def test_module_id_registration_kwargs_and_options(custom_module: str) -> None:
    env = Gymnasium(f"{custom_module}:CjCounter-v0", make_kwargs={"limit": 7}, reset_options={"start": 5})
    assert env.render_fps == 7.0
    results = run(env, TrialContext("x"), policy=lambda obs, t: np.array([0.25, 0.5], dtype=np.float32))
    assert [r.observations[AGENT] for r in results] == [5, 6, 7]  # terminated once t >= limit
    assert results[0].info["options"] == {"start": 5}
    assert results[1].info == {"t": 6} and results[1].rewards == {AGENT: 0.75}
    overridden = run(env, TrialContext("y"), lambda o, t: [0.0, 0.0], options={"start": 10})
    assert overridden[0].observations[AGENT] == 10  # per-trial options win; lists become arrays
    via_registration = Gymnasium("CjCounter-v0", registration=custom_module)
    assert via_registration.agent_specs[AGENT].observation_space == gym.spaces.Discrete(100)


def test_factory_with_time_limit_and_render() -> None:
    def make(**kwargs):
        return gym.make("MountainCar-v0", **kwargs).unwrapped

    env = Gymnasium(make, max_episode_steps=3, render=True)
    results = run(env, TrialContext("f", seed=0))
    assert len(results) == 4 and results[-1].truncated[AGENT] and results[-1].frame is not None
    assert "make" in repr(env)
    with pytest.raises(TypeError, match=r"not a gymnasium\.Env"):
        Gymnasium(lambda **kw: object()).agent_specs  # noqa: B018


def test_actions_are_validated_with_clear_errors() -> None:
    trial = Gymnasium("CartPole-v1").fork()
    with pytest.raises(RuntimeError, match="before reset"):
        trial.step({AGENT: 0})
    trial.reset(TrialContext("v", seed=0))
    with pytest.raises(ValueOutsideSpaceError, match=r"action 5 is outside Discrete\(2\).*\[0, 1\]"):
        trial.step({AGENT: 5})
    with pytest.raises(ValueError, match="no action for agent 'gym'"):
        trial.step({"player": 0})
    with pytest.raises(ValueError, match="sent no action"):
        trial.step({AGENT: None})
    assert not trial.step({AGENT: np.int64(1)}).done  # numpy ints are fine
    box = Gymnasium("MountainCarContinuous-v0").fork()
    box.reset(TrialContext("b", seed=0))
    box.step({AGENT: [0.5]})  # a list becomes a float32 array
    with pytest.raises(ValueOutsideSpaceError, match="clip it"):
        box.step({AGENT: [2.0]})


def test_forks_are_isolated_and_envs_are_reused() -> None:
    env = Gymnasium("CartPole-v1")
    a, b = env.fork(), env.fork()
    a.reset(TrialContext("a", seed=1))
    b.reset(TrialContext("b", seed=2))
    assert a.env is not b.env
    used = a.env
    a.step({AGENT: 0})
    a.close()
    c = env.fork()
    c.reset(TrialContext("c", seed=1))
    assert c.env is used  # a finished trial's env serves the next one, reset with its seed
    fresh = Gymnasium("CartPole-v1").fork()
    np.testing.assert_array_equal(
        c.reset(TrialContext("c", seed=9)).observations[AGENT],
        fresh.reset(TrialContext("d", seed=9)).observations[AGENT],
    )
    no_reuse = Gymnasium("CartPole-v1", reuse=False)
    d = no_reuse.fork()
    d.reset(TrialContext("d"))
    kept = d.env
    d.close()
    e = no_reuse.fork()
    e.reset(TrialContext("e"))
    assert e.env is not kept
    env.close()  # the template drains its pool
    assert env._shared.idle == {False: [], True: []}


def test_broken_env_is_not_reused() -> None:
    class Fails(gym.Env):
        observation_space = gym.spaces.Discrete(2)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return 0, {}

        def step(self, action):
            raise RuntimeError("boom")

    env = Gymnasium(Fails)
    trial = env.fork()
    trial.reset(TrialContext("x"))
    broken = trial.env
    with pytest.raises(RuntimeError, match="boom"):
        trial.step({AGENT: 0})
    trial.close()
    again = env.fork()
    again.reset(TrialContext("y"))
    assert again.env is not broken


def test_template_pickles_without_live_envs() -> None:
    env = Gymnasium("CartPole-v1", render=False)
    env.agent_specs  # noqa: B018 - probes and keeps an idle env
    trial = env.fork()
    trial.reset(TrialContext("p"))
    clone = pickle.loads(pickle.dumps(env))
    assert clone.agent_specs[AGENT].action_space == gym.spaces.Discrete(2)
    assert clone.env is None
    result = clone.fork().reset(TrialContext("q", seed=4))
    assert result.info["seed"] == 4


def test_plain_step_is_step_without_its_result_for_most_steps() -> None:
    """``plain_step`` (the lean runner's port): the same env steps as ``step`` from the same
    seed, ``(observation, reward, None)`` while the episode goes on with nothing more to say,
    ``step``'s result for the last step or any other."""
    env = Gymnasium("CartPole-v1")
    stepped, plain = env.fork(), env.fork()
    context = TrialContext("t", seed=11)
    stepped.reset(context)
    plain.reset(context)
    for t in range(600):
        result = stepped.step({AGENT: t % 2})
        observation, reward, other = plain.plain_step(t % 2)
        if other is None:
            assert not result.done and not result.info and result.frame is None
            assert np.array_equal(observation, result.observations[AGENT]) and reward == result.rewards[AGENT]
            assert type(reward) is float
            continue
        assert (observation, reward) == (None, None)
        assert np.array_equal(other.observations[AGENT], result.observations[AGENT])
        assert (other.rewards, other.terminated, other.truncated, other.done) == (
            result.rewards,
            result.terminated,
            result.truncated,
            result.done,
        )
        assert other.done
        break
    else:
        raise AssertionError("the episode never ended")
    stepped.close()
    plain.close()


def test_plain_step_gives_its_result_for_a_step_that_says_more() -> None:
    """A step with an info, or a frame, is no plain one: its result comes as ``step`` makes it."""
    rendered = Gymnasium("CartPole-v1", render=True).fork()
    rendered.reset(TrialContext("t", seed=1))
    observation, reward, result = rendered.plain_step(0)
    assert (observation, reward) == (None, None) and result.frame is not None and not result.done
    rendered.close()

    class Talkative(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return np.zeros(1, np.float32), {}

        def step(self, action):
            return np.zeros(1, np.float32), 1, False, False, {"said": action}

    talkative = Gymnasium(Talkative).fork()
    talkative.reset(TrialContext("t", seed=1))
    observation, reward, result = talkative.plain_step(1)
    assert (observation, reward) == (None, None)
    assert result.info == {"said": 1} and result.rewards == {AGENT: 1.0} and not result.done
    talkative.close()
