"""Datastore benchmark: ingest, reading back and memory, each figure next to a reference of the same run.

    uv run python bench/datastore.py [--only 1,2,3,4,5] [--steps 1000000] [--trial-steps 1000000]
    uv run python bench/datastore.py --soak [--soak-trials 100000]     # the memory of a long session

1. In-process ingest: CartPole-like samples (one actor, 16-byte observation, 1-byte action,
   one reward) handed to ``InProcessDatalog.add`` one per call, as the engine does, until
   ``close()`` has committed them. Reference: the same rows written with plain
   ``sqlite3.executemany`` (WAL, one transaction per 8192 rows).
2. gRPC ``DatalogSP`` ingest: the same kind of samples streamed as ``DatalogSample`` protobufs
   to a ``trial_datastore`` service process, until the stream is closed (all committed).
   References: the same rows with ``executemany``; the same stream to a grpc.aio ``DatalogSP``
   that only reads the messages (what Python gRPC costs per message, ``bare_datalog.py``).
3. A 1,000,000-step trial turned into a DataFrame by ``Datastore.steps()`` (fresh handle),
   next to ``pd.read_sql`` of the same rows from a plain SQLite table.
4. A 1,000,000-step CartPole trial recorded by a lab: ``get_trial_data`` next to Minari's
   numpy read of the same steps, ``lab.steps`` next to Minari episode -> DataFrame.
5. ``lab.trials()`` at 1k / 10k / 50k trials next to ``SELECT *`` -> pandas.
6. (``--soak``) RSS of a lab after 10,000 and 100,000 trials.
7. ``lab.steps`` of 10,000 short CartPole trials at once, next to ``pd.read_sql`` of the same rows.

Sections 4-7 are in ``datastore_reads.py``. Targets: issue 3 (in-process ingest >= 100,000
samples/s; 1M steps -> DataFrame <= 2 s) and issue 18 (``get_trial_data`` <= 3x Minari's read;
``steps`` <= 1x Minari episode -> DataFrame; ``trials()`` linear and <= 1.5x the plain query at
50k; <= 5 MiB growth from 10k to 100k trials).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datastore_reads
import grpc
import grpc.aio
import pandas as pd
import psutil
import pyarrow as pa

from cogment_jupyter.adapters.trial_codec import TrialCodec
from cogment_jupyter.datastore import Datastore
from cogment_jupyter.datastore.chunks import ChunkBuilder
from cogment_jupyter.datastore.writer import upsert_trial, write_chunk
from cogment_jupyter.engine.records import Action, ObservationSet, Reward, RewardSource, Sample, TrialState
from cogment_jupyter.proto import common_pb2, datalog_pb2, datalog_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
BARE = Path(__file__).resolve().parent / "bare_datalog.py"
T0 = 1_700_000_000_000_000_000


def params() -> common_pb2.TrialParams:
    p = common_pb2.TrialParams()
    p.environment.name = "cartpole"
    p.environment.implementation = "CartPole-v1"
    p.actors.add(name="player", actor_class="player", implementation="random")
    return p


BLOCK = 65536


def observation(t: int) -> bytes:
    """Repeats every BLOCK ticks, so that the 1M-step trial can be written block by block."""
    t %= BLOCK
    return struct.pack("<4f", t * 0.001, -t * 0.001, 0.5, 0.25)


def samples(start: int, stop: int, total: int) -> list[Sample]:
    return [
        Sample(
            tick_id=t,
            timestamp=T0 + t * 1000,
            state=TrialState.ENDED if t == total - 1 else TrialState.RUNNING,
            observations=ObservationSet([observation(t)], [0]),
            actions=[None] if t == total - 1 else [Action(t, bytes([t & 1]))],
            rewards=[Reward(-1, "player", 1.0, [RewardSource("env", 1.0, 1.0)])],
        )
        for t in range(start, stop)
    ]


def reference_rows(n: int) -> list[tuple]:
    return [
        ("trial", t, T0 + t * 1000, 5 if t == n - 1 else 3, observation(t), None if t == n - 1 else bytes([t & 1]), 1.0)
        for t in range(n)
    ]


def reference_ingest(path: Path, rows: list[tuple]) -> tuple[float, float]:
    """(wall, CPU) seconds to write ``rows`` with plain executemany, WAL, one transaction per 8192 rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE steps (trial TEXT, tick INTEGER, timestamp INTEGER, state INTEGER, "
        "observation BLOB, action BLOB, reward REAL)"
    )
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(0, len(rows), 8192):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO steps VALUES (?,?,?,?,?,?,?)", rows[k : k + 8192])
        conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    conn.close()
    return elapsed, cpu


def line(label: str, ours: float, reference: float, unit: str) -> None:
    ratio = ours / reference
    print(f"  {label:<26} ours {ours:>10,.0f} {unit}   reference {reference:>10,.0f} {unit}   ratio {ratio:.2f}")


async def bench_inprocess(directory: Path, n: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to ingest n samples, one add() each."""
    data = samples(0, n, n)
    ds = Datastore(directory)
    datalog = ds.datalog()
    await datalog.start("inprocess", "bench", params())
    start, cpu = time.perf_counter(), time.process_time()
    for s in data:
        datalog.add((s,))
    await datalog.close()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert ds.trials(state="ENDED")["samples"].sum() == n
    ds.close()
    return elapsed, cpu


def datalog_samples(n: int) -> list[datalog_pb2.RunTrialDatalogInput]:
    out = [datalog_pb2.RunTrialDatalogInput(trial_params=params())]
    for t in range(n):
        s = datalog_pb2.DatalogSample()
        s.info.tick_id = t
        s.info.timestamp = T0 + t * 1000
        s.info.state = common_pb2.ENDED if t == n - 1 else common_pb2.RUNNING
        s.observations.tick_id = -1
        s.observations.observations.append(observation(t))
        s.observations.actors_map.append(0)
        if t == n - 1:
            s.actions.add(tick_id=-2)
        else:
            s.actions.add(tick_id=t, content=bytes([t & 1]))
        s.rewards.add(tick_id=-1, receiver_name="player", value=1.0).sources.add(
            sender_name="env", value=1.0, confidence=1.0
        )
        out.append(datalog_pb2.RunTrialDatalogInput(sample=s))
    return out


async def bench_grpc(directory: Path, n: int, command: list[str] | None = None) -> tuple[float, float]:
    """(wall seconds for the stream, CPU seconds the service process spent meanwhile); by
    default of a ``trial_datastore`` service, else of the service ``command`` starts."""
    proc = subprocess.Popen(
        command
        or [
            sys.executable,
            *("-m", "cogment_jupyter.cli.trial_datastore", "--port", "0", "--log_level", "warning"),
            *("--directory", str(directory)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = await asyncio.to_thread(proc.stdout.readline)
        match = re.search(r"grpc://(\S+)", ready)
        if not match:
            raise RuntimeError(f"the service did not start: {ready!r}")
        messages = datalog_samples(n)
        service = psutil.Process(proc.pid)
        await asyncio.sleep(2.0)  # let the service finish warming up (its writer thread imports pandas)
        async with grpc.aio.insecure_channel(match.group(1)) as channel:
            stub = datalog_pb2_grpc.DatalogSPStub(channel)
            cpu = sum(service.cpu_times()[:2])
            start = time.perf_counter()
            call = stub.RunTrialDatalog(iter(messages), metadata=(("trial-id", "grpc"), ("user-id", "bench")))
            async for _ in call:  # the stream ends once the service has committed everything
                pass
            elapsed = time.perf_counter() - start
            cpu = sum(service.cpu_times()[:2]) - cpu
        proc.terminate()
        proc.wait(30)
        if command is None:
            ds = Datastore(directory)
            assert ds.trials()["samples"].tolist() == [n], "not everything was stored"
            ds.close()
        return elapsed, cpu
    finally:
        if proc.poll() is None:
            proc.kill()


def build_trial(directory: Path, n: int) -> float:
    """Write an n-step trial as the ingest paths store it (chunks from ``ChunkBuilder``).

    The builder runs once for a block of BLOCK ticks and once for the last block; the blocks in
    between are copies of the first with their ticks and timestamps shifted (same bytes per row),
    which keeps this setup step short.
    """
    ds = Datastore(directory)

    def chunk(start: int, stop: int) -> pa.RecordBatch:
        builder = ChunkBuilder(handle.directory)
        builder.add_records(samples(start, stop, n))
        return builder.build()

    def shifted(batch: pa.RecordBatch, start: int) -> pa.RecordBatch:
        columns = batch.columns
        columns[0] = pa.array(batch.column(0).to_numpy() + start)
        columns[1] = pa.array(batch.column(1).to_numpy() + start * 1000)
        return pa.RecordBatch.from_arrays(columns, schema=batch.schema)

    def work(conn: sqlite3.Connection) -> None:
        nonlocal handle
        handle = upsert_trial(conn, "million", "bench", params(), closed=True, writer=None)
        last = (n - 1) // BLOCK * BLOCK
        first = chunk(0, min(n, BLOCK)) if last else None
        for start in range(0, last, BLOCK):
            write_chunk(conn, handle, shifted(first, start))
        write_chunk(conn, handle, chunk(last, n))

    handle = None
    start = time.perf_counter()
    ds.store.writer.call(work).result()
    elapsed = time.perf_counter() - start
    ds.close()
    return elapsed


def time_steps(directory: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        ds = Datastore(directory, decoders=[TrialCodec.from_params])
        start = time.perf_counter()
        frame = ds.steps("million")
        times.append(time.perf_counter() - start)
        ds.close()
        del frame
    return times


def time_read_sql(path: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        conn = sqlite3.connect(path)
        start = time.perf_counter()
        frame = pd.read_sql("SELECT * FROM steps WHERE trial = 'trial' ORDER BY tick", conn)
        times.append(time.perf_counter() - start)
        conn.close()
        del frame
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3,4,5,7", help="sections to run, e.g. 4,5")
    parser.add_argument("--samples", type=int, default=200_000, help="in-process ingest samples")
    parser.add_argument("--grpc-samples", type=int, default=50_000, help="gRPC ingest samples")
    parser.add_argument("--steps", type=int, default=1_000_000, help="steps of the DataFrame trial (3)")
    parser.add_argument("--trial-steps", type=int, default=1_000_000, help="steps of the recorded CartPole trial (4)")
    parser.add_argument("--trials", default="1000,10000,50000", help="trial counts of trials() (5)")
    parser.add_argument("--short-trials", type=int, default=10_000, help="short trials read at once (7)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--soak", action="store_true", help="only the memory of a long session (6)")
    parser.add_argument("--soak-trials", type=int, default=100_000)
    parser.add_argument("--soak-warm-up", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="datastore-bench-"))
    sections = {"6"} if args.soak else set(args.only.split(","))

    load = os.getloadavg()[0]
    print(f"datastore benchmark in {work} (load average {load:.1f} on {os.cpu_count()} CPUs)")

    if "1" in sections:
        print(f"1. in-process ingest ({args.samples:,} samples, one add() per sample, until close())")
        seconds, cpu = await bench_inprocess(work / "inprocess", args.samples)
        ref, ref_cpu = reference_ingest(work / "ref-inprocess.sqlite3", reference_rows(args.samples))
        line("samples/s (wall clock)", args.samples / seconds, args.samples / ref, "/s")
        line("samples/s per CPU second", args.samples / cpu, args.samples / ref_cpu, "/s")
        ok = args.samples / seconds >= 100_000
        print(f"  target >= 100,000 samples/s (wall clock): {'met' if ok else 'NOT met'}")

    if "2" in sections:
        print(f"2. gRPC DatalogSP ingest ({args.grpc_samples:,} samples streamed to a trial_datastore process)")
        seconds, service_cpu = await bench_grpc(work / "grpc", args.grpc_samples)
        ref, ref_cpu = reference_ingest(work / "ref-grpc.sqlite3", reference_rows(args.grpc_samples))
        line("samples/s (wall clock)", args.grpc_samples / seconds, args.grpc_samples / ref, "/s")
        line("samples/s per service CPU s", args.grpc_samples / service_cpu, args.grpc_samples / ref_cpu, "/s")
        bare, bare_cpu = await bench_grpc(work / "bare", args.grpc_samples, [sys.executable, str(BARE)])
        print("  reference: a grpc.aio DatalogSP that reads every message and keeps nothing (bench/bare_datalog.py)")
        line("samples/s (wall clock)", args.grpc_samples / seconds, args.grpc_samples / bare, "/s")
        line("samples/s per service CPU s", args.grpc_samples / service_cpu, args.grpc_samples / bare_cpu, "/s")
        print("  (the Python gRPC client of this script costs about as much CPU per message as the service)")

    if "3" in sections:
        print(f"3. {args.steps:,}-step trial -> DataFrame")
        built = build_trial(work / "million", args.steps)
        print(f"  (trial written in {built:.1f} s)")
        ours = time_steps(work / "million", args.repeats)
        ref_path = work / "ref-million.sqlite3"
        reference_ingest(ref_path, reference_rows(args.steps))
        ref_times = time_read_sql(ref_path, args.repeats)
        print(
            f"  {'Datastore.steps() seconds':<34} ours first {ours[0]:.3f} s, best {min(ours):.3f} s   "
            f"reference pd.read_sql first {ref_times[0]:.3f} s, best {min(ref_times):.3f} s   "
            f"ratio (reference/ours, median) {statistics.median(ref_times) / statistics.median(ours):.2f}"
        )
        print(f"  target <= 2 s: {'met' if max(ours) <= 2.0 else 'NOT met'}")

    if "4" in sections:
        await asyncio.to_thread(datastore_reads.bench_million, work, args.trial_steps, args.repeats)
    if "5" in sections:
        sizes = [int(n) for n in args.trials.split(",")]
        await asyncio.to_thread(datastore_reads.bench_trials, work, sizes, args.repeats)
    if "7" in sections:
        await asyncio.to_thread(datastore_reads.bench_many, work, args.short_trials, args.repeats)
    if "6" in sections:
        await asyncio.to_thread(datastore_reads.bench_soak, args.soak_trials, args.soak_warm_up)


if __name__ == "__main__":
    asyncio.run(main())
