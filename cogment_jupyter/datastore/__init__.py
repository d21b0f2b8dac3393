"""Persistent trial datastore: SQLite (WAL) storage, Cogment ``DatalogSP``/``TrialDatastoreSP``, pandas frames.

Layout (one job per module):

- ``schema``      the file: location, versioned schema, safe opening, corruption errors
- ``errors``      the exceptions (each names the problem and the fix)
- ``actors``      a trial's actors, wildcard reward receivers
- ``records``     a trial's summary row; is its writer process still alive
- ``chunks``      the columnar chunk (Arrow, LZ4 or zstd) a batch of samples is stored as
- ``segments``    which rows of which chunks are each trial's (chunks are shared by trials)
- ``writer``      the single writer thread (batching, transactions, compaction)
- ``store``       ``TrialStore``: reads from any thread, change notification
- ``inprocess``   ``InProcessDatalog``: the engine's ``DatalogConnection`` without gRPC, batched across trials
- ``stored_samples``  chunks back to the SDK's ``StoredTrialSample`` (§11), with filters
- ``service``     ``DatalogSP`` + ``TrialDatastoreSP`` and ``DatastoreServer``
- ``dataframes``  pandas DataFrames (``trials``, ``steps``)
- ``decoding``    what turns stored values back into Python ones in ``steps()``
- ``parquet``     export / import
- ``api``         ``Datastore``, the user-facing facade
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogment_jupyter import __version__

if TYPE_CHECKING:
    from cogment_jupyter.datastore.api import Datastore
    from cogment_jupyter.datastore.decoding import DecoderFactory, TrialDecoder
    from cogment_jupyter.datastore.errors import (
        CorruptFileError,
        DatastoreError,
        DatastoreFileError,
        DiskFullError,
        ForeignFileError,
        NewerSchemaError,
        ReadOnlyDatastoreError,
        UnknownTrialError,
    )
    from cogment_jupyter.datastore.inprocess import InProcessDatalog
    from cogment_jupyter.datastore.service import DatastoreServer
    from cogment_jupyter.datastore.store import TrialStore

# Names are imported on first use so that a writer process or the gRPC service does not pay
# for pandas (seconds of imports) until it needs a DataFrame.
_EXPORTS = {
    "Datastore": "api",
    "DecoderFactory": "decoding",
    "TrialDecoder": "decoding",
    "CorruptFileError": "errors",
    "DatastoreError": "errors",
    "DatastoreFileError": "errors",
    "DiskFullError": "errors",
    "ReadOnlyDatastoreError": "errors",
    "ForeignFileError": "errors",
    "NewerSchemaError": "errors",
    "UnknownTrialError": "errors",
    "InProcessDatalog": "inprocess",
    "DatastoreServer": "service",
    "TrialStore": "store",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CorruptFileError",
    "Datastore",
    "DatastoreError",
    "DatastoreFileError",
    "DatastoreServer",
    "DecoderFactory",
    "DiskFullError",
    "ForeignFileError",
    "InProcessDatalog",
    "NewerSchemaError",
    "ReadOnlyDatastoreError",
    "TrialDecoder",
    "TrialStore",
    "UnknownTrialError",
    "__version__",
]
