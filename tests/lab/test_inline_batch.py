"""``run_trials`` of in-process trials runs them back to back in one task (``lab.inline_batch``).

Each trial stays a whole trial of the lab's orchestrator: the same seeds run one by one with
``start_trial`` (a task per trial) and through an inline batch give the same handles, the same
recorded steps and the same trial rows, end states, failures and truncation at ``max_steps``
included. Watchers see every trial's states; the lab's loop serves other work while a batch
runs; cancelling the batch stops it. Every test runs on both tick loops
(``tests/test_engine_loop_pass.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.engine.records import EXTERNALLY_REQUESTED, INTERRUPTED, TrialState
from cogment_jupyter.lab.batch import UNRECORDED
from cogment_jupyter.lab.inline_batch import runs_inline
from tests.mounts import fill, tmpfs
from tests.waiting import wait_for

SPEC = AgentSpec(gym.spaces.Box(-100, 100, (2,), np.float32), gym.spaces.Discrete(2))
#: trial i of a batch seeded with SEED has the seed SEED + 1000 * i
SEED = 7


def trial_index(seed: int | None) -> int:
    return (seed or 0) // 1000


class OneAgent(Environment):
    """An environment of one agent, ``gym``, whose trials each get a fresh instance."""

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"gym": SPEC}

    def fork(self) -> Environment:
        return type(self)()


class Moody(OneAgent):
    """One agent; trial i lasts 4 + i % 4 steps (max_steps=6 cuts the 7-step ones), seeded
    observations, a reward each step; trial i with i % 5 == 1 raises at its third step."""

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        self.i = trial_index(context.seed)
        self.t = 0
        self.rng = np.random.default_rng(context.seed)
        return StepResult({"gym": self.rng.normal(size=2).astype(np.float32)})

    def step(self, actions: Any) -> StepResult:
        self.t += 1
        if self.i % 5 == 1 and self.t == 3:
            raise RuntimeError(f"trial {self.i} broke at step {self.t}")
        observation = self.rng.normal(size=2).astype(np.float32)
        return StepResult({"gym": observation}, {"gym": float(actions["gym"]) - 0.5}, done=self.t >= 4 + self.i % 4)


class Picky(Actor):
    """Seeded random answers; in trial i with i % 5 == 3 it answers 7 (outside Discrete(2)) at tick 2."""

    def fork(self) -> Actor:
        return Picky()

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        seed = (context.seed or 0) - 1  # (an actor's seed is its trial's + 1 + its index)
        self.i = trial_index(seed)
        self.rng = np.random.default_rng(seed)
        self.tick = 0

    def act(self, observation: Any, frame: Any = None) -> Any:
        tick, self.tick = self.tick, self.tick + 1
        if self.i % 5 == 3 and tick == 2:
            return 7
        return int(self.rng.integers(2))


class Fragile(OneAgent):
    """Trial i (i % 6): 1 raises at its reset, 5 at its first step; the others last 3 steps."""

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        self.i = trial_index(context.seed) % 6
        self.t = 0
        if self.i == 1:
            raise RuntimeError("the reset broke")
        return StepResult({"gym": np.full(2, self.i, np.float32)})

    def step(self, actions: Any) -> StepResult:
        self.t += 1
        if self.i == 5:
            raise RuntimeError("the first step broke")
        return StepResult({"gym": np.full(2, self.t, np.float32)}, {"gym": 1.0}, done=self.t >= 3)


class FragileActor(Actor):
    """Trial i (i % 6): 2 raises at its reset, 3 at its first act, 4 answers outside Discrete(2) at once."""

    def fork(self) -> Actor:
        return FragileActor()

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.i = trial_index((context.seed or 0) - 1) % 6
        if self.i == 2:
            raise RuntimeError("the actor's reset broke")

    def act(self, observation: Any, frame: Any = None) -> Any:
        if self.i == 3:
            raise RuntimeError("the first act broke")
        return 7 if self.i == 4 else 1


class Endless(OneAgent):
    """Never ends by itself."""

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        return StepResult({"gym": np.zeros(2, np.float32)})

    def step(self, actions: Any) -> StepResult:
        return StepResult({"gym": np.zeros(2, np.float32)}, {"gym": 0.0})


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("moody", Moody())
        lab.serve_actor("picky", Picky())
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        lab.serve_env("fragile", Fragile())
        lab.serve_actor("breakable", FragileActor())
        lab.serve_env("endless", Endless())
        yield lab


def outcome(handle: Any) -> tuple[Any, ...]:
    return (handle.state, handle.tick, handle.end_details, handle.errors)


def comparable_steps(lab: Lab, trial_id: str) -> list[dict[str, Any]]:
    """A trial's recorded steps without what differs between two runs of it (ids, clocks)."""
    steps = lab.steps(trial_id).drop(columns=["trial_id", "timestamp"], errors="ignore")
    return [{k: _plain(v) for k, v in row.items()} for row in steps.to_dict("records")]


def comparable_row(lab: Lab, trial_id: str) -> dict[str, Any]:
    row = lab.trials(trial_ids=[trial_id]).iloc[0].to_dict()
    varying = ("trial_id", "start", "end", "duration", "time", "created", "ended", "seed")
    kept = {k: _plain(v) for k, v in row.items() if not any(word in k for word in varying)}
    kept["properties"] = sorted(kept["properties"])  # (a map: in no particular order)
    return kept


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is pd.NA or value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def test_the_batches_qualify_where_every_part_is_here_and_synchronous(lab):
    here = lab.components.services
    assert runs_inline(lab.trial_params("moody", "picky"), here, lab.endpoint)
    assert runs_inline(lab.trial_params("cartpole", "random", max_steps=5), here, lab.endpoint)
    assert not runs_inline(lab.trial_params("cartpole", "random", response_timeout=5.0), here, lab.endpoint)
    assert not runs_inline(lab.trial_params("cartpole", "client"), here, lab.endpoint)

    async def thinks(observation: Any) -> int:
        return 0

    lab.serve_actor("thinks", thinks)
    assert not runs_inline(lab.trial_params("cartpole", "thinks"), here, lab.endpoint)


def test_an_inline_batch_records_what_trials_run_one_by_one_record(lab):
    n = 20
    batch = lab.run_trials(n, "moody", "picky", seed=SEED, max_steps=6, progress=False)
    alone = [lab.start_trial("moody", "picky", seed=SEED + 1000 * i, max_steps=6).wait(30) for i in range(n)]
    assert [h.seed for h in batch] == [h.seed for h in alone]
    outcomes = set()
    for ours, theirs in zip(batch, alone, strict=True):
        assert ours.id != theirs.id
        assert (ours.state, ours.tick, ours.end_details, ours.errors) == (
            theirs.state,
            theirs.tick,
            theirs.end_details,
            theirs.errors,
        )
        assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
        assert comparable_row(lab, ours.id) == comparable_row(lab, theirs.id)
        outcomes.add(ours.errors[0].split(" ")[0] if ours.errors else f"ended at tick {ours.tick}")
    # the batch went on past failures of either part, and covered every way a trial ends here
    assert outcomes == {"environment", "actor", *(f"ended at tick {tick}" for tick in (4, 5, 6, 7))}
    broke = batch[1]
    assert broke.errors == ["environment [env]: RuntimeError: trial 1 broke at step 3"]
    assert broke.end_details == "Environment failed: RuntimeError: trial 1 broke at step 3"
    refused = batch[3]
    assert refused.errors[0].startswith("actor [gym] acted outside its action space at tick [2]: action 7")
    truncated = lab.steps(batch[7].id)  # 7 steps long, cut at max_steps
    assert "Maximum number of steps reached" in truncated[truncated["tick"] == 6]["events"].iloc[0]


def test_an_inline_batch_fails_trials_at_their_init_and_first_action_as_trials_run_one_by_one(lab):
    n = 12
    batch = lab.run_trials(n, "fragile", "breakable", seed=SEED, progress=False)
    alone = [lab.start_trial("fragile", "breakable", seed=SEED + 1000 * i).wait(30) for i in range(n)]
    for ours, theirs in zip(batch, alone, strict=True):
        assert outcome(ours) == outcome(theirs)
        assert comparable_steps(lab, ours.id) == comparable_steps(lab, theirs.id)
        assert comparable_row(lab, ours.id) == comparable_row(lab, theirs.id)
    errors = [h.errors[0] if h.errors else None for h in batch[:6]]
    assert errors[0] is None and batch[0].tick == 3
    assert errors[1] == "environment [env] failed to initialize: reset failed: RuntimeError: the reset broke"
    assert errors[2].startswith("actor [gym] failed to initialize: InitError")
    assert errors[3] == "actor [gym]: RuntimeError: the first act broke"
    assert errors[4].startswith("actor [gym] acted outside its action space at tick [0]: action 7")
    assert errors[5] == "environment [env]: RuntimeError: the first step broke"
    assert [h.errors for h in batch[6:]] == [h.errors for h in batch[:6]]  # (the next 6 alike)


def test_a_trial_of_an_inline_batch_terminated_ends_alone_and_the_batch_goes_on(lab):
    pool = concurrent.futures.ThreadPoolExecutor(1)
    done = pool.submit(lab.run_trials, 3, "endless", "random", progress=False)
    ended: list[str] = []
    for _ in range(3):  # each trial runs until terminated, then the next starts
        running = wait_for(
            lambda: next((t for t in lab.orchestrator.find([]) if not t.ended and t.id not in ended), None),
            30,
            "the next trial of the batch to run",
        )
        wait_for(lambda running=running: running.tick_id > 5, 30, "the trial to tick")
        lab.terminate([running.id])
        ended.append(running.id)
    handles = done.result(30)
    pool.shutdown()
    assert [h.id for h in handles] == ended
    assert [(h.state, h.end_details, h.errors) for h in handles] == [("ENDED", EXTERNALLY_REQUESTED, [])] * 3
    assert all(len(lab.steps(h.id)) == h.tick + 1 for h in handles)


def test_trials_of_an_inline_batch_on_a_full_disk_say_they_are_not_recorded(tmp_path):
    with tmpfs(tmp_path / "disk", "5m") as disk, Lab(datastore=disk / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1", render=True))  # frames: trials of some size
        lab.serve_actor("random", actors.Random())
        assert [h.errors for h in lab.run_trials(2, "cartpole", "random", render=True, progress=False)] == [[], []]
        filler = fill(disk)
        deadline = time.monotonic() + 120
        failed: list[Any] = []
        while not failed and time.monotonic() < deadline:
            handles = lab.run_trials(4, "cartpole", "random", render=True, progress=False)
            failed = [h for h in handles if h.errors]
        assert failed, "no trial of a batch failed to record on a full disk"
        message = " ".join(failed[0].errors)
        assert "datalog: the trial is not recorded completely" in message and "the disk is full" in message, message
        filler.unlink()
        after = lab.run_trials(2, "cartpole", "random", render=True, progress=False)
        assert [h.errors for h in after] == [[], []]


def test_watchers_see_every_trial_of_an_inline_batch_change_state(lab):
    events: list[tuple[str, TrialState]] = []
    watching = threading.Event()

    async def watch() -> None:
        async with contextlib.aclosing(lab.orchestrator.watch()) as stream:
            watching.set()
            async for event in stream:
                events.append((event.trial.id, event.state))

    watcher = asyncio.run_coroutine_threadsafe(watch(), lab.loop)
    wait_for(watching.is_set, 10, "the watcher to subscribe")
    handles = lab.run_trials(5, "cartpole", "random", progress=False)
    ids = [h.id for h in handles]
    wait_for(lambda: sum(state == TrialState.ENDED for _, state in events) >= 5, 10, "every trial's end")
    watcher.cancel()
    for trial_id in ids:
        states = [state for i, state in events if i == trial_id]
        assert states == [
            TrialState.INITIALIZING,
            TrialState.PENDING,
            TrialState.RUNNING,
            TrialState.TERMINATING,
            TrialState.ENDED,
        ]
    assert [i for i, state in events if state == TrialState.ENDED] == ids  # one after the other


def test_an_inline_batch_runs_at_most_its_bound_of_trials_ahead_of_their_records(lab):
    """While the datastore commits nothing, the batch stops once ``UNRECORDED`` trials wait for
    their records, none of their handles finished; once records commit, it runs the rest and
    finishes every handle, in the batch's order."""
    release = threading.Event()
    stuck = lab.datastore.store.writer.call(lambda connection: release.wait(60))
    n = UNRECORDED + 40
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        batch = pool.submit(lab.run_trials, n, "cartpole", "random", progress=False)
        try:
            wait_for(lambda: len(lab.orchestrator.find([])) >= UNRECORDED, 60, "the batch to reach its bound")
            for _ in range(5):  # (the batch's turns: it would have started more by now)
                lab._loop_thread.run(asyncio.sleep(0.01))
            waiting = lab.handles
            assert len(lab.orchestrator.find([])) == UNRECORDED
            assert len(waiting) == UNRECORDED and all(h.state == "ENDED" for h in waiting)
            assert not any(h.done.done() for h in waiting)
            finished: list[str] = []
            for h in waiting:
                h.done.add_done_callback(lambda done: finished.append(done.result().id))
        finally:
            release.set()
        handles = batch.result(60)
    stuck.result(10)
    assert len(handles) == n and all(h.state == "ENDED" and not h.errors for h in handles)
    assert finished == [h.id for h in handles[:UNRECORDED]]  # in the batch's order
    assert set(lab.trials(scope="lab")["trial_id"]) == {h.id for h in handles}


def test_an_inline_batch_counts_every_recorded_trial_on_its_progress_bar(lab, capsys):
    n = UNRECORDED + 10  # (more than the batch runs ahead of its records)
    handles = lab.run_trials(n, "cartpole", "random")
    assert len(handles) == n and all(h.state == "ENDED" and not h.errors for h in handles)
    shown = capsys.readouterr().err
    assert "trials of cartpole: 100%" in shown and f" {n}/{n} " in shown


def test_the_lab_serves_other_work_while_an_inline_batch_runs_and_a_cancel_stops_it(lab):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        batch = asyncio.run_coroutine_threadsafe(lab.arun_trials(1_000_000, "cartpole", "random", progress=False), loop)
        wait_for(lambda: len(lab.orchestrator.find([])) > 50, 60, "the batch to run some trials")
        served = threading.Event()
        lab.loop.call_soon_threadsafe(served.set)
        wait_for(served.is_set, 10, "the lab's loop to serve a callback while the batch runs")
        assert not batch.done()
        loop.call_soon_threadsafe(batch.cancel)
        wait_for(lambda: all(t.state == TrialState.ENDED for t in lab.orchestrator.find([])), 10, "the batch to stop")
        trials = lab.orchestrator.find([])
        interrupted = [t for t in trials if t.end_details == INTERRUPTED]
        assert len(interrupted) <= 1  # the one running, if any: the batch started no other
        assert all(not t.errors for t in trials)
        started = {t.id for t in trials}
        wait_for(lambda: set(lab.trials(scope="lab")["trial_id"]) >= started, 30, "every started trial's record")
        assert len(lab.trials(scope="lab")) < 1_000_000
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_finished_trials_leave_no_reference_cycles_to_the_garbage_collector(lab):
    """Everything a trial made is freed as it ends (reference counts), not left to the cyclic
    collector: in a kernel holding pandas, collections of every trial's leftovers cost a batch
    of short trials several percent of its time."""
    assert cyclic_garbage_of(lambda: lab.run_trials(40, "moody", "picky", seed=SEED, max_steps=6, progress=False)) == []


def cyclic_garbage_of(run: Callable[[], list[Any]]) -> list[Any]:
    """What of ours a second ``run()`` (its trials all ended; the first fills the caches)
    leaves to the cyclic garbage collector."""
    run()
    gc.collect()
    gc.disable()
    try:
        handles = run()
        assert {h.state for h in handles} == {"ENDED"}
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return [o for o in gc.garbage if type(o).__module__.startswith("cogment_jupyter")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
