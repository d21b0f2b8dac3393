"""The lean inline runner (``run_trials``'s default) against the engine's trials, on the raw loop.

Run: ``uv run python bench/lean_runner.py [--steps 20000] [--rounds 3]``

Reference (same run): the raw Gymnasium loop of ``bench/throughput.py``. In interleaved rounds
(raw loop, engine, lean, in turn; one lab, ``Orchestrator.lean_episodes`` switched between batches): random
~22-step CartPole episodes recorded through ``lab.run_trials`` (steps/s as a ratio to the raw
loop; the lab's loop-thread and writer-thread CPU per trial as a ratio to the raw loop's CPU
for as many steps), one-step CartPole trials against a seeded reset and one step, and a
tick's loop-thread CPU beyond its environment's step (500-step trials of an environment
whose step costs nothing, less the raw loop of it) as a share of a raw CartPole step. The
medians of the rounds' ratios are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gymnasium as gym
import numpy as np
from throughput import (
    ThreadClocks,
    lab_run_threads,
    lab_threads,
    lab_trials,
    median_ratio,
    raw_loop,
    raw_one_step_episodes,
)

from cogment_jupyter import Lab, actors, envs


class Still(gym.Env):
    """An environment whose step costs nothing (what a tick costs beyond it is the lab's);
    its episodes last 500 steps."""

    observation_space = gym.spaces.Box(-1, 1, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
        self.t, self.value = 0, np.zeros(4, np.float32)
        return self.value, {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.t += 1
        return self.value, 1.0, self.t >= 500, False, {}


def zero(observation: Any) -> int:
    return 0


def still_loop(steps: int) -> float:
    """CPU seconds per step of this thread stepping :class:`Still` with :func:`zero` (the raw
    loop of what the lab's plain ticks run)."""
    env = Still()
    observation, _ = env.reset()
    started = time.thread_time()
    for _ in range(steps):
        observation, _, terminated, truncated, _ = env.step(zero(observation))
        if terminated or truncated:
            observation, _ = env.reset()
    return (time.thread_time() - started) / steps


def loop_cpu_per_tick(lab: Lab, trials: int) -> float:
    """The lab's loop-thread CPU seconds per tick of ``trials`` 500-step trials of :class:`Still`."""
    clocks = ThreadClocks(lab_threads(lab))
    steps = sum(h.tick for h in lab.run_trials(trials, "still", "zero", progress=False))
    return clocks.used()["loop"] / steps


def run_as(lab: Lab, lean: bool, measure):
    """``measure()`` with the lean runner on or off (read by each batch as it starts)."""
    lab.orchestrator.lean_episodes = lean
    try:
        return measure()
    finally:
        lab.orchestrator.lean_episodes = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=1024, help="one-step trials a round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, Lab(datastore=Path(directory) / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_env("cartpole-1", envs.Gymnasium("CartPole-v1", max_episode_steps=1))
        lab.serve_actor("random", actors.Random())
        lab.serve_env("still", envs.Gymnasium(Still))
        lab.serve_actor("zero", actors.Policy(zero))
        for lean in (False, True):  # (warm: caches, plans, the writer)
            run_as(lab, lean, lambda: lab_run_threads(lab, "cartpole", 2_000, 1))
            run_as(lab, lean, lambda: loop_cpu_per_tick(lab, 4))
        rates: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[tuple[bool, str], list[float]] = {}
        one_step: dict[bool, list[float]] = {False: [], True: []}
        #: per round: CPU per tick beyond the raw loop of Still, as a share of a raw CartPole step
        ticks: dict[bool, list[float]] = {False: [], True: []}
        tick_us: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            raw_rate, _, raw_cpu_per_step = raw_loop(args.steps)
            raw_episodes, _ = raw_one_step_episodes(args.trials)
            still_per_step = still_loop(args.steps)
            for lean in (False, True):
                rate, _, trials, steps, used = run_as(
                    lab, lean, lambda: lab_run_threads(lab, "cartpole", args.steps, 1)
                )
                rates[lean].append(rate / raw_rate)
                for thread, seconds in used.items():
                    cpu.setdefault((lean, thread), []).append(seconds / trials / (raw_cpu_per_step * steps / trials))
                trial_rate, _ = run_as(lab, lean, lambda: lab_trials(lab, "cartpole-1", args.trials, 1))
                one_step[lean].append(raw_episodes / trial_rate)
                beyond = run_as(lab, lean, lambda: loop_cpu_per_tick(lab, 16)) - still_per_step
                ticks[lean].append(beyond / raw_cpu_per_step)
                tick_us[lean].append(beyond * 1e6)
    print(f"random ~22-step CartPole episodes, recorded; reference = the raw loop (median of {args.rounds} rounds)")
    for lean, name in ((False, "engine (inline batch, fused loop)"), (True, "lean runner")):
        print(f"  {name:34}: {statistics.median(rates[lean]):.2f}x raw steps/s")
    print("CPU per trial; reference = the raw loop's CPU for as many steps")
    for lean, name in ((False, "engine"), (True, "lean")):
        loop, writer = (statistics.median(cpu[(lean, thread)]) for thread in ("loop", "writer"))
        print(f"  {name:6}: loop thread {loop:.2f}x, writer thread {writer:.2f}x")
    print("one-step CartPole trials; reference = a seeded reset and one step of the raw loop")
    for lean, name in ((False, "engine"), (True, "lean")):
        print(f"  {name:6}: {statistics.median(one_step[lean]):.1f}x the raw episode's time")
    print(f"  lean / engine (steps/s): {median_ratio(list(zip(rates[True], rates[False], strict=True))):.2f}x")
    print("a tick's loop-thread CPU beyond its environment's step (500-step trials of an environment whose")
    print("step costs nothing, less the raw loop of it); reference = a raw CartPole step's CPU, same rounds")
    for lean, name in ((False, "engine"), (True, "lean")):
        print(f"  {name:6}: {statistics.median(tick_us[lean]):5.2f} us a tick   {statistics.median(ticks[lean]):.2f}x")


if __name__ == "__main__":
    main()
