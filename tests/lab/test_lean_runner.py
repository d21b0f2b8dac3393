"""The lean inline runner (``engine.lean``, what ``run_trials`` uses for the batches it takes)
against the engine, same seeds.

A batch of plain episodes run lean gives the handles, recorded steps, trial rows and watcher
states that the same seeds give through the engine's trials (``Orchestrator.lean_episodes``
off); so does a batch whose episodes stop being plain at any point and are handed to the
engine. Batches the lean runner must not take are declined by their params, and a lab
without the fused loop never runs it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.base import Actor, AgentSpec, StepResult, TrialContext
from cogment_jupyter.adapters.codec import codec_for
from cogment_jupyter.adapters.payloads import decode_observation
from cogment_jupyter.engine.lean import LeanEpisode
from cogment_jupyter.engine.records import EXTERNALLY_REQUESTED, TrialState
from cogment_jupyter.engine.trial import Trial
from cogment_jupyter.transport.lean import InProcessEpisode
from tests.lab.test_inline_batch import (
    SEED,
    Endless,
    Fragile,
    FragileActor,
    Moody,
    OneAgent,
    Picky,
    comparable_row,
    comparable_steps,
    cyclic_garbage_of,
    outcome,
    trial_index,
)
from tests.waiting import wait_for


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store", fused_ticks=True) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        lab.serve_env("moody", Moody())
        lab.serve_actor("picky", Picky())
        lab.serve_env("fragile", Fragile())
        lab.serve_actor("breakable", FragileActor())
        yield lab


def watched(lab: Lab, run: Any) -> tuple[Any, dict[str, list[tuple[TrialState, int]]]]:
    """``run()``'s result and each trial's (state, tick) as the orchestrator's watchers saw them."""
    events: list[tuple[str, TrialState, int]] = []
    watching = threading.Event()

    async def watch() -> None:
        async with contextlib.aclosing(lab.orchestrator.watch()) as stream:
            watching.set()
            async for event in stream:
                events.append((event.trial.id, event.state, event.tick_id))

    watcher = asyncio.run_coroutine_threadsafe(watch(), lab.loop)
    wait_for(watching.is_set, 10, "the watcher to subscribe")
    handles = run()
    wait_for(lambda: sum(s == TrialState.ENDED for _, s, _ in events) >= len(handles), 10, "every trial's end")
    watcher.cancel()
    by_trial: dict[str, list[tuple[TrialState, int]]] = {}
    for trial_id, state, tick in events:
        by_trial.setdefault(trial_id, []).append((state, tick))
    return handles, by_trial


def run_both(lab: Lab, n: int, *args: str, **options: Any) -> tuple[list[Any], list[Any], Any, Any]:
    """The same seeds run lean (the default), then as the engine's trials."""
    lean, lean_states = watched(lab, lambda: lab.run_trials(n, *args, seed=SEED, progress=False, **options))
    lab.orchestrator.lean_episodes = False
    try:
        engine, engine_states = watched(lab, lambda: lab.run_trials(n, *args, seed=SEED, progress=False, **options))
    finally:
        lab.orchestrator.lean_episodes = True
    return lean, engine, lean_states, engine_states


def test_plain_cartpole_episodes_run_lean_and_match_the_engine(lab):
    n = 24
    lean, engine, lean_states, engine_states = run_both(lab, n, "cartpole", "random")
    assert all(isinstance(lab.orchestrator.trials.get(h.id), LeanEpisode) for h in lean)
    assert not any(isinstance(lab.orchestrator.trials.get(h.id), LeanEpisode) for h in engine)
    assert [h.seed for h in lean] == [h.seed for h in engine]
    assert len({h.tick for h in lean}) > 3  # episodes of several lengths
    for ours, theirs in zip(lean, engine, strict=True):
        assert outcome(ours) == outcome(theirs)
        assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
        assert comparable_row(lab, ours.id) == comparable_row(lab, theirs.id)
        assert lean_states[ours.id] == engine_states[theirs.id]
        assert [s for s, _ in lean_states[ours.id]] == [
            TrialState.INITIALIZING,
            TrialState.PENDING,
            TrialState.RUNNING,
            TrialState.TERMINATING,
            TrialState.ENDED,
        ]


def test_batches_the_lean_runner_must_not_take_are_declined_by_their_params(lab):
    for options in ({"max_steps": 5}, {"datalog": False}):
        handles = lab.run_trials(3, "cartpole", "random", seed=SEED, progress=False, **options)
        assert not any(isinstance(lab.orchestrator.trials.get(h.id), LeanEpisode) for h in handles), options
        assert {h.state for h in handles} == {"ENDED"}


def test_a_lab_without_the_fused_loop_runs_no_episode_lean(tmp_path):
    with Lab(datastore=tmp_path / "store", fused_ticks=False) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        handles = lab.run_trials(3, "cartpole", "random", seed=SEED, progress=False)
        assert all(type(lab.orchestrator.trials.get(h.id)) is Trial for h in handles)
        assert {h.state for h in handles} == {"ENDED"}


def test_non_plain_episodes_are_handed_to_the_engine_and_match_it(lab):
    # (Moody without max_steps: trial 1 raises at its third step, trial 3's actor answers
    # outside its space at tick 2; Fragile/FragileActor fail at init and at the first tick)
    for env, actor, n in (("moody", "picky", 10), ("fragile", "breakable", 6)):
        lean, engine, lean_states, engine_states = run_both(lab, n, env, actor)
        assert isinstance(lab.orchestrator.trials.get(lean[0].id), LeanEpisode)
        handed = [h for h in lean if isinstance(lab.orchestrator.trials.get(h.id), Trial)]
        assert len(handed) >= 2, (env, [h.errors for h in lean])
        for ours, theirs in zip(lean, engine, strict=True):
            assert outcome(ours) == outcome(theirs)
            assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
            assert comparable_row(lab, ours.id) == comparable_row(lab, theirs.id)
            assert lean_states[ours.id] == engine_states[theirs.id]
        assert any(h.errors for h in lean)


class Abrupt(OneAgent):
    """Trial i (i % 3): 0 ends at its reset, 1 rewards at its reset, 2 lasts 3 steps."""

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        self.i, self.t = trial_index(context.seed) % 3, 0
        observation = np.full(2, self.i, np.float32)
        if self.i == 0:
            return StepResult({"gym": observation}, done=True)
        return StepResult({"gym": observation}, {"gym": 2.0} if self.i == 1 else {})

    def step(self, actions: Any) -> StepResult:
        self.t += 1
        return StepResult({"gym": np.full(2, self.t, np.float32)}, {"gym": 1.0}, done=self.t >= 3)


def test_an_episode_whose_reset_is_not_plain_is_handed_to_the_engine_and_matches_it(lab):
    lab.serve_env("abrupt", Abrupt())
    lean, engine, lean_states, engine_states = run_both(lab, 6, "abrupt", "random")
    kinds = [type(lab.orchestrator.trials.get(h.id)) for h in lean]
    assert kinds == [Trial, Trial, InProcessEpisode] * 2
    for ours, theirs in zip(lean, engine, strict=True):
        assert outcome(ours) == outcome(theirs)
        assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
        assert comparable_row(lab, ours.id) == comparable_row(lab, theirs.id)
        assert lean_states[ours.id] == engine_states[theirs.id]
    assert [h.tick for h in lean[:3]] == [0, 3, 3]


class Sore(Actor):
    """Answers 0; its ``on_ending`` raises in trials i with i % 2 == 1."""

    def fork(self) -> Actor:
        return Sore()

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.i = trial_index((context.seed or 0) - 1)

    def act(self, observation: Any, frame: Any = None) -> Any:
        return 0

    def on_ending(self, observation: Any, frame: Any = None) -> None:
        if self.i % 2 == 1:
            raise RuntimeError(f"trial {self.i} could not end")


def test_an_actor_whose_end_raises_is_handed_to_the_engine_and_matches_it(lab):
    lab.serve_actor("sore", Sore())
    lean, engine, lean_states, engine_states = run_both(lab, 4, "cartpole", "sore")
    assert [type(lab.orchestrator.trials.get(h.id)) for h in lean] == [InProcessEpisode, Trial] * 2
    for ours, theirs in zip(lean, engine, strict=True):
        assert outcome(ours) == outcome(theirs)
        assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
        assert comparable_row(lab, ours.id) == comparable_row(lab, theirs.id)
        assert lean_states[ours.id] == engine_states[theirs.id]
    assert lean[1].errors == ["actor [gym]: RuntimeError: trial 1 could not end"]


class Generous(Actor):
    """Answers 0 and rewards itself every tick (a reward the engine routes)."""

    def fork(self) -> Actor:
        return Generous()

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.agent, self.context = agent, context

    def act(self, observation: Any, frame: Any = None) -> Any:
        self.context.send_reward(1.0, to=self.agent)
        return 0


def test_an_actor_that_sends_during_act_is_handed_to_the_engine_and_matches_it(lab):
    lab.serve_actor("generous", Generous())
    lean, engine, lean_states, engine_states = run_both(lab, 3, "cartpole", "generous")
    for ours, theirs in zip(lean, engine, strict=True):
        assert outcome(ours) == outcome(theirs)
        assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
        assert lean_states[ours.id] == engine_states[theirs.id]
        assert isinstance(lab.orchestrator.trials.get(ours.id), Trial)


class Chatty(Actor):
    """Answers 0; trial i (i % 3): 0 messages itself in its reset, 1 rewards itself in its
    ``on_ending``, 2 neither (what it reports is the engine's to route)."""

    def fork(self) -> Actor:
        return Chatty()

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.i, self.agent, self.context = trial_index((context.seed or 0) - 1) % 3, agent, context
        self.heard: list[Any] = []
        if self.i == 0:
            context.send_message("hello", to=agent)

    def on_message(self, sender: str, payload: Any) -> None:
        self.heard.append(payload)

    def act(self, observation: Any, frame: Any = None) -> Any:
        return 0

    def on_ending(self, observation: Any, frame: Any = None) -> None:
        if self.i == 1:
            self.context.send_reward(5.0, to=self.agent)


def test_what_an_actor_reports_in_its_reset_or_its_end_is_routed_by_the_engine_as_without_the_lean_runner(lab):
    lab.serve_actor("chatty", Chatty())
    lean, engine, lean_states, engine_states = run_both(lab, 6, "cartpole", "chatty")
    assert [type(lab.orchestrator.trials.get(h.id)) for h in lean] == [Trial, Trial, InProcessEpisode] * 2
    for ours, theirs in zip(lean, engine, strict=True):
        assert outcome(ours) == outcome(theirs)
        assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
        assert comparable_row(lab, ours.id) == comparable_row(lab, theirs.id)
        assert lean_states[ours.id] == engine_states[theirs.id]
    assert comparable_steps(lab, lean[1].id)[-1]["reward"] == 5.0  # (the final sample's)


class Wobbly(gym.Env):
    """A Gymnasium env (Box(2) observations, Discrete(2) actions), seeded; its episode i (i %
    5): 0 lasts 4 steps, 1 raises at its third, 2 reports an info at its second (and lasts 4),
    3 observes a value outside its space at its second, 4 is truncated at its third. An
    ``endless`` one never ends."""

    observation_space = gym.spaces.Box(-100, 100, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, endless: bool = False) -> None:
        self.endless = endless

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.i, self.t = trial_index(seed) % 5, 0
        return self._observation(), {}

    def _observation(self) -> np.ndarray:
        return self.np_random.normal(size=2).astype(np.float32)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        assert action.__class__ is int, action  # (the actor's answer as its space holds it)
        self.t += 1
        reward = float(action) + self.t / 10
        if self.endless:
            return self._observation(), reward, False, False, {}
        if self.i == 1 and self.t == 3:
            raise RuntimeError(f"episode {self.i} broke at step {self.t}")
        observation = self._observation()
        if self.i == 3 and self.t == 2:
            observation = np.zeros(3)  # (outside the space: it cannot be recorded)
        info = {"note": self.t} if self.i == 2 and self.t == 2 else {}
        return observation, reward, self.t >= 4, self.i == 4 and self.t == 3, info


async def _one() -> int:
    return 1


class Wayward(Actor):
    """Seeded random answers; in trial i, by (i // 5) % 6, at its third tick: 0 as ever, 1
    answers 7 (outside Discrete(2)), 2 answers None, 3 raises, 4 answers an awaitable; 5
    answers numpy ints every tick (taken as ints)."""

    def fork(self) -> Actor:
        return Wayward()

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        seed = (context.seed or 0) - 1  # (an actor's seed is its trial's + 1 + its index)
        self.mode = (trial_index(seed) // 5) % 6
        self.rng = np.random.default_rng(seed)
        self.tick = 0

    def act(self, observation: Any, frame: Any = None) -> Any:
        tick, self.tick = self.tick, self.tick + 1
        value = int(self.rng.integers(2))
        if self.mode == 5:
            return np.int64(value)
        if tick != 2:
            return value
        if self.mode == 1:
            return 7
        if self.mode == 2:
            return None
        if self.mode == 3:
            raise RuntimeError("the actor broke")
        return _one() if self.mode == 4 else value


def test_plain_gymnasium_ticks_hand_over_to_the_engine_as_it_would_run_them(lab):
    """Every way a Gymnasium episode's plain tick (``Gymnasium.plain_step``, the actor asked
    with the value alone) stops being plain: the same steps, rows, states and errors as the engine."""
    lab.serve_env("wobbly", envs.Gymnasium(Wobbly))
    lab.serve_actor("wayward", Wayward())
    lean, engine, lean_states, engine_states = run_both(lab, 30, "wobbly", "wayward")
    handed = [h for h in lean if isinstance(lab.orchestrator.trials.get(h.id), Trial)]
    assert 10 <= len(handed) < 30
    for ours, theirs in zip(lean, engine, strict=True):
        assert outcome(ours) == outcome(theirs)
        assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
        assert comparable_row(lab, ours.id) == comparable_row(lab, theirs.id)
        assert lean_states[ours.id] == engine_states[theirs.id]
    kinds = [type(lab.orchestrator.trials.get(h.id)) for h in lean]
    # (by environment: plain, its step raised, an info, a value it cannot record, truncated)
    assert kinds[:5] == [InProcessEpisode, Trial, InProcessEpisode, Trial, InProcessEpisode]
    assert [h.tick for h in lean[:5]] == [4, 2, 4, 4, 3]
    assert "episode 1 broke at step 3" in lean[1].errors[0]
    # (by actor: answered 7, None, raised, an awaitable, numpy ints)
    assert "action 7 is outside Discrete(2)" in lean[5].errors[0]
    assert "action None is outside Discrete(2): return an action" in lean[10].errors[0]
    assert lean[15].errors == ["actor [gym]: RuntimeError: the actor broke"]
    assert kinds[20] is Trial and (lean[20].tick, lean[20].errors) == (4, [])
    assert kinds[25] is InProcessEpisode and (lean[25].tick, lean[25].errors) == (4, [])


CARTPOLE_OBSERVATIONS = codec_for(gym.make("CartPole-v1").observation_space)


def test_rendered_gymnasium_episodes_run_lean_as_the_engine_runs_them(lab):
    """Every step of a rendered env says more than its value (a frame): none is a plain step."""
    lab.serve_env("rendered", envs.Gymnasium("CartPole-v1", render=True, render_width=32))
    lean, engine, lean_states, engine_states = run_both(lab, 2, "rendered", "random")
    for ours, theirs in zip(lean, engine, strict=True):
        assert isinstance(lab.orchestrator.trials.get(ours.id), InProcessEpisode)
        assert outcome(ours) == outcome(theirs) and ours.errors == []
        steps = comparable_steps(lab, ours.id)
        assert steps == comparable_steps(lab, theirs.id) and len(steps) == ours.tick + 1
        assert lean_states[ours.id] == engine_states[theirs.id]
        recorded = lab.datastore.samples(ours.id).column("observations").to_pylist()
        assert all(decode_observation(row[0], CARTPOLE_OBSERVATIONS).frame is not None for row in recorded)


@pytest.mark.parametrize("hard", [True, False])
@pytest.mark.parametrize("env", ["endless", "wobbly-endless"])
def test_a_lean_episode_terminated_at_a_pause_is_ended_by_the_engine(lab, hard, env):
    lab.serve_env("endless", Endless())
    lab.serve_env("wobbly-endless", envs.Gymnasium(lambda: Wobbly(endless=True)))
    pool = concurrent.futures.ThreadPoolExecutor(1)
    done = pool.submit(lab.run_trials, 1, env, "random", progress=False)
    running = wait_for(
        lambda: next((t for t in lab.orchestrator.find([]) if not t.ended), None), 30, "the trial to run"
    )
    assert isinstance(running, LeanEpisode)
    wait_for(lambda: running.tick_id > 5, 30, "the trial to tick")
    assert running.latest_observations is not None  # (what GetTrialInfo reports)
    lab.terminate([running.id], hard=hard)
    (handle,) = done.result(30)
    pool.shutdown()
    assert isinstance(lab.orchestrator.trials.get(handle.id), Trial)  # handed over
    assert (handle.state, handle.errors) == ("ENDED", [])
    assert handle.end_details == (EXTERNALLY_REQUESTED if hard else None)
    steps = lab.steps(handle.id)
    assert len(steps) == handle.tick + 1 and list(steps["tick"]) == list(range(handle.tick + 1))
    events = [event for row in steps["events"] for event in row]
    assert ("Forced termination: " + EXTERNALLY_REQUESTED in events) if hard else ("End requested" in events)


def test_lean_episodes_leave_no_reference_cycles_to_the_garbage_collector(lab):
    """As the engine's trials (``test_inline_batch``): what an episode made, handed over or
    not, is freed by reference counts as it ends."""
    assert cyclic_garbage_of(lambda: lab.run_trials(40, "moody", "picky", seed=SEED, progress=False)) == []
