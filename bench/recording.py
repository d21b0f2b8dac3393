"""What recording a short CartPole trial costs, alone: the in-process datalog's calls on the
lab's loop and the datastore's writer thread, replaying trials a lab recorded.

Run: ``uv run python bench/recording.py [--rounds 5] [--trials 2048]``

A lab runs a few random CartPole-v1 trials first, and what its trials hand their
:class:`~cogment_jupyter.datastore.inprocess.InProcessDatalog` is kept: a trial's params, its
plain ticks as rows (what the lean runner flushes) and its final sample. Each round then records
that many trials of those again into a fresh datastore file, on an event loop of this thread, as
``run_trials`` does (the recorder held, so that 128 trials share a chunk and a commit): each
trial ``start_now``, ``add_rows``, ``add`` of its final sample and ``close_now``; after every
128 trials the round waits until they are committed (each batch on its own, as a lab's batch of
short trials is, so that rounds compare). Measured with per-thread CPU clocks: the loop's
recording calls and the writer thread, per trial. (The final sample's observation is encoded
once, not once a trial: its envelope is cached on it.)

Reference (same rounds): the raw Gymnasium loop's episode, a seeded ``reset`` and random steps
until it ends, CPU of this thread; printed as ratios to it, median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.datastore.inprocess import InProcessDatalog, Recorder
from cogment_jupyter.datastore.store import TrialStore
from cogment_jupyter.engine.components import TickRows

#: Trials a batch of the recorder holds before it goes to the writer (``inprocess.MAX_CLOSES``).
BATCH = 128


def recorded_trial() -> tuple[str, Any, TickRows, list[Any]]:
    """``(user_id, params, rows, final samples)`` of a short trial a lab recorded (one of a few
    run, the first whose ticks all came as rows)."""
    kept: dict[str, Any] = {}
    start_now, add_rows, add = InProcessDatalog.start_now, InProcessDatalog.add_rows, InProcessDatalog.add

    def keep_start(self: InProcessDatalog, trial_id: str, user_id: str, params: Any) -> bool:
        kept.setdefault(id(self), {})["start"] = (user_id, params)
        return start_now(self, trial_id, user_id, params)

    def keep_rows(self: InProcessDatalog, rows: TickRows) -> None:
        copy = TickRows(*(list(getattr(rows, name)) for name in TickRows.__dataclass_fields__))
        kept.setdefault(id(self), {}).setdefault("rows", []).append(copy)
        add_rows(self, rows)

    def keep_samples(self: InProcessDatalog, samples: Any) -> None:
        kept.setdefault(id(self), {}).setdefault("samples", []).extend(samples)
        add(self, samples)

    InProcessDatalog.start_now, InProcessDatalog.add_rows, InProcessDatalog.add = (  # type: ignore[method-assign]
        keep_start,
        keep_rows,
        keep_samples,
    )
    try:
        with tempfile.TemporaryDirectory() as directory, Lab(datastore=f"{directory}/capture") as lab:
            lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
            lab.serve_actor("random", actors.Random())
            lab.run_trials(8, "cartpole", "random", progress=False, seed=0)
    finally:
        InProcessDatalog.start_now, InProcessDatalog.add_rows, InProcessDatalog.add = (  # type: ignore[method-assign]
            start_now,
            add_rows,
            add,
        )
    for trial in kept.values():
        if "start" in trial and len(trial.get("rows", ())) == 1 and len(trial.get("samples", ())) == 1:
            return (*trial["start"], trial["rows"][0], trial["samples"])
    raise RuntimeError("no trial of the capture was recorded as rows and one final sample")


def writer_thread(store: TrialStore) -> threading.Thread:
    name = f"datastore-writer:{store.file.name}"
    found = next((t for t in threading.enumerate() if t.name == name), None)
    if found is None:
        raise RuntimeError(f"no thread {name!r} (threads: {[t.name for t in threading.enumerate()]})")
    return found


async def record(store: TrialStore, trials: int, trial: tuple[str, Any, TickRows, list[Any]]) -> float:
    """Record ``trials`` copies of ``trial`` in batches of ``BATCH``; the CPU seconds of this
    thread's recording calls."""
    user_id, params, rows, samples = trial
    ids = [str(uuid.uuid4()) for _ in range(trials)]
    recorder = Recorder.of(store)
    recorder.hold()
    spent = 0.0
    try:
        for first in range(0, trials, BATCH):
            closing = []
            started = time.thread_time()
            for trial_id in ids[first : first + BATCH]:
                datalog = InProcessDatalog(store)
                datalog.start_now(trial_id, user_id, params)
                datalog.add_rows(rows)
                datalog.add(samples)
                closing.append(datalog.close_now())
            spent += time.thread_time() - started
            await recorder.flush()
            await asyncio.gather(*closing)
    finally:
        recorder.release()
    return spent


def raw_episodes(episodes: int) -> tuple[float, float]:
    """(CPU seconds of this thread per episode, steps per episode) of seeded random CartPole episodes."""
    env = gym.make("CartPole-v1")
    space = env.action_space
    steps = 0
    started = time.thread_time()
    for seed in range(episodes):
        env.reset(seed=seed)
        space.seed(seed)
        while True:
            _, _, terminated, truncated, _ = env.step(space.sample())
            steps += 1
            if terminated or truncated:
                break
    return (time.thread_time() - started) / episodes, steps / episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=2048, help="trials recorded a round")
    args = parser.parse_args()
    trial = recorded_trial()
    print(f"replayed trial: {len(trial[2])} ticks as rows and {len(trial[3])} final sample")
    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        raw, steps = raw_episodes(args.trials // 4)
        with tempfile.TemporaryDirectory() as directory:
            store = TrialStore(f"{directory}/replay.sqlite3")
            try:
                clock = time.pthread_getcpuclockid(writer_thread(store).ident)  # type: ignore[arg-type]
                writer_started = time.clock_gettime(clock)
                loop = asyncio.run(record(store, args.trials, trial))
                writer = time.clock_gettime(clock) - writer_started
            finally:
                store.close()
        rounds.append({"raw": raw, "loop": loop / args.trials, "writer": writer / args.trials})
    raw = statistics.median(r["raw"] for r in rounds)
    print(f"Recording a short CartPole trial, per-thread CPU, median of {args.rounds} rounds of {args.trials} trials")
    print(f"  {f'raw reset(seed) + {steps:.0f} random steps':34s}: {raw * 1e6:8.1f} us an episode  1.00x")
    for role, label in (("loop", "recording calls (loop thread)"), ("writer", "datastore writer thread")):
        seconds = statistics.median(r[role] for r in rounds)
        ratio = statistics.median(r[role] / r["raw"] for r in rounds)
        print(f"  {label:34s}: {seconds * 1e6:8.1f} us a trial    {ratio:.2f}x")


if __name__ == "__main__":
    main()
