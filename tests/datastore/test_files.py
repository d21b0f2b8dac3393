"""The file itself: location, WAL mode, versioning, foreign and corrupt files, persistence."""

from __future__ import annotations

import os
import sqlite3

import pytest

from cogment_jupyter.datastore import (
    CorruptFileError,
    Datastore,
    ForeignFileError,
    NewerSchemaError,
    TrialStore,
)
from cogment_jupyter.datastore.schema import APPLICATION_ID, FILE_NAME, SCHEMA_VERSION, resolve_file
from tests.datastore.test_inprocess import record_trial, records

pytestmark = pytest.mark.timeout(30)


def test_location_directory_or_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_file(None) == tmp_path / ".cogment" / FILE_NAME
    assert resolve_file("runs") == tmp_path / "runs" / FILE_NAME
    assert resolve_file("runs/mine.db") == tmp_path / "runs" / "mine.db"
    existing = tmp_path / "plain"
    existing.write_bytes(b"")
    assert resolve_file("plain") == existing


def test_new_file_is_wal_and_stamped(datastore):
    conn = sqlite3.connect(datastore.file)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_foreign_sqlite_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ForeignFileError) as err:
        Datastore(path)
    message = str(err.value)
    assert str(path) in message and "invoices" in message and "another directory" in message
    assert path.read_bytes() == before


def test_garbage_file_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "trials.sqlite3"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CorruptFileError) as err:
        Datastore(path)
    assert str(path) in str(err.value) and "move it away" in str(err.value)


async def test_truncated_file_is_reported_as_corrupt(tmp_path):
    ds = Datastore(tmp_path)
    await record_trial(ds, "big", records(4000), batch=500)
    ds.close()
    path = tmp_path / FILE_NAME
    assert not (tmp_path / (FILE_NAME + "-wal")).exists() or (tmp_path / (FILE_NAME + "-wal")).stat().st_size == 0
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 3)
    with pytest.raises(CorruptFileError):
        Datastore(tmp_path).steps("big")


def test_newer_schema_is_refused(tmp_path):
    Datastore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / FILE_NAME)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(NewerSchemaError) as err:
        TrialStore(tmp_path)
    assert "newer" in str(err.value) and "Upgrade" in str(err.value)


async def test_reopened_store_has_everything(tmp_path):
    ds = Datastore(tmp_path)
    await record_trial(ds, "kept", records(20), batch=7)
    before = ds.steps("kept")
    ds.close()
    again = Datastore(tmp_path)
    assert again.trials()["trial_id"].tolist() == ["kept"]
    assert again.steps("kept").equals(before)
    again.close()
