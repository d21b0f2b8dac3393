"""What the lab does around each trial of a ``run_trials`` batch, alone: trial ``i``'s seeded
params, id and handle, the batch's turns (its bound on unrecorded trials, the queue of ended
trials, the pauses for fairness) and the handle finished and kept among the recent ones.

Run: ``uv run python bench/batch.py [--rounds 7] [--trials 4096]``

The batch is the one ``run_trials`` makes for in-process synchronous trials
(:class:`~cogment_jupyter.lab.inline_batch.InlineBatch`), made by the lab's own trial runner
and run on its loop, but its trials do nothing: each is opened as a trial that has ended and
is recorded at once, so what is measured is the batch's own work, not the engine's, the
components' or the datastore's (``bench/throughput.py`` measures the whole).

A second line adds what every trial reports to the lab's orchestrator: its five states
(``INITIALIZING`` to ``ENDED``), through the orchestrator's table, with no one watching, and
each ended trial kept in the table as a lean episode is.

Reference (same rounds): the raw Gymnasium loop's one-step episode, a seeded ``reset`` and a
step of CartPole-v1 (what the shortest trial asks of its environment), CPU of this thread.
Printed: the batch's CPU per trial (every thread of this process) as a ratio to it.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.engine.records import TrialState, now_ns
from cogment_jupyter.engine.trial import TrialLife
from cogment_jupyter.lab.inline_batch import InlineBatch
from cogment_jupyter.lab.trial_options import TrialOptions
from cogment_jupyter.lab.trial_params import UnseededParams
from cogment_jupyter.lab.trials import BatchOrder


class EndedTrial:
    """What the batch reads of a trial, for one that ended and is recorded as it opens."""

    __slots__ = ("id",)

    state = TrialState.ENDED
    ended = True
    tick_id = 1
    end_details = None
    errors: tuple[str, ...] = ()

    def __init__(self, trial_id: str) -> None:
        self.id = trial_id

    async def run(self) -> None:
        return None

    async def wait_recorded(self) -> None:
        return None


class StatedTrial(TrialLife):
    """A trial whose only work is its five states, reported to the orchestrator as a trial's are."""

    __slots__ = ("_on_state", "created_ns", "end_details", "ended_ns", "errors", "id", "state", "tick_id")

    def __init__(self, trial_id: str, on_state: Callable[[Any], None]) -> None:
        self.id = trial_id
        self._on_state = on_state
        self.state = TrialState.UNKNOWN
        self.created_ns = now_ns()
        self.ended_ns: int | None = None
        self.tick_id = 1
        self.end_details = None
        self.errors: list[str] = []
        self.set_state(TrialState.INITIALIZING)
        self.set_state(TrialState.PENDING)

    async def run(self) -> None:
        for state in (TrialState.RUNNING, TrialState.TERMINATING, TrialState.ENDED):
            self.set_state(state)

    async def wait_recorded(self) -> None:
        return None

    def hard_terminate(self, details: str, event: str | None = None) -> None:
        """(As an ended trial's: the lab's shutdown terminates what its table holds.)"""


async def open_ended_trials() -> Any:
    def open_trial(handle: Any, params: Any) -> EndedTrial:
        trial = EndedTrial(handle.id)
        handle.attach(trial)
        return trial

    return open_trial


def stated_trials(lab: Lab) -> Callable[[], Awaitable[Any]]:
    orchestrator = lab.orchestrator

    async def prepare() -> Any:
        def open_trial(handle: Any, params: Any) -> StatedTrial:
            trial = StatedTrial(handle.id, orchestrator._on_state)
            handle.attach(trial)
            return trial

        return open_trial

    return prepare


def batch_cpu(lab: Lab, trials: int, stated: bool = False) -> float:
    """CPU seconds per trial of a batch of ``trials`` doing nothing (every thread of this
    process); ``stated``: each reports its states to the orchestrator."""
    runner = lab._trials
    order = BatchOrder(trials, "cartpole", "random", TrialOptions.of({}), progress=False, seed=0)
    template = UnseededParams(lab.trial_params("cartpole", "random"))
    new_trial = functools.partial(runner._batch_trial, order, template)
    prepare = stated_trials(lab) if stated else open_ended_trials
    batch = InlineBatch(trials, new_trial, prepare, runner._over)
    start = time.process_time()
    handles = lab._loop_thread.submit(batch.run()).result()
    used = time.process_time() - start
    if len(handles) != trials or any(h.state != "ENDED" or h.errors for h in handles):
        raise RuntimeError("the batch did not finish every trial")
    return used / trials


def raw_one_step_cpu(episodes: int) -> float:
    """CPU seconds per one-step episode of the raw loop (seeded reset and a step)."""
    env = gym.make("CartPole-v1", max_episode_steps=1)
    env.action_space.seed(0)
    start = time.thread_time()
    for seed in range(episodes):
        env.reset(seed=seed)
        env.step(env.action_space.sample())
    return (time.thread_time() - start) / episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--trials", type=int, default=4096)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, Lab(datastore=f"{directory}/bench") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        batch_cpu(lab, 1024)  # warm up
        batch_cpu(lab, 1024, stated=True)
        rounds = [
            (batch_cpu(lab, args.trials), batch_cpu(lab, args.trials, stated=True), raw_one_step_cpu(args.trials // 4))
            for _ in range(args.rounds)
        ]
    raw = statistics.median(r for _, _, r in rounds)
    print(f"A run_trials batch's own work per trial ({args.rounds} interleaved rounds, median; CPU of every thread)")
    print(f"  raw reset(seed) + step (reference) : {raw * 1e6:8.1f} us an episode   1.00x")
    for label, column in (("batch around a trial doing nothing", 0), ("+ its five states, the table      ", 1)):
        cpu = statistics.median(r[column] for r in rounds)
        ratio = statistics.median(r[column] / r[2] for r in rounds)
        print(f"  {label} : {cpu * 1e6:8.1f} us a trial     {ratio:.2f}x")


if __name__ == "__main__":
    main()
