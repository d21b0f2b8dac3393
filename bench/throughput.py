"""Lab throughput: CartPole-v1 with the random actor and recording on, against the raw Gymnasium loop.

Run: ``uv run python bench/throughput.py [--steps 20000] [--rounds 3]``

Reference (same run): ``env.step(env.action_space.sample())`` with resets, the loop every
Gymnasium user writes. Measured: the lab with everything in-process (recording into the
datastore), the lab with the environment served from another process over Cogment gRPC,
and the time from ``Lab()`` to ready (what ``%cogment launch`` does).

The targets (issue 19) are measured in interleaved rounds (raw loop, lab, Minari, in turn)
and judged on the median of the rounds' ratios, both in steps per second (wall clock) and in
steps per CPU second of the whole process (every thread: the datastore's writer included),
which a machine shared with other work disturbs less: random ~22-step episodes, every step
recorded, >= 0.5x the raw loop; 500-step episodes >= 0.7x; the lab >= 5x Minari's
``DataCollector`` (its default HDF5 storage) on the same seeded episodes; bytes on disk per
recorded short step <= Minari's Arrow storage of the same episodes.

Random CartPole episodes last ~22 steps, so that figure is mostly what a trial costs to start,
record and end; the 500-step episodes (a policy that balances the pole) show what a tick costs.
Where a short trial's CPU goes is measured with per-thread CPU clocks in the same rounds: the
lab's loop thread (engine, fused loop, recording calls) and the datastore's writer thread (chunk,
trial rows, commits), each per trial as a ratio to the raw loop's own CPU for as many steps; the
two share one GIL, so the writer's CPU slows the trials as much as the loop's.
Both are also measured on the engine's own tick loop (a lab with ``fused_ticks=False``).

Also measured: a cheap two-agent environment that rewards both agents every step, on both
loops (the fused loop's multi-actor path, against the engine's loop); CartPole trials with a
``response_timeout`` (their in-process actor and environment are then called off the event
loop, so that the timeout holds), against the same trials without one.

Also measured, to say how far 0.5x is from what Python allows: a hand-written recorder, the
least any implementation can do (a seeded episode, every step's observation, action, reward and
end flags kept, then a compressed Arrow chunk and a trial row committed to SQLite): a chunk per
episode (LZ4, as our datastore compresses small chunks) committed each on its own, or 64 to a
commit (as our datastore's writer batches them), and one chunk shared by 64 episodes (zstd).
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.base import AgentSpec, Environment, StepResult


class Rate:
    """Steps per second of wall clock and per CPU second of this process (every thread)."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def of(self, steps: int) -> tuple[float, float]:
        return steps / (time.perf_counter() - self._wall), steps / (time.process_time() - self._cpu)


class ThreadClocks:
    """CPU seconds of some threads of this process (per-thread clocks), since it was made."""

    def __init__(self, threads: dict[str, threading.Thread]) -> None:
        self._clocks = {name: time.pthread_getcpuclockid(t.ident) for name, t in threads.items()}  # type: ignore[arg-type]
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        return {name: time.clock_gettime(clock) for name, clock in self._clocks.items()}

    def used(self) -> dict[str, float]:
        now = self._read()
        return {name: now[name] - self._start[name] for name in now}


def lab_threads(lab: Lab) -> dict[str, threading.Thread]:
    """The lab's loop thread and its datastore's writer thread, found by their names."""
    writer = f"datastore-writer:{lab.datastore.file.name}"
    found = {
        role: next((t for t in threading.enumerate() if t.name == name), None)
        for role, name in (("loop", "cogment-jupyter"), ("writer", writer))
    }
    missing = [role for role, thread in found.items() if thread is None]
    if missing:
        raise RuntimeError(
            f"no {' or '.join(missing)} thread found (threads: {[t.name for t in threading.enumerate()]})"
        )
    return found  # type: ignore[return-value]


def raw_loop(steps: int) -> tuple[float, float, float]:
    """(steps/s, steps per CPU second, CPU seconds per step of this thread)."""
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    env.action_space.seed(0)
    rate = Rate()
    cpu = time.thread_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    per_step = (time.thread_time() - cpu) / steps
    return (*rate.of(steps), per_step)


def minari_collector(
    steps: int, directory: str, data_format: str | None = None, name: str = "bench"
) -> tuple[float, float, float]:
    """Minari's ``DataCollector`` recording random CartPole episodes (each reset with its own
    seed, as the lab seeds every trial) until ``steps`` steps, then ``create_dataset``:
    (steps/s, steps per CPU second, bytes on disk per step)."""
    os.environ["MINARI_DATASETS_PATH"] = directory
    from minari import DataCollector

    env = DataCollector(gym.make("CartPole-v1"), **({"data_format": data_format} if data_format else {}))
    env.action_space.seed(0)
    done, seed = 0, 0
    rate = Rate()
    while done < steps:
        seed += 1
        env.reset(seed=seed)
        while True:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done += 1
            if terminated or truncated:
                break
    with warnings.catch_warnings():  # (it asks for an author, a description...)
        warnings.simplefilter("ignore")
        dataset = env.create_dataset(dataset_id=f"cartpole/{name}-v0", algorithm_name="random")
    wall, cpu = rate.of(done)
    env.close()
    return wall, cpu, disk_bytes(Path(dataset.storage.data_path)) / done


def disk_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a directory."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def hand_written_recorder(
    steps: int, directory: str, episodes_per_chunk: int, episodes_per_commit: int
) -> tuple[float, float]:
    """Steps/s of the least a recorder of random CartPole episodes can do in Python (see above):
    a compressed chunk every ``episodes_per_chunk`` episodes, a commit every ``episodes_per_commit``."""
    env = gym.make("CartPole-v1")
    space = env.action_space
    db = sqlite3.connect(f"{directory}/floor-{episodes_per_chunk}-{episodes_per_commit}.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE trials (id TEXT PRIMARY KEY, steps INTEGER, total_reward REAL)")
    db.execute("CREATE TABLE chunks (first_trial TEXT, data BLOB)")
    options = ipc.IpcWriteOptions(compression="lz4" if episodes_per_chunk == 1 else "zstd")
    types = (pa.binary(), pa.int64(), pa.float64(), pa.bool_(), pa.bool_())
    columns: tuple[list, list, list, list, list] = ([], [], [], [], [])
    trials: list[tuple[str, int, float]] = []
    chunks: list[tuple[str, bytes]] = []
    done, seed, in_chunk = 0, 0, 0
    rate = Rate()
    while done < steps:
        seed += 1
        observation, _ = env.reset(seed=seed)
        space.seed(seed)
        observations, actions, rewards, terminated, truncated = columns
        n, total = 0, 0.0
        while True:
            action = space.sample()
            observation, reward, term, trunc, _ = env.step(action)
            observations.append(observation.tobytes())
            actions.append(action)
            rewards.append(reward)
            terminated.append(term)
            truncated.append(trunc)
            n, total = n + 1, total + reward
            if term or trunc:
                break
        done += n
        trials.append((str(uuid.uuid4()), n, total))
        in_chunk += 1
        if in_chunk == episodes_per_chunk:
            batch = pa.record_batch(
                [pa.array(column, kind) for column, kind in zip(columns, types, strict=True)],
                names=["observation", "action", "reward", "terminated", "truncated"],
            )
            sink = io.BytesIO()
            with ipc.new_stream(sink, batch.schema, options=options) as writer:
                writer.write_batch(batch)
            chunks.append((trials[-in_chunk][0], sink.getvalue()))
            columns, in_chunk = ([], [], [], [], []), 0
        if len(trials) == episodes_per_commit:
            db.execute("BEGIN")
            db.executemany("INSERT INTO trials VALUES (?, ?, ?)", trials)
            db.executemany("INSERT INTO chunks VALUES (?, ?)", chunks)
            db.execute("COMMIT")
            trials, chunks = [], []
    result = rate.of(done)
    db.close()
    return result


class Duo(Environment):
    """Two agents, 200 steps, both rewarded at every step (as PettingZoo games reward every agent)."""

    spec = AgentSpec(gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(2))

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"a": self.spec, "b": self.spec}

    def reset(self, context, options=None) -> StepResult:
        self.t = 0
        self.observation = np.zeros(4, np.float32)
        return StepResult({"a": self.observation, "b": self.observation})

    def step(self, actions) -> StepResult:
        self.t += 1
        return StepResult({"a": self.observation, "b": self.observation}, {"a": 1.0, "b": 0.5}, done=self.t >= 200)


def balance(observation) -> int:
    """Push the cart under the pole: episodes last the full 500 steps, so trial setup hardly counts."""
    return int(observation[2] + observation[3] > 0)


#: Trials per ``run_trials`` call: each call returns once its last trial is committed, a wait
#: that a batch of 32 short trials would pay every 700 steps.
BATCH = 256


def lab_run(lab: Lab, env: str, steps: int, concurrency: int, actor: str = "random", **options) -> tuple[float, float]:
    """(steps/s, steps per CPU second) of whole trials, ``BATCH`` at a time, until ``steps``
    steps are done (trial setup and recording included: each batch returns once its trials
    are committed)."""
    return lab_run_threads(lab, env, steps, concurrency, actor, **options)[:2]


def lab_run_threads(
    lab: Lab, env: str, steps: int, concurrency: int, actor: str = "random", **options
) -> tuple[float, float, int, int, dict[str, float]]:
    """:func:`lab_run`, and the trials and steps run and the CPU seconds of the lab's loop and
    writer threads meanwhile."""
    done = trials = 0
    clocks = ThreadClocks(lab_threads(lab))
    rate = Rate()
    while done < steps:
        handles = lab.run_trials(BATCH, env, actor, concurrency=concurrency, progress=False, **options)
        for handle in handles:
            if handle.errors:
                raise RuntimeError(handle.errors)
            done += handle.tick
        trials += len(handles)
    return (*rate.of(done), trials, done, clocks.used())


def lab_rate(lab: Lab, env: str, steps: int, concurrency: int, actor: str = "random", **options) -> float:
    return lab_run(lab, env, steps, concurrency, actor, **options)[0]


def lab_bytes_per_step(directory: str, steps: int, concurrency: int) -> float:
    """Bytes on disk per step of random CartPole trials recorded into a datastore of their own
    (the file once the lab is closed: its write-ahead log folded in)."""
    with Lab(datastore=directory) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        done = 0
        while done < steps:
            done += sum(
                h.tick for h in lab.run_trials(BATCH, "cartpole", "random", concurrency=concurrency, progress=False)
            )
        file = lab.datastore.file
    return sum(disk_bytes(f) for f in file.parent.glob(file.name + "*")) / done


def raw_one_step_episodes(episodes: int) -> tuple[float, float]:
    """(episodes/s, episodes per CPU second) of the raw loop's one-step episodes: a seeded
    reset and one step, what a one-step trial asks of its environment."""
    env = gym.make("CartPole-v1", max_episode_steps=1)
    env.action_space.seed(0)
    rate = Rate()
    for seed in range(episodes):
        env.reset(seed=seed)
        env.step(env.action_space.sample())
    return rate.of(episodes)


def lab_trials(lab: Lab, env: str, trials: int, concurrency: int) -> tuple[float, float]:
    """(trials/s, trials per CPU second) of seeded trials, ``BATCH`` at a time, recorded."""
    done = 0
    rate = Rate()
    while done < trials:
        handles = lab.run_trials(BATCH, env, "random", concurrency=concurrency, progress=False, seed=done)
        for handle in handles:
            if handle.errors:
                raise RuntimeError(handle.errors)
        done += len(handles)
    return rate.of(done)


def median_ratio(pairs: list[tuple[float, float]]) -> float:
    return statistics.median(ours / reference for ours, reference in pairs)


def verdict(ratio: float, target: float, below: bool = False) -> str:
    met = ratio <= target if below else ratio >= target
    return f"target {'<=' if below else '>='} {target:g}x: {'met' if met else 'NOT met'}"


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
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the targets' measures")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        launch = launch_seconds(directory)
        with Lab(datastore=f"{directory}/bench") as lab:
            lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
            lab.serve_env("cartpole-process", envs.Gymnasium("CartPole-v1"), process=True)
            lab.serve_env("duo", Duo())
            lab.serve_env("cartpole-1", envs.Gymnasium("CartPole-v1", max_episode_steps=1))
            lab.serve_actor("random", actors.Random())
            lab.serve_actor("balance", actors.Policy(balance))
            lab_rate(lab, "cartpole", 2_000, args.concurrency)  # warm up
            rounds: dict[str, list[tuple[tuple[float, float], tuple[float, float]]]] = {
                "short": [],
                "long": [],
                "minari": [],
            }
            #: per round: CPU per short trial of the loop and writer threads, and of the raw loop for as many steps
            thread_rounds: list[dict[str, float]] = []
            for k in range(args.rounds):  # interleaved: the machine's load hits all alike
                *raw_round, raw_step_cpu = raw_loop(args.steps)
                wall, cpu, trials, steps, used = lab_run_threads(lab, "cartpole", args.steps, args.concurrency)
                rounds["short"].append(((wall, cpu), raw_round))
                per_trial = {role: seconds / trials for role, seconds in used.items()}
                thread_rounds.append({**per_trial, "raw": raw_step_cpu * steps / trials})
                rounds["long"].append(
                    (lab_run(lab, "cartpole", args.steps, args.concurrency, actor="balance"), raw_round)
                )
                short = rounds["short"][-1][0]
                minari = minari_collector(args.steps, f"{directory}/minari-{k}", name=f"hdf5-{k}")
                rounds["minari"].append((short, minari[:2]))
            raw = statistics.median(r for (_, (r, _)) in rounds["short"])
            local = statistics.median(s for ((s, _), _) in rounds["short"])
            long_trials = statistics.median(s for ((s, _), _) in rounds["long"])
            unrecorded = lab_rate(lab, "cartpole", args.steps, args.concurrency, datalog=False)
            timed = lab_rate(lab, "cartpole", args.steps // 2, args.concurrency, response_timeout=5.0)
            duo = lab_rate(lab, "duo", args.steps, args.concurrency)
            with Lab(datastore=f"{directory}/bench-engine", fused_ticks=False) as engine_lab:
                engine_lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
                engine_lab.serve_env("duo", Duo())
                engine_lab.serve_actor("random", actors.Random())
                engine_lab.serve_actor("balance", actors.Policy(balance))
                lab_rate(engine_lab, "cartpole", 2_000, args.concurrency)  # warm up
                engine_short = lab_rate(engine_lab, "cartpole", args.steps, args.concurrency)
                engine_long = lab_rate(engine_lab, "cartpole", args.steps, args.concurrency, actor="balance")
                engine_duo = lab_rate(engine_lab, "duo", args.steps, args.concurrency)
            remote = lab_rate(lab, "cartpole-process", args.steps // 4, args.concurrency)
            lab_trials(lab, "cartpole-1", BATCH, args.concurrency)  # warm up
            trials = args.steps // 4
            one_step = [  # interleaved rounds
                (lab_trials(lab, "cartpole-1", trials, args.concurrency), raw_one_step_episodes(trials))
                for _ in range(args.rounds)
            ]
        lab_bytes = lab_bytes_per_step(f"{directory}/bytes", args.steps, args.concurrency)
        minari_arrow = minari_collector(args.steps, f"{directory}/minari-arrow", "arrow", "arrow")
        floor_per_episode = hand_written_recorder(args.steps, directory, 1, 1)[0]
        floor_batched_commits = hand_written_recorder(args.steps, directory, 1, 64)[0]
        floor_shared = hand_written_recorder(args.steps, directory, 64, 64)[0]
    minari_wall = statistics.median(m for (_, (m, _)) in rounds["minari"])
    print(
        f"CartPole-v1, every step recorded; reference = raw Gymnasium loop, same run ({args.rounds} interleaved rounds,"
    )
    print("median of the rounds' ratios; 'CPU' = steps per CPU second of the whole process, every thread)")
    print(f"  raw env.step(action_space.sample()) : {raw:>10,.0f} steps/s   1.00x")
    for key, label, target in (
        ("short", "lab, random ~22-step episodes", 0.5),
        ("long", "lab, 500-step episodes", 0.7),
    ):
        wall = median_ratio([(s, r) for ((s, _), (r, _)) in rounds[key]])
        cpu = median_ratio([(s, r) for ((_, s), (_, r)) in rounds[key]])
        steps = statistics.median(s for ((s, _), _) in rounds[key])
        print(
            f"  {label:<36}: {steps:>10,.0f} steps/s   {wall:.2f}x (CPU {cpu:.2f}x)   {verdict(min(wall, cpu), target)}"
        )
    print(f"  lab, environment in another process : {remote:>10,.0f} steps/s   {remote / raw:.3f}x")
    print(f"  Lab() to ready (%cogment launch)    : {launch:.3f} s (median of 3)")
    print("CPU per short trial, per-thread clocks; reference = the raw loop's CPU for as many steps (same rounds)")
    raw_trial = statistics.median(r["raw"] for r in thread_rounds)
    print(f"  raw loop, as many steps             : {raw_trial * 1e6:>10,.0f} us        1.00x")
    for role, label in (("loop", "loop thread (engine, recording)"), ("writer", "datastore writer thread")):
        seconds = statistics.median(r[role] for r in thread_rounds)
        ratio = statistics.median(r[role] / r["raw"] for r in thread_rounds)
        print(f"  {label:<36}: {seconds * 1e6:>10,.0f} us        {ratio:.2f}x")
    print(
        "Minari DataCollector (HDF5, its default) on the same seeded random episodes; reference = Minari, same rounds"
    )
    wall = median_ratio([(s, m) for ((s, _), (m, _)) in rounds["minari"]])
    cpu = median_ratio([(s, m) for ((_, s), (_, m)) in rounds["minari"]])
    print(f"  Minari DataCollector + create_dataset: {minari_wall:>10,.0f} steps/s   1.00x")
    judged = verdict(min(wall, cpu), 5)
    print(f"  lab, random ~22-step episodes       : {local:>10,.0f} steps/s   {wall:.2f}x (CPU {cpu:.2f}x)   {judged}")
    print("Bytes on disk per recorded short CartPole step (as many steps); reference = Minari's Arrow storage")
    print(f"  Minari DataCollector, arrow storage : {minari_arrow[2]:>10,.1f} B/step")
    print(
        f"  lab datastore (SQLite file)         : {lab_bytes:>10,.1f} B/step   {lab_bytes / minari_arrow[2]:.2f}x   "
        f"{verdict(lab_bytes / minari_arrow[2], 1, below=True)}"
    )
    print("Where the time goes (same run):")
    print(f"  in-process, recording off           : {unrecorded:>10,.0f} steps/s   {unrecorded / raw:.2f}x")
    print(f"  in-process, 500-step episodes       : {long_trials:>10,.0f} steps/s   {long_trials / raw:.2f}x")
    print("The engine's own tick loop (fused loop off; same run):")
    print(f"  in-process, random episodes         : {engine_short:>10,.0f} steps/s   {engine_short / raw:.2f}x")
    print(f"  in-process, 500-step episodes       : {engine_long:>10,.0f} steps/s   {engine_long / raw:.2f}x")
    print("Two agents, both rewarded every step; reference = the engine's loop, same run")
    print(f"  engine's loop                       : {engine_duo:>10,.0f} steps/s   1.00x")
    print(f"  fused loop                          : {duo:>10,.0f} steps/s   {duo / engine_duo:.2f}x")
    print("CartPole, random actor, response_timeout=5 (components off the event loop); reference = lab, in-process")
    print(f"  lab, in-process                     : {local:>10,.0f} steps/s   1.00x")
    print(f"  the same with a response_timeout    : {timed:>10,.0f} steps/s   {timed / local:.2f}x")
    print("What a trial costs: one-step CartPole trials (seeded reset, one step, end, record); reference = the raw")
    print("loop's seeded reset and step, same rounds (CPU of the whole process per trial, median of the rounds)")
    raw_episode = statistics.median(1e6 / c for (_, (_, c)) in one_step)
    trial = statistics.median(1e6 / c for ((_, c), _) in one_step)
    print(f"  raw reset(seed) + step              : {raw_episode:>10,.1f} us an episode   1.00x")
    print(f"  lab, run_trials                     : {trial:>10,.1f} us a trial     {trial / raw_episode:.1f}x")
    print("The least any recorder can do in Python (hand-written loop, no engine; same run):")
    floors = {
        "a chunk and a commit per episode": floor_per_episode,
        "a chunk per episode, 64 per commit": floor_batched_commits,
        "a chunk and a commit per 64 episodes": floor_shared,
    }
    for what, rate in floors.items():
        print(f"  {what:<36}: {rate:>10,.0f} steps/s   {rate / raw:.2f}x")


if __name__ == "__main__":
    main()
