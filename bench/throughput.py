"""Lab throughput: CartPole-v1 with the random actor and recording on, against the raw Gymnasium loop.

Run: ``uv run python bench/throughput.py [--steps 20000]``

Reference (same run): ``env.step(env.action_space.sample())`` with resets, the loop every
Gymnasium user writes. Measured: the lab with everything in-process (recording into the
datastore), the lab with the environment served from another process over Cogment gRPC,
and the time from ``Lab()`` to ready (what ``%cogment launch`` does).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym

from cogment_jupyter import Lab, actors, envs


def raw_loop(steps: int) -> float:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    env.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def balance(observation) -> int:
    """Push the cart under the pole: episodes last the full 500 steps, so trial setup hardly counts."""
    return int(observation[2] + observation[3] > 0)


def lab_rate(lab: Lab, env: str, steps: int, concurrency: int, actor: str = "random", **options) -> float:
    """Steps/s of whole trials until ``steps`` steps are done (trial setup included)."""
    done = 0
    start = time.perf_counter()
    while done < steps:
        handles = lab.run_trials(concurrency * 4, env, actor, concurrency=concurrency, progress=False, **options)
        for handle in handles:
            if handle.errors:
                raise RuntimeError(handle.errors)
            done += handle.tick
    return done / (time.perf_counter() - start)


def launch_seconds(directory: str, repeats: int = 3) -> float:
    times = []
    for i in range(repeats):
        lab = Lab(datastore=f"{directory}/launch{i}")
        times.append(lab.launch_seconds)
        lab.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        launch = launch_seconds(directory)
        with Lab(datastore=f"{directory}/bench") as lab:
            lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
            lab.serve_env("cartpole-process", envs.Gymnasium("CartPole-v1"), process=True)
            lab.serve_actor("random", actors.Random())
            lab.serve_actor("balance", actors.Policy(balance))
            lab_rate(lab, "cartpole", 2_000, args.concurrency)  # warm up
            raw = raw_loop(args.steps)
            local = lab_rate(lab, "cartpole", args.steps, args.concurrency)
            unrecorded = lab_rate(lab, "cartpole", args.steps, args.concurrency, datalog=False)
            long_trials = lab_rate(lab, "cartpole", args.steps, args.concurrency, actor="balance")
            remote = lab_rate(lab, "cartpole-process", args.steps // 4, args.concurrency)
            raw_again = raw_loop(args.steps)
    raw = (raw + raw_again) / 2
    print("CartPole-v1, random actor, every step recorded; reference = raw Gymnasium loop, same run")
    print(f"  raw env.step(action_space.sample()) : {raw:>10,.0f} steps/s   1.00x")
    print(f"  lab, in-process                     : {local:>10,.0f} steps/s   {local / raw:.2f}x")
    print(f"  lab, environment in another process : {remote:>10,.0f} steps/s   {remote / raw:.3f}x")
    print(f"  Lab() to ready (%cogment launch)    : {launch:.3f} s (median of 3)")
    print("Where the time goes (same run):")
    print(f"  in-process, recording off           : {unrecorded:>10,.0f} steps/s   {unrecorded / raw:.2f}x")
    print(f"  in-process, 500-step episodes       : {long_trials:>10,.0f} steps/s   {long_trials / raw:.2f}x")


if __name__ == "__main__":
    main()
