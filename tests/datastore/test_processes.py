"""Several processes on one datastore: restarts, a concurrent writer and reader, SIGKILL, the CLI service."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cogment
import pytest

from cogment_jupyter.datastore import Datastore, DatastoreServer, TrialStore
from tests.datastore.helpers import ENDED, DatalogClient, datalog_sample, log_trial, make_params
from tests.waiting import await_condition, wait_for

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def child(mode: str, directory: Path, trial_id: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.datastore.writer_child", mode, str(directory), trial_id],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def service(*args: str) -> tuple[subprocess.Popen, str]:
    """Start ``trial_datastore`` as a process; returns it and its endpoint once it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cogment_jupyter.cli.trial_datastore", "--port", "0", "--log_level", "warning", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    line = proc.stdout.readline()
    while "ready" not in line:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"service did not start: {line!r} {proc.stderr.read()}")
        line = proc.stdout.readline()
    return proc, re.search(r"grpc://\S+", line).group(0)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_trial_written_by_another_process_survives_it(tmp_path):
    proc = child("complete", tmp_path, "done")
    assert proc.wait(30) == 0, proc.stderr.read()
    ds = Datastore(tmp_path)
    row = ds.trials().iloc[0]
    assert (row["trial_id"], row["state"], row["steps"], row["interrupted"]) == ("done", "ENDED", 50, False)
    steps = ds.steps("done")
    assert [int.from_bytes(b, "little") for b in steps["observation"].iloc[::2]] == list(range(50))
    ds.close()


def test_reader_follows_a_writer_process(tmp_path):
    proc = child("slow", tmp_path, "slow")
    try:
        ds = Datastore(tmp_path)
        seen: list[int] = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            trials = ds.trials()
            if len(trials):
                seen.append(int(trials.iloc[0]["steps"]))
                assert len(ds.steps("slow")) >= 2 * seen[-1]  # read after trials(): maybe more
                if trials.iloc[0]["state"] == "ENDED":
                    break
            time.sleep(0.02)
        assert proc.wait(30) == 0, proc.stderr.read()
        assert seen[-1] == 200
        assert len(set(seen)) > 3, f"the reader saw no intermediate states: {seen}"
        assert seen == sorted(seen)
        ds.close()
    finally:
        proc.kill()


def test_sigkill_loses_at_most_the_last_batch(tmp_path):
    proc = child("forever", tmp_path, "killed")
    try:
        assert proc.stdout.readline().strip() == "committed 100", proc.stderr.read()
        ds = Datastore(tmp_path)
        wait_for(lambda: ds.trials().iloc[0]["steps"] > 100, 30, "the writer to commit more than 100 ticks")
        assert ds.trials().iloc[0]["state"] == "RUNNING"
        assert not ds.trials().iloc[0]["interrupted"]  # the writer is alive
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        row = ds.trials().iloc[0]
        assert row["state"] == "RUNNING" and row["interrupted"]
        assert row["steps"] >= 100
        steps = ds.steps("killed")
        assert len(steps) == 2 * row["steps"]
        assert [int.from_bytes(b, "little") for b in steps["observation"].iloc[::2]] == list(range(row["steps"]))
        ds.close()
    finally:
        proc.kill()


async def test_sdk_live_reader_ends_when_the_writer_is_killed(tmp_path):
    proc = child("forever", tmp_path, "killed")
    store = TrialStore.open(tmp_path)
    server = DatastoreServer(store)
    await server.start()
    try:
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == "committed 100"
        sdk = cogment.Context(user_id="t", cog_settings=None).get_datastore(cogment.Endpoint(server.endpoint))
        infos = await sdk.get_trials(["killed"])
        count = 0

        async def read():
            nonlocal count
            async for _ in sdk.all_samples(infos):
                count += 1

        reader = asyncio.create_task(read())
        await await_condition(lambda: count >= 100, 30, "the reader to read the committed samples")
        assert not reader.done()  # it follows the live trial
        proc.send_signal(signal.SIGKILL)  # not reaped yet: a zombie counts as dead too
        await asyncio.wait_for(reader, 5)
        await asyncio.to_thread(proc.wait, 10)
        assert count >= 100
        assert count == store.record("killed").samples
    finally:
        proc.kill()
        await server.stop()
        store.close()


async def test_service_restart_and_sigterm(tmp_path):
    proc, endpoint = service("--directory", str(tmp_path / "d"))
    try:
        await log_trial(endpoint, "one", make_params(), [datalog_sample(0, state=ENDED)])
        assert stop(proc) == 0
        assert "Traceback" not in proc.stderr.read()
        proc, endpoint = service("--directory", str(tmp_path / "d"))
        sdk = cogment.Context(user_id="t", cog_settings=None).get_datastore(cogment.Endpoint(endpoint))
        assert [i.trial_id for i in await sdk.get_trials()] == ["one"]
    finally:
        stop(proc)


async def test_service_killed_mid_trial(tmp_path):
    db = tmp_path / "datastore-file"  # --file_storage names the file itself, whatever its suffix
    proc, endpoint = service("--file_storage", str(db))
    try:
        client = DatalogClient(endpoint, "cut")
        await client.params(make_params())
        for t in range(30):
            await client.sample(datalog_sample(t, observations=[b"o"], actors_map=[0, 0], actions=[b"a", b"b"]))
        ds = Datastore(db)
        deadline = time.monotonic() + 10
        while not len(ds.trials()) or ds.trials().iloc[0]["samples"] < 30:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        stop(proc, signal.SIGKILL)
        await client.abort()
        row = ds.trials().iloc[0]
        assert (row["state"], row["samples"], row["interrupted"]) == ("RUNNING", 30, True)
        ds.close()
    finally:
        stop(proc, signal.SIGKILL)


def test_service_refuses_a_foreign_file(tmp_path):
    foreign = tmp_path / "x.db"
    import sqlite3

    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    proc = subprocess.run(
        [sys.executable, "-m", "cogment_jupyter.cli.trial_datastore", "--port", "0", "--file_storage", str(foreign)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COGMENT_TRIAL_DATASTORE_PORT": "1"},
    )
    assert proc.returncode == 1
    assert "did not create" in proc.stderr and str(foreign) in proc.stderr
