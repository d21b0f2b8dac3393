"""A file of the previous format (schema 2: a chunk per trial segment) reads as it did.

``fixtures/schema2.sqlite3`` was written by the code of that format, and ``schema2.json`` holds
what that code read from it (``fixtures/make_schema2.py`` made both): the trials' summaries,
every trial's steps (digest, first and last rows) and its samples as the SDK receives them.
Today's code must read the same from the file migrated in place (a writable copy), from the
file as it stands (a read-only view, which cannot be migrated), and keep recording into the
migrated file beside the old trials.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.trial_codec import TrialCodec
from cogment_jupyter.datastore import Datastore
from cogment_jupyter.datastore.schema import SCHEMA_VERSION
from tests.datastore.helpers import samples_summary, steps_summary, trial_summary
from tests.mounts import read_only_view

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "schema2.json").read_text())


def read_back(datastore: Datastore, ids: list[str] | None = None) -> dict[str, Any]:
    """What ``make_schema2`` recorded of the file (of the trials ``ids``), read with today's code."""
    out: dict[str, Any] = {"trials": [], "steps": {}, "samples": {}}
    ids = list(EXPECTED["steps"]) if ids is None else ids
    out["trials"] = [trial_summary(row) for row in datastore.trials(trial_ids=ids).itertuples()]
    frame = datastore.steps(ids)  # all at once, as a user reads them
    for trial_id in ids:
        out["steps"][trial_id] = steps_summary(frame[frame["trial_id"] == trial_id])
        out["samples"][trial_id] = samples_summary(datastore, trial_id)
    return out


def schema_version(file: Path) -> int:
    with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def test_the_fixture_is_of_the_old_format() -> None:
    assert schema_version(FIXTURES / "schema2.sqlite3") == 2 < SCHEMA_VERSION


def test_a_writable_old_file_is_migrated_and_reads_as_before(tmp_path: Path) -> None:
    file = tmp_path / "trials.sqlite3"
    shutil.copyfile(FIXTURES / "schema2.sqlite3", file)
    datastore = Datastore(file, decoders=[TrialCodec.from_params])
    try:
        assert schema_version(file) == SCHEMA_VERSION
        assert read_back(datastore) == EXPECTED
    finally:
        datastore.close()


def test_a_read_only_old_file_reads_as_it_stands(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    shutil.copyfile(FIXTURES / "schema2.sqlite3", source / "trials.sqlite3")
    with read_only_view(source, tmp_path / "view") as view:
        datastore = Datastore(view, decoders=[TrialCodec.from_params])
        try:
            assert datastore.store.read_only
            assert read_back(datastore) == EXPECTED
        finally:
            datastore.close()
    assert schema_version(source / "trials.sqlite3") == 2  # untouched


def test_new_trials_are_recorded_beside_the_old_ones(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "schema2.sqlite3", tmp_path / "trials.sqlite3")
    with Lab(datastore=tmp_path) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        handles = lab.run_trials(5, "cartpole", "random", seed=1, progress=False)
        trials = lab.trials(scope="all")
        assert len(trials) == len(EXPECTED["trials"]) + 5
        steps = lab.steps([h.id for h in handles])
        assert steps.groupby("trial_id", sort=False).size().tolist() == [h.tick + 1 for h in handles]
        lab.datastore.delete(EXPECTED["trials"][0]["trial_id"])
    kept = [trial["trial_id"] for trial in EXPECTED["trials"][1:]]
    datastore = Datastore(tmp_path, decoders=[TrialCodec.from_params])
    try:
        assert read_back(datastore, kept) == {
            "trials": EXPECTED["trials"][1:],
            "steps": {k: EXPECTED["steps"][k] for k in kept},
            "samples": {k: EXPECTED["samples"][k] for k in kept},
        }
    finally:
        datastore.close()
