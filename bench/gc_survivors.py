"""Python's garbage collector during ``lab.run_trials``: how often each generation is collected,
what the collections cost a short trial, and what survives into the old generation.

Run: ``uv run python bench/gc_survivors.py [--trials 10240] [--rounds 3]``

Reference (same run, interleaved rounds): the raw Gymnasium loop's CPU for as many steps as a
trial has (``env.step(env.action_space.sample())`` with resets, as bench/throughput.py). Measured
with ``gc.callbacks`` while random CartPole trials (~22 steps) run 256 to a batch, every step
recorded: collections per generation per 10,000 trials, their CPU (the collecting thread's
clock) per trial as a ratio to the reference and to the lab's loop-thread CPU per trial.
Then, in a pass of its own (inspecting the generations costs more than collecting them):
the objects a young collection walks and the objects moved into the old generation per trial
(a full collection runs once those exceed a quarter of the old generation), by type: what
to cut to make collections cheaper. No process-wide GC setting is changed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import BATCH, ThreadClocks, lab_threads, raw_loop

from cogment_jupyter import Lab, actors, envs


class Collections:
    """Per generation: collections seen and the CPU they took (in whichever thread ran them)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.cpu = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            generation = info["generation"]
            self.count[generation] += 1
            self.cpu[generation] += time.thread_time() - self._started

    def __enter__(self) -> Collections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


class Survivors:
    """What young collections walk and what they move into the old generation, by type."""

    def __init__(self) -> None:
        self.walked: Counter[str] = Counter()  # objects and their references, per type
        self.promoted: Counter[str] = Counter()
        self.young_collections = 0
        self.middle_collections = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "start" or info["generation"] == 2:
            return
        if info["generation"] == 0:
            self.young_collections += 1
            for obj in gc.get_objects(0):
                # (long lists apart: a chunk's columns, say, walked item by item)
                name = "list of > 1000 items" if type(obj) is list and len(obj) > 1000 else type(obj).__qualname__
                self.walked[name] += 1 + len(gc.get_referents(obj))
        else:  # everything young and middle-aged that a collection keeps moves to the old generation
            self.middle_collections += 1
            for obj in (*gc.get_objects(0), *gc.get_objects(1)):
                self.promoted[type(obj).__qualname__] += 1


def run_trials(lab: Lab, trials: int) -> tuple[int, int]:
    """Trials and steps run (in batches of ``BATCH``)."""
    done = steps = 0
    while done < trials:
        handles = lab.run_trials(BATCH, "cartpole", "random", progress=False)
        for handle in handles:
            if handle.errors:
                raise RuntimeError(handle.errors)
            steps += handle.tick
        done += len(handles)
    return done, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10240, help="trials per round (default 10240)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args()
    if args.trials < BATCH or args.rounds < 1:
        parser.error(f"--trials must be at least {BATCH} and --rounds at least 1")

    with tempfile.TemporaryDirectory() as directory, Lab(datastore=f"{directory}/gc") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        run_trials(lab, 4 * BATCH)  # (warm: the pools, the codecs, the datastore)
        threads = lab_threads(lab)
        rows = []
        for _ in range(args.rounds):
            clocks = ThreadClocks(threads)
            with Collections() as seen:
                trials, steps = run_trials(lab, args.trials)
            loop_cpu = clocks.used()["loop"] / trials
            raw_cpu = raw_loop(steps)[2] * steps / trials
            rows.append((trials, seen, loop_cpu, raw_cpu))

        print(f"random CartPole trials, {BATCH} a batch, {args.rounds} rounds of {args.trials} trials")
        raw = statistics.median(r[3] for r in rows)
        loop = statistics.median(r[2] for r in rows)
        print(f"  raw loop, as many steps         : {raw * 1e6:8.1f} us a trial  1.00x")
        print(f"  lab loop thread                 : {loop * 1e6:8.1f} us a trial  {loop / raw:5.2f}x")
        for generation in range(3):
            per_10k = statistics.median(r[1].count[generation] / r[0] * 1e4 for r in rows)
            cpu = statistics.median(r[1].cpu[generation] / r[0] for r in rows)
            ratio = statistics.median(r[1].cpu[generation] / r[0] / r[3] for r in rows)
            share = statistics.median(r[1].cpu[generation] / r[0] / r[2] for r in rows)
            print(
                f"  {f'generation {generation} collections':32}: {cpu * 1e6:8.2f} us a trial  {ratio:5.3f}x"
                f"  ({per_10k:.1f} per 10k trials; {share:.1%} of the loop thread's CPU)"
            )

        survivors = Survivors()
        gc.callbacks.append(survivors)
        trials = 0
        try:  # (until two collections of the middle generation moved what they kept)
            while survivors.middle_collections < 2 and trials < 64 * BATCH:
                trials += run_trials(lab, BATCH)[0]
        finally:
            gc.callbacks.remove(survivors)
        walked = sum(survivors.walked.values())
        promoted = sum(survivors.promoted.values())
        young = max(survivors.young_collections, 1)
        print(f"  a young collection walks        : {walked / young:8.0f} objects and references (of which):")
        for name, n in survivors.walked.most_common(8):
            print(f"      {name:28}: {n / young:8.0f}  {n / walked:6.1%}")
        print(
            f"  moved into the old generation   : {promoted / trials:8.1f} objects a trial (of which),"
            f" {survivors.middle_collections} collections in {trials} trials:"
        )
        for name, n in survivors.promoted.most_common(8):
            print(f"      {name:28}: {n / trials:8.2f}")


if __name__ == "__main__":
    main()
