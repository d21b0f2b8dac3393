"""Persistent trial datastore: SQLite (WAL) storage, Cogment ``DatalogSP``/``TrialDatastoreSP``, pandas frames.

Layout (one job per module):

- ``schema``      the file: location, versioned schema, safe opening
- ``chunks``      the columnar chunk a batch of samples is stored as
- ``writer``      the single writer thread (batching, transactions, compaction)
- ``store``       ``TrialStore``: reads from any thread, change notification
- ``inprocess``   ``InProcessDatalog``: the engine's ``DatalogConnection`` without gRPC
- ``conversion``  chunks back to the SDK's ``StoredTrialSample``
- ``service``     the gRPC services and ``DatastoreServer``
- ``frames``      pandas frames (``trials``, ``steps``)
- ``decoding``    the value-decoding hook for ``steps()``
- ``parquet``     export / import
- ``api``         ``Datastore``, the user-facing facade
- ``cli``         ``cogment-jupyter services trial_datastore``
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cogment_jupyter")
except PackageNotFoundError:  # pragma: no cover - source tree without metadata
    __version__ = "0.0.0"

from cogment_jupyter.datastore.api import Datastore
from cogment_jupyter.datastore.decoding import TrialDecoder, register_decoder_factory, unregister_decoder_factory
from cogment_jupyter.datastore.errors import (
    CorruptFileError,
    DatastoreError,
    DatastoreFileError,
    ForeignFileError,
    NewerSchemaError,
    UnknownTrialError,
)
from cogment_jupyter.datastore.inprocess import InProcessDatalog
from cogment_jupyter.datastore.service import DatastoreServer
from cogment_jupyter.datastore.store import TrialStore

__all__ = [
    "CorruptFileError",
    "Datastore",
    "DatastoreError",
    "DatastoreFileError",
    "DatastoreServer",
    "ForeignFileError",
    "InProcessDatalog",
    "NewerSchemaError",
    "TrialDecoder",
    "TrialStore",
    "UnknownTrialError",
    "__version__",
    "register_decoder_factory",
    "unregister_decoder_factory",
]
