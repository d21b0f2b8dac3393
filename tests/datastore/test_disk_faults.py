"""A full disk and a read-only mount, for real: a lab recording on a 5 MiB tmpfs that fills
up, and a datastore seen through a read-only bind mount."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cogment_jupyter import Lab, TrialHandle, actors, envs
from cogment_jupyter.datastore import Datastore, ReadOnlyDatastoreError, TrialStore
from tests.mounts import fill, read_only_view, tmpfs


def _lab(directory: Path) -> Lab:
    lab = Lab(datastore=directory)
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1", render=True))  # frames: trials of some size
    lab.serve_actor("random", actors.Random())
    return lab


def _fill_until_a_trial_fails(lab: Lab, disk: Path) -> tuple[Path, TrialHandle]:
    """Fill the disk, then run trials until one fails to record (SQLite first uses the room its
    files have); the filler file and that trial."""
    filler = fill(disk)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        handle = lab.start_trial("cartpole", "random", render=True).wait(60)
        if handle.errors:
            return filler, handle
    raise AssertionError("no trial failed to record on a full disk")


def test_a_full_disk_is_reported_as_such_and_recording_resumes_once_space_is_freed(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "5m") as disk, _lab(disk / "store") as lab:
        before = [lab.start_trial("cartpole", "random", seed=n, render=True).wait(60) for n in range(3)]
        assert all(handle.errors == [] for handle in before)
        kept = {handle.id: len(lab.steps(handle.id)) for handle in before}

        filler, failed = _fill_until_a_trial_fails(lab, disk)
        message = " ".join(failed.errors)
        assert "the disk is full" in message and "Free some space" in message, message
        assert "rollback" not in message and "deleted" not in message

        for trial_id, rows in kept.items():  # recorded before: intact
            assert len(lab.steps(trial_id)) == rows

        filler.unlink()
        after = lab.start_trial("cartpole", "random", render=True).wait(60)
        assert after.errors == [], after.errors
        assert len(lab.steps(after.id)) == after.tick + 1

        trials = lab.trials().set_index("trial_id")
        assert trials.loc[after.id, "state"] == "ENDED"
        if failed.id in trials.index:  # its row was written, its samples not all: marked closed by
            lost = trials.loc[failed.id]  # the first batch after space came back
            assert lost["state"] != "ENDED" and bool(lost["interrupted"]), lost


def test_a_datalog_service_on_a_full_disk_tells_the_trial_why(tmp_path: Path) -> None:
    """The datastore as a gRPC service (``DatalogSP``): the orchestrator hears RESOURCE_EXHAUSTED
    with the reason, and the trial records it among its errors."""
    from cogment_jupyter.datastore import DatastoreServer
    from cogment_jupyter.lab.loop_thread import LoopThread

    with tmpfs(tmp_path / "disk", "5m") as disk:
        loop = LoopThread("datastore service")
        store = TrialStore.open(disk / "store")
        server = DatastoreServer(store)
        loop.run(server.start())
        try:
            with Lab(datastore=tmp_path / "lab-store", datalog=server.endpoint) as lab:
                lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1", render=True))
                lab.serve_actor("random", actors.Random())
                assert lab.start_trial("cartpole", "random", render=True).wait(60).errors == []
                filler, failed = _fill_until_a_trial_fails(lab, disk)
                message = " ".join(failed.errors)
                assert "datalog" in message and "RESOURCE_EXHAUSTED" in message, message
                assert "the disk is full" in message, message
                filler.unlink()
                assert lab.start_trial("cartpole", "random", render=True).wait(60).errors == []
        finally:
            loop.run(server.stop(0))
            loop.stop()
            store.close()


def test_a_read_only_datastore_opens_read_only(tmp_path: Path) -> None:
    source = tmp_path / "source"
    with _lab(source / "store") as lab:
        ids = [handle.id for handle in lab.run_trials(3, "cartpole", "random", progress=False)]
        rows = {trial_id: len(lab.steps(trial_id)) for trial_id in ids}

    with read_only_view(source, tmp_path / "view") as view:
        store = view / "store"
        # reads work, from a Datastore, a TrialStore and a lab
        with Datastore(store) as datastore:
            assert list(datastore.trials()["trial_id"]) == ids
            assert {trial_id: len(datastore.steps(trial_id)) for trial_id in ids} == rows
            assert TrialStore.open(store) is datastore.store and datastore.store.read_only
            datastore.store.close()
            with pytest.raises(ReadOnlyDatastoreError, match=r"read-only file system.*Reading works"):
                datastore.delete(ids[0])

        with _lab(store) as reader:
            assert {trial_id: len(reader.steps(trial_id)) for trial_id in ids} == rows
            with pytest.raises(ReadOnlyDatastoreError, match=r"read-only.*datalog=False"):
                reader.start_trial("cartpole", "random")
            unrecorded = reader.start_trial("cartpole", "random", datalog=False).wait(60)
            assert unrecorded.errors == [] and unrecorded.state == "ENDED"
        with Datastore(store) as datastore:
            assert list(datastore.trials()["trial_id"]) == ids  # nothing was changed
