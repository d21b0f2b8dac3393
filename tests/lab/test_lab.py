"""The Lab API: serving, trials, data and errors, with real components and a real datastore."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing

import numpy as np
import pytest

from cogment_jupyter import Lab, LabNotLaunched, TrialHandle, actors, concatenate, envs


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        yield lab


def test_a_trial_runs_in_the_background_and_is_recorded(lab):
    handle = lab.start_trial("cartpole", "random")
    assert handle.id and handle.seed is not None
    handle.wait(30)
    assert handle.state == "ENDED" and handle.errors == []
    trials = lab.trials()
    row = trials[trials["trial_id"] == handle.id].iloc[0]
    assert row["state"] == "ENDED" and row["steps"] == handle.tick + 1
    steps = lab.steps(handle.id)
    assert len(steps) == handle.tick + 1
    assert list(steps["tick"]) == list(range(handle.tick + 1))
    assert np.asarray(steps["observation"].iloc[0]).shape == (4,)
    assert set(steps["action"].iloc[:-1]) <= {0, 1}
    assert float(steps["reward"].sum()) == pytest.approx(row["return"])


def test_finished_handles_stay_small(lab):
    """A lab keeps every handle it made: a finished one holds no trial and no future of its own."""
    handles = lab.run_trials(20, "cartpole", "random", progress=False)
    for handle in handles:
        assert handle._trial is None and handle._done is None and not hasattr(handle, "__dict__")
        assert handle.done.result(0) is handle and handle.wait(0) is handle and handle.state == "ENDED"
    assert asyncio.run(_awaited(handles[0])) is handles[0]
    # what a long session keeps per trial: the handle, and no other object the collector walks
    # (its actors are the batch's, its errors a tuple, its state an enum member)
    owned = {
        id(r)
        for handle in handles
        for r in gc.get_referents(handle)
        if gc.is_tracked(r) and r is not lab and not isinstance(r, type)
    }
    assert len(owned) <= 1
    assert handles[0].actors == {"gym": "random"} and handles[0].errors == []


def test_a_long_session_keeps_the_handles_of_recent_trials_only(lab):
    """Running trials' handles, the last finished ones and those the user holds: not every handle."""
    lab._handles.recent = 5
    held = lab.run_trials(3, "cartpole", "random", progress=False)
    ids = [h.id for h in lab.run_trials(20, "cartpole", "random", progress=False)]  # not held
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, TrialHandle) and o._lab is lab]
    assert len(alive) == 3 + 5  # the held ones and the recent ones
    recent = [h.id for h in lab.handles]
    assert len(recent) == 5 and set(recent) <= set(ids)  # the last five to finish
    assert lab.trial(held[0].id) is held[0] and lab.trial(recent[-1]).state == "ENDED"
    gone = next(i for i in ids if i not in recent)
    with pytest.raises(KeyError, match=r"lab\.steps"):
        lab.trial(gone)
    assert len(lab.steps(gone)) > 0  # its data is in the datastore
    with pytest.raises(ValueError, match="already used"):  # ids stay unique beyond the handles kept
        lab.start_trial("cartpole", "random", trial_id=gone)


async def _awaited(handle):
    return await handle


def test_closures_and_lambdas_are_actors(lab):
    threshold = 0.0

    def lean(observation):
        return int(observation[2] > threshold)

    lab.serve_actor("lean", lean)
    lab.serve_actor("lambda", lambda observation: int(observation[3] > 0))
    for name in ("lean", "lambda"):
        handle = lab.start_trial("cartpole", name, seed=5).wait(30)
        actions = lab.get_trial_data(handle.id)["gym"].actions
        observations = lab.get_trial_data(handle.id)["gym"].observations
        expected = (observations[:, 2] > 0) if name == "lean" else (observations[:, 3] > 0)
        assert np.array_equal(actions, expected.astype(np.int64))


def test_seeds_differ_by_default_are_recorded_and_replay(lab):
    first, second = (lab.start_trial("cartpole", "random") for _ in range(2))
    first.wait(30)
    second.wait(30)
    assert first.seed != second.seed
    first_obs = lab.steps(first.id)["observation"].iloc[0]
    replay = lab.start_trial("cartpole", "random", seed=first.seed).wait(30)
    assert np.array_equal(np.asarray(lab.steps(replay.id)["observation"].iloc[0]), np.asarray(first_obs))
    assert lab.steps(replay.id)["action"].tolist() == lab.steps(first.id)["action"].tolist()
    data = lab.get_trial_data(first.id)["gym"]
    assert data.info[0] == {} or isinstance(data.info[0], dict)


def test_each_trial_of_a_batch_owns_its_seeded_params(lab):
    """The seeds of a batch's next trial change neither the params of the trials before it nor
    the batch's unseeded params."""
    from cogment_jupyter.lab.trial_params import UnseededParams
    from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig

    made = lab.trial_params("cartpole", "random")
    unseeded = made.SerializeToString()
    template = UnseededParams(made)
    first, second = template.seeded(1), template.seeded(2)
    for params, seed in ((first, 1), (second, 2)):
        assert EnvConfig.from_bytes(params.environment.config.content).seed == seed
        assert ActorConfig.from_bytes(params.actors[0].config.content).seed == seed + 1
    assert template.params.SerializeToString() == unseeded


def test_a_batch_gives_each_trial_the_params_start_trial_would(lab):
    """run_trials adds each trial's seeds to params made once for the batch: the same params."""
    from cogment_jupyter.lab.trial_params import seeded
    from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig

    options = {"max_steps": 7, "config": {"k": 1}, "actor_configs": {"gym": {"a": 2}}, "properties": {"p": "q"}}
    batched = seeded(lab.trial_params("cartpole", "random", **options), 1234)
    alone = lab.trial_params("cartpole", "random", seed=1234, **options)
    assert EnvConfig.from_bytes(batched.environment.config.content) == EnvConfig.from_bytes(
        alone.environment.config.content
    )
    for mine, theirs in zip(batched.actors, alone.actors, strict=True):
        assert ActorConfig.from_bytes(mine.config.content) == ActorConfig.from_bytes(theirs.config.content)
        mine.config.content = theirs.config.content = b""
    batched.environment.config.content = alone.environment.config.content = b""
    assert batched == alone
    handles = lab.run_trials(3, "cartpole", "random", seed=50, progress=False)
    assert [h.seed for h in handles] == [50, 1050, 2050]
    replay = lab.start_trial("cartpole", "random", seed=1050).wait(30)
    first, again = lab.steps(handles[1].id), lab.steps(replay.id)
    assert first["action"].tolist() == again["action"].tolist()


def test_trial_data_matches_cogment_lab_shapes(lab):
    handles = lab.run_trials(3, "cartpole", "random", progress=False)
    parts = [lab.get_trial_data(h.id)["gym"] for h in handles]
    for handle, data in zip(handles, parts, strict=True):
        n = handle.tick
        assert data.observations.shape == (n, 4) and data.next_observations.shape == (n, 4)
        assert data.actions.shape == (n,) and data.rewards.shape == (n,)
        assert data.done.tolist() == [0.0] * (n - 1) + [1.0]
        assert data.terminated[-1] or data.truncated[-1]
        assert data.last_observation.shape == (1, 4)
        assert np.array_equal(data.next_observations[:-1], data.observations[1:])
    joined = concatenate(parts)
    assert len(joined) == sum(len(p) for p in parts)
    assert np.array_equal(joined.last_observation, parts[-1].last_observation)


def test_a_hundred_concurrent_trials_record_every_step(lab):
    handles = lab.run_trials(100, "cartpole", "random", concurrency=100, progress=False)
    assert all(h.state == "ENDED" and not h.errors for h in handles)
    steps = lab.steps([h.id for h in handles])
    assert len(steps) == sum(h.tick + 1 for h in handles)
    per_trial = steps.groupby("trial_id")["tick"].max()
    assert all(per_trial[h.id] == h.tick for h in handles)


def test_the_orchestrator_forgets_the_oldest_ended_trials_beyond_its_cap(lab):
    engine = lab.orchestrator
    engine.max_ended = 5
    handles = lab.run_trials(12, "cartpole", "random", concurrency=1, progress=False)
    lab._loop_thread.run(_collect(engine))
    kept = [h.id for h in handles if h.id in engine.trials]
    assert kept == [h.id for h in handles[-5:]]  # the newest, whatever the starts between collections
    assert len(lab.steps([h.id for h in handles]).groupby("trial_id")) == 12  # the datastore keeps them all
    assert lab.trial(handles[0].id).state == "ENDED"  # and so do the lab's handles


async def _collect(engine) -> None:
    engine.collect_garbage()


def test_max_steps_and_environment_config(lab):
    lab.serve_env("mountaincar", envs.Gymnasium("MountainCar-v0"))
    handle = lab.start_trial("mountaincar", "random", max_steps=10).wait(30)
    assert handle.tick == 11  # the upstream off-by-one: final observations come at tick max_steps + 1


def test_cogment_lab_make_kwargs_form(lab):
    """Cogment Lab passes the time limit in make_kwargs (gym.make's keyword): same trial as max_episode_steps=."""
    lab.serve_env("short-car", envs.Gymnasium("MountainCar-v0", make_kwargs={"max_episode_steps": 10}))
    handle = lab.start_trial("short-car", "random").wait(30)
    assert handle.errors == [] and handle.state == "ENDED"
    data = lab.get_trial_data(handle.id)["gym"]
    assert len(data) == 10 and data.truncated[-1] and not data.terminated[-1]
    with pytest.raises(ValueError, match="give the time limit once"):
        envs.Gymnasium("MountainCar-v0", make_kwargs={"max_episode_steps": 10}, max_episode_steps=20)


def test_errors_are_clear_and_leave_the_lab_healthy(lab):
    with pytest.raises(KeyError, match="did you mean 'cartpole'"):
        lab.start_trial("cartpol", "random")
    with pytest.raises(KeyError, match="no actor named 'randon'"):
        lab.start_trial("cartpole", "randon")
    with pytest.raises(ValueError, match=r"not agents: \['ghost'\]$"):
        lab.start_trial("cartpole", {"gym": "random", "ghost": "random"})
    with pytest.raises(ValueError, match=r"not agents: \['ghost'\]; unmapped: \['gym'\]"):
        lab.start_trial("cartpole", {"ghost": "random"})
    with pytest.raises(ValueError, match=r"CartPole-V1|close matches|did you mean"):
        envs.Gymnasium("CartPole-V1")
    for odd, named in (("caf\u00e9", "U+00E9"), ("a\x00b", "U+0000"), ("z" * 5000, "at most 4096")):
        with pytest.raises(ValueError, match=named.replace("+", r"\+")):
            lab.start_trial("cartpole", "random", trial_id=odd)

    lab.serve_actor("five", lambda observation: 5)
    bad = lab.start_trial("cartpole", "five").wait(30)
    assert bad.state == "ENDED" and "outside Discrete(2)" in bad.errors[0]

    def crash(observation):
        raise RuntimeError("policy exploded")

    lab.serve_actor("crash", crash)
    crashed = lab.start_trial("cartpole", "crash").wait(30)
    assert "policy exploded" in crashed.errors[0]
    assert "Required actors [gym] unavailable" in crashed.end_details
    status = repr(lab.status())
    assert "policy exploded" in status and "crash" in status
    assert lab.start_trial("cartpole", "random").wait(30).errors == []


def test_using_the_lab_before_launch_says_what_to_do(tmp_path):
    Lab._current = None
    with pytest.raises(LabNotLaunched, match="%cogment launch"):
        Lab.current()
    lab = Lab(datastore=tmp_path / "x")
    assert Lab.current() is lab
    lab.close()
    lab.close()  # idempotent
    with pytest.raises(LabNotLaunched):
        lab.start_trial("cartpole", "random")


def test_awaitable_forms(lab):
    async def main():
        handle = await lab.astart_trial("cartpole", "random")
        assert handle.state != "UNKNOWN"
        finished = await handle
        assert finished is handle and handle.state == "ENDED"
        handles = await lab.arun_trials(3, "cartpole", "random", progress=False)
        data = await lab.aget_trial_data(handles[0].id)
        return handle, data

    handle, data = asyncio.run(main())
    assert len(data["gym"]) == handle.tick or data["gym"].rewards is not None


def test_cancel_ends_a_running_trial(lab):
    lab.serve_actor("slow", _SlowActor())
    handle = lab.start_trial("cartpole", "slow")
    while handle.state != "RUNNING":
        pass
    handle.cancel()
    handle.wait(30)
    assert handle.end_details == "Externally requested"


class _SlowActor(actors.Actor):
    async def act(self, observation, frame=None):
        await asyncio.sleep(0.05)
        return 0


def test_an_environment_served_in_another_process(lab):
    lab.serve_env("cartpole-remote", envs.Gymnasium("CartPole-v1"), process=True)
    offset = 0.01
    lab.serve_actor("biased", lambda observation: int(observation[2] + offset > 0), process=True)
    handle = lab.start_trial("cartpole-remote", "biased", seed=3).wait(60)
    assert handle.errors == [] and handle.tick > 0
    local = lab.start_trial("cartpole", "biased", seed=3).wait(60)
    assert lab.steps(local.id)["action"].tolist() == lab.steps(handle.id)["action"].tolist()
    assert "process" in lab.services["cartpole-remote"]
    lab.stop_service("cartpole-remote")
    assert "cartpole-remote" not in lab.services


def test_an_inprocess_environment_with_an_sdk_actor_in_another_process(lab):
    from tests.lab import sdk_actor_process

    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=sdk_actor_process.serve, args=(ports,), daemon=True)
    process.start()
    try:
        port = ports.get(timeout=60)
        lab.serve_remote("sdk", f"grpc://127.0.0.1:{port}", "sdk")
        handle = lab.start_trial("cartpole", "sdk", seed=11).wait(60)
        assert handle.errors == []
        data = lab.get_trial_data(handle.id)["gym"]
        assert np.array_equal(data.actions, (data.observations[:, 2] > 0).astype(np.int64))
    finally:
        process.terminate()


def test_trials_shows_this_notebooks_trials_by_default(tmp_path, monkeypatch):
    """Notebooks of a server share a datastore; each sees its own trials (after a restart too)."""
    store = tmp_path / "shared"

    def notebook_lab(path: str) -> Lab:
        monkeypatch.setenv("JPY_SESSION_NAME", path)  # what Jupyter gives a notebook's kernel
        lab = Lab(datastore=store)
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        return lab

    with notebook_lab("/class/a.ipynb") as a:
        mine = a.start_trial("cartpole", "random").wait(30).id
    with notebook_lab("/class/b.ipynb") as b:
        theirs = b.start_trial("cartpole", "random").wait(30).id
        assert b.trials()["trial_id"].tolist() == [theirs]
        assert set(b.trials(scope="all")["trial_id"]) == {mine, theirs}
    with notebook_lab("/class/a.ipynb") as again:  # notebook a after a kernel restart
        assert again.trials()["trial_id"].tolist() == [mine]
        assert again.trials(scope="lab").empty
        with pytest.raises(ValueError, match="scope must be one of 'notebook', 'lab', 'all'"):
            again.trials(scope="everything")
    monkeypatch.delenv("JPY_SESSION_NAME")
    with Lab(datastore=store) as script:  # no notebook: the lab's own trials
        assert script.trials().empty and len(script.trials("all")) == 2
