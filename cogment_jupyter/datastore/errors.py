"""Errors the datastore raises; each message names the problem and the fix."""

from __future__ import annotations


class DatastoreError(Exception):
    """Base class of every datastore error."""


class DatastoreFileError(DatastoreError):
    """The datastore file cannot be used as it is (foreign, corrupt or too new)."""


class ForeignFileError(DatastoreFileError):
    """The file is a SQLite database written by something else."""


class CorruptFileError(DatastoreFileError):
    """The file is not a readable SQLite database."""


class NewerSchemaError(DatastoreFileError):
    """The file was written by a newer cogment_jupyter with a schema this one cannot read."""


class DiskFullError(DatastoreError):
    """The disk holding the datastore is full: what was being written is not stored."""


class ReadOnlyDatastoreError(DatastoreError):
    """A write to a datastore that can only be read here (read-only mount or permissions)."""


class UnknownTrialError(DatastoreError, KeyError):
    """A trial id that is not in the datastore."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown trial"
