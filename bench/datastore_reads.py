"""Reading trials back, beside the references users have: run by ``bench/datastore.py``.

4. A 1,000,000-step CartPole trial recorded by a lab (CartPole that starts over by itself when
   the pole falls, one random actor, ``max_steps``), read back with ``lab.get_trial_data`` and
   ``lab.steps``, next to the same steps in a Minari dataset (arrow storage) written from it.
   Minari's ``dataset[0]`` returns only the first record batch of a long episode (its reader
   maps every episode to one batch: 32,768 of the 1,000,000 steps), so the reference is
   Minari's own reading (``arrow_storage._decode_space``/``_decode_info``, what ``dataset[i]``
   runs) applied to the whole episode; ``dataset[0]`` is printed too.
5. ``lab.trials()`` with 1k, 10k and 50k trials next to ``pd.read_sql_query("SELECT * FROM
   trials")`` on the same file. The trials are one CartPole trial recorded by a lab, written
   again under new ids (same rows, chunk included), which keeps the setup short.
6. (``--soak``) A lab's memory over a long session: RSS after 10,000 trials and after
   100,000 (random CartPole, ``run_trials`` in batches of 1,000), after a garbage collection.
7. ``lab.steps`` of 10,000 short CartPole trials at once (random actor, recorded by a lab),
   next to ``pd.read_sql`` of the same rows (trial, tick, observation, action, reward) from a
   plain SQLite table.

Timings interleave ours and the reference, ``repeats`` times each; ratios are of medians.
"""

from __future__ import annotations

import gc
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import psutil

from cogment_jupyter import Lab, TrialHandle, actors, envs
from cogment_jupyter.datastore.writer import upsert_trial, write_chunk


class EndlessCartPole(gym.Wrapper):
    """CartPole that starts over by itself when the pole falls: a trial of any length."""

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        observation, reward, terminated, truncated, _ = self.env.step(action)
        if terminated or truncated:
            observation, _ = self.env.reset()
        return observation, reward, False, False, {}


def endless_cartpole(**kwargs: Any) -> gym.Env:
    return EndlessCartPole(gym.make("CartPole-v1", max_episode_steps=None, **kwargs).unwrapped)


#: (wall, CPU) seconds of each call
Timings = list[tuple[float, float]]


def timed(function: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU) seconds of a call; CPU time is this process's (every thread), which a
    machine shared with other work disturbs less."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    del result
    return wall, cpu


def interleaved(ours: Callable[[], Any], reference: Callable[[], Any], repeats: int) -> tuple[Timings, Timings]:
    mine, theirs = [], []
    for _ in range(repeats):
        mine.append(timed(ours))
        theirs.append(timed(reference))
    return mine, theirs


def compare(
    label: str,
    ours: list[tuple[float, float]],
    reference_label: str,
    reference: list[tuple[float, float]],
    target: float,
) -> float:
    """Print ours beside the reference (first call and medians, wall clock and CPU); the ratio
    of the wall-clock medians is judged against ``target``. Returns it."""
    wall = statistics.median(w for w, _ in ours) / statistics.median(w for w, _ in reference)
    cpu = statistics.median(c for _, c in ours) / statistics.median(c for _, c in reference)
    verdict = "" if target == float("inf") else f"   target <= {target:g}: {'met' if wall <= target else 'NOT met'}"
    print(
        f"  {label:<22} ours first {ours[0][0]:.3f} s, median {statistics.median(w for w, _ in ours):.3f} s   "
        f"{reference_label} first {reference[0][0]:.3f} s, median {statistics.median(w for w, _ in reference):.3f} s   "
        f"ratio {wall:.2f} (CPU time {cpu:.2f}){verdict}"
    )
    return wall


# -- 4. the million-step trial ------------------------------------------------------------------


def minari_whole_episode(dataset: Any, episode: int = 0) -> dict[str, Any]:
    """Minari's reading of one episode (``ArrowStorage.get_episodes``), on all its steps."""
    import pyarrow.dataset as pds
    from minari.dataset._storages.arrow_storage import _decode_info, _decode_space

    storage = dataset.storage
    table = pds.dataset(
        f"{storage.data_path}/{episode}", format="arrow", ignore_prefixes=["_", ".", "metadata.json"]
    ).to_table()
    return {
        "observations": _decode_space(storage.observation_space, table["observations"].combine_chunks()),
        "actions": _decode_space(storage.action_space, table["actions"].combine_chunks()[:-1]),
        "rewards": np.asarray(table["rewards"])[:-1],
        "terminations": np.asarray(table["terminations"])[:-1],
        "truncations": np.asarray(table["truncations"])[:-1],
        "infos": _decode_info(table["infos"].combine_chunks()) if "infos" in table.column_names else {},
    }


def minari_frame(dataset: Any) -> pd.DataFrame:
    """The episode as a DataFrame, one row per step, as a Minari user makes it."""
    episode = minari_whole_episode(dataset)
    n = len(episode["rewards"])
    return pd.DataFrame(
        {
            "observation": list(episode["observations"][:n]),
            "action": episode["actions"],
            "reward": episode["rewards"],
            "terminated": episode["terminations"],
            "truncated": episode["truncations"],
        }
    )


def bench_million(work: Path, steps: int, repeats: int) -> None:
    from cogment_jupyter.lab.minari_export import to_minari

    print(f"4. a {steps:,}-step CartPole trial recorded by a lab, read back beside Minari (the same steps)")
    with Lab(work / "million-lab") as lab:
        lab.serve_env("endless", envs.Gymnasium(endless_cartpole))
        lab.serve_actor("random", actors.Random())
        start = time.perf_counter()
        handle = lab.start_trial("endless", "random", seed=0, max_steps=steps - 1).wait()
        recorded = time.perf_counter() - start
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = to_minari(lab, handle.id, "bench/cartpole/million-v0", root=work / "minari")
        exported = time.perf_counter() - start
        n = dataset.total_steps
        print(f"  ({n:,} steps recorded in {recorded:.1f} s; written as a Minari dataset in {exported:.1f} s)")
        returned = len(dataset[0])
        api = [timed(lambda: dataset[0])[0] for _ in range(repeats)]
        print(
            f"  Minari dataset[0]: {statistics.median(api):.3f} s for {returned:,} of the {n:,} steps (one record "
            "batch of the episode), so the reference below is Minari's reading of every step"
        )
        ours, reference = interleaved(
            lambda: lab.get_trial_data(handle.id), lambda: minari_whole_episode(dataset), repeats
        )
        compare("lab.get_trial_data()", ours, "Minari numpy read", reference, 3)
        ours, reference = interleaved(lambda: lab.steps(handle.id), lambda: minari_frame(dataset), repeats)
        compare("lab.steps()", ours, "Minari episode -> DataFrame", reference, 1)


# -- 7. many short trials ------------------------------------------------------------------------


def bench_many(work: Path, trials: int, repeats: int) -> None:
    print(f"7. lab.steps() of {trials:,} short CartPole trials at once (random actor)")
    with Lab(work / "many-lab") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        start = time.perf_counter()
        ids = []
        for first in range(0, trials, 1000):
            count = min(1000, trials - first)
            ids += [h.id for h in lab.run_trials(count, "cartpole", "random", seed=first, progress=False)]
        recorded = time.perf_counter() - start
        frame = lab.steps(ids)
        print(f"  ({len(frame):,} steps of {trials:,} trials recorded in {recorded:.1f} s)")
        reference = work / "many-reference.sqlite3"
        with sqlite3.connect(reference) as conn:
            conn.execute("CREATE TABLE steps (trial TEXT, tick INTEGER, observation BLOB, action INTEGER, reward REAL)")
            conn.executemany(
                "INSERT INTO steps VALUES (?,?,?,?,?)",
                zip(
                    frame["trial_id"].tolist(),
                    frame["tick"].tolist(),
                    [np.asarray(o, np.float32).tobytes() for o in frame["observation"]],
                    frame["action"].astype("float64").fillna(-1).astype(int).tolist(),
                    frame["reward"].astype("float64").tolist(),
                    strict=True,
                ),
            )
        del frame

        def read_sql() -> pd.DataFrame:
            with sqlite3.connect(reference) as conn:
                return pd.read_sql("SELECT * FROM steps", conn)

        ours, theirs = interleaved(lambda: lab.steps(ids), read_sql, repeats)
        compare("lab.steps()", ours, "pd.read_sql", theirs, float("inf"))


# -- 5. trials() ---------------------------------------------------------------------------------


def add_copies(lab: Lab, template: str, first: int, count: int) -> None:
    """Add ``count`` trials: the template trial's row and samples again, under new ids."""
    store = lab.datastore.store
    record = store.record(template)
    samples = store.read(record.seq).to_batches()
    params = record.params()

    def write(conn: sqlite3.Connection, ids: range) -> None:
        for i in ids:
            handle = upsert_trial(conn, f"copy-{i:06d}", record.user_id, params, closed=True, writer=None)
            for batch in samples:
                write_chunk(conn, handle, batch)

    for start in range(first, first + count, 5000):
        ids = range(start, min(start + 5000, first + count))
        store.writer.call(lambda conn, ids=ids: write(conn, ids)).result()


def bench_trials(work: Path, sizes: list[int], repeats: int) -> None:
    print(f"5. lab.trials() with {', '.join(f'{s:,}' for s in sizes)} trials")
    per_trial = {}
    with Lab(work / "trials-lab") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        template = lab.start_trial("cartpole", "random", seed=0).wait().id
        have = 1
        conn = sqlite3.connect(lab.datastore.file)
        for size in sizes:
            add_copies(lab, template, have, size - have)
            have = size
            ours, reference = interleaved(
                lambda: lab.trials(), lambda: pd.read_sql_query("SELECT * FROM trials", conn), repeats
            )
            per_trial[size] = statistics.median(w for w, _ in ours) / size
            target = 1.5 if size == sizes[-1] else float("inf")
            compare(f"{size:,} trials", ours, "SELECT * -> pandas", reference, target)
        conn.close()
    costs = ", ".join(f"{size:,}: {cost * 1e6:.1f} us" for size, cost in per_trial.items())
    growth = per_trial[sizes[-1]] / per_trial[sizes[-2]] if len(sizes) > 1 else 1.0
    print(
        f"  per trial: {costs}; {sizes[-1]:,} vs {sizes[-2] if len(sizes) > 1 else sizes[-1]:,} trials: "
        f"x{growth:.2f} per trial (linear: about 1)"
    )


# -- 6. memory over a long session -----------------------------------------------------------------


def bench_soak(total: int, warm: int, batch: int = 1000) -> None:
    print(f"6. a lab's memory over {total:,} random CartPole trials (RSS after a garbage collection)")
    process = psutil.Process()
    marks = sorted({warm, total // 4, total // 2, 3 * total // 4, total} - {0})
    rss = {}
    with tempfile.TemporaryDirectory(prefix="soak-") as directory, Lab(Path(directory) / "store") as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        done, start = 0, time.perf_counter()
        while done < total:
            lab.run_trials(min(batch, total - done), "cartpole", "random", progress=False, concurrency=16)
            done += min(batch, total - done)
            if done in marks:
                gc.collect()
                rss[done] = process.memory_info().rss / 2**20
                handles = sum(isinstance(o, TrialHandle) for o in gc.get_objects())
                print(
                    f"  {done:>9,} trials  {time.perf_counter() - start:6.0f} s  RSS {rss[done]:7.1f} MiB  "
                    f"trial handles alive {handles:,}",
                    flush=True,
                )
    growth = rss[total] - rss[warm]
    print(
        f"  growth from {warm:,} to {total:,} trials: {growth:+.1f} MiB (reference: RSS at {warm:,} trials, "
        f"{rss[warm]:.1f} MiB)   target <= 5 MiB: {'met' if growth <= 5 else 'NOT met'}"
    )
