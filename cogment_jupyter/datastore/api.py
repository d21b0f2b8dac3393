"""``Datastore``: the user-facing handle on a datastore directory (pandas frames, export, serving).

pandas (``dataframes``) and Parquet load when a frame or an export is first asked for: a lab that
only records does not pay for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogment_jupyter.datastore.decoding import DecoderFactory, first_decoder
from cogment_jupyter.datastore.errors import UnknownTrialError
from cogment_jupyter.datastore.inprocess import InProcessDatalog
from cogment_jupyter.datastore.records import TrialRecord
from cogment_jupyter.datastore.service import DatastoreServer
from cogment_jupyter.datastore.store import TrialStore
from cogment_jupyter.datastore.writer import delete_trials
from cogment_jupyter.engine.records import TrialState
from cogment_jupyter.proto.common_pb2 import TrialParams

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


class Datastore:
    """Trials recorded in a directory (default ``.cogment`` under the working directory).

    ``path`` may also name the database file itself (``*.sqlite3``, ``*.sqlite``, ``*.db``).
    Several ``Datastore`` objects, kernels or processes can use the same directory at once.
    ``decoders``: what turns stored values back into Python ones in ``steps()`` (see
    ``decoding``); ``cogment_jupyter.adapters.TrialCodec.from_params`` reads the lab's trials.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, decoders: Sequence[DecoderFactory] = ()) -> None:
        self._store = TrialStore.open(path)
        self.decoders = tuple(decoders)

    @property
    def file(self) -> Path:
        return self._store.file

    @property
    def store(self) -> TrialStore:
        return self._store

    def __repr__(self) -> str:
        return f"Datastore({str(self.file)!r})"

    def close(self) -> None:
        """Commit what is queued and release the file (other handles on it reopen it)."""
        self._store.close()

    def __enter__(self) -> Datastore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    def trials(
        self,
        state: str | int | Iterable[str | int] | None = None,
        properties: Mapping[str, str] | None = None,
        since: Any = None,
        until: Any = None,
        trial_ids: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """One row per trial, oldest first.

        ``state``: a ``TrialState`` name or value, or several; ``properties``: trials having at
        least these; ``since`` / ``until``: bounds on the start time (datetime, string, epoch ns,
        or a timedelta meaning "that long ago"); ``trial_ids``: only these. ``interrupted``
        marks trials that will never reach ENDED (their writer closed or died); ``failed`` those
        forced to end by a failure (a component that died or raised, a stale trial...),
        ``end_details`` says why a trial was forced to end (empty after a normal end). ``return`` is
        the agent's return (the first actor's, when no other actor has its class),
        ``return_<actor>`` each actor's; ``duration`` is in seconds.
        """
        from cogment_jupyter.datastore import dataframes

        return dataframes.to_pandas(self.trials_table(state, properties, since, until, trial_ids))

    def trials_table(
        self,
        state: str | int | Iterable[str | int] | None = None,
        properties: Mapping[str, str] | None = None,
        since: Any = None,
        until: Any = None,
        trial_ids: Iterable[str] | None = None,
    ) -> pa.Table:
        """:meth:`trials` as an Arrow table."""
        from cogment_jupyter.datastore import dataframes

        states = None
        if state is not None:
            states = {_state_value(s) for s in ([state] if isinstance(state, str | int) else state)}
        pages = self._store.summaries(
            None if trial_ids is None else [trial_ids] if isinstance(trial_ids, str) else list(trial_ids),
            states=states,
            properties=properties,
            since_ns=dataframes.to_ns(since) if since is not None else None,
            until_ns=dataframes.to_ns(until) if until is not None else None,
        )
        return dataframes.trials_table(pages)

    def steps(self, trial_ids: str | Iterable[str], *, decode: bool = True) -> pd.DataFrame:
        """Tidy frame, one row per tick per actor: ``trial_id, tick, timestamp, state, actor,
        observation, action, action_status, reward, info, events``.

        Observations and actions are decoded when one of the ``decoders`` knows the trial,
        raw bytes otherwise; ``info`` is the environment's info as JSON text. Works on trials
        still being written (what is committed so far).
        """
        from cogment_jupyter.datastore import dataframes

        return dataframes.steps_frame(self._step_tables(trial_ids, decode))

    def _step_tables(self, trial_ids: str | Iterable[str], decode: bool) -> list[pa.Table | dict[str, pd.Series]]:
        from cogment_jupyter.datastore.step_groups import TrialSteps, step_parts

        ids = [trial_ids] if isinstance(trial_ids, str) else list(trial_ids)
        records = self._records(ids)
        samples = self._store.read_many([rec.seq for rec in records])
        trials = []
        for rec in records:
            params = rec.params()
            decoder = first_decoder(self.decoders, params) if decode else None
            defaults = [a.default_action.content if a.HasField("default_action") else None for a in params.actors]
            trials.append(TrialSteps(rec, samples[rec.seq], decoder, defaults))
        return step_parts(trials)

    def raw_steps(self, trial_id: str, columns: Sequence[str] | None = None) -> pa.Table:
        """The steps of one trial as an Arrow table, payloads as stored (``columns``: only these)."""
        from cogment_jupyter.datastore import dataframes

        record = self._records([trial_id])[0]
        return dataframes.steps_table(record, self._store.read(record.seq), columns=columns)

    def samples(self, trial_id: str) -> pa.Table:
        """The stored samples of a trial as Arrow, one row per sample (the storage layout)."""
        return self._store.read(self._records([trial_id])[0].seq)

    def params(self, trial_id: str) -> TrialParams:
        return self._records([trial_id])[0].params()

    def _records(self, ids: list[str]) -> list[TrialRecord]:
        found = {r.trial_id: r for r in self._store.records(ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise UnknownTrialError(
                f"unknown trial id(s) {', '.join(map(repr, missing))} in {self.file}; see Datastore.trials()"
            )
        return [found[i] for i in ids]

    # -- writing ---------------------------------------------------------------------------

    def delete(self, trial_ids: str | Iterable[str]) -> int:
        """Delete trials and their samples; returns how many existed."""
        ids = [trial_ids] if isinstance(trial_ids, str) else list(trial_ids)
        return self._store.writer.call(lambda conn: delete_trials(conn, ids)).result()

    def export_parquet(self, path: str | os.PathLike[str], trial_ids: Iterable[str] | None = None) -> Path:
        """Write trials (all by default) to one Parquet file that :meth:`import_parquet` reads back."""
        from cogment_jupyter.datastore import parquet

        return parquet.export_parquet(self._store, path, None if trial_ids is None else list(trial_ids))

    def export_steps(self, path: str | os.PathLike[str], trial_ids: str | Iterable[str] | None = None) -> Path:
        """Write the tidy steps of trials (all by default), values decoded, to a Parquet file
        to share: it opens with plain ``pd.read_parquet``, polars and duckdb."""
        from cogment_jupyter.datastore import parquet

        ids = [r.trial_id for r in self._store.records(with_params=False)] if trial_ids is None else trial_ids
        return parquet.export_steps(self._step_tables(ids, decode=True), path)

    def import_parquet(self, path: str | os.PathLike[str], *, on_conflict: str = "error") -> list[str]:
        """Add the trials of an export; ``on_conflict``: ``error``, ``skip`` or ``replace``."""
        from cogment_jupyter.datastore import parquet

        return parquet.import_parquet(self._store, path, on_conflict=on_conflict)

    def datalog(self) -> InProcessDatalog:
        """A new in-process ``DatalogConnection`` for one trial (what the engine logs to)."""
        return InProcessDatalog(self._store)

    async def serve(self, host: str = "127.0.0.1", port: int = 0, *, address: str | None = None) -> DatastoreServer:
        """Start ``DatalogSP`` + ``TrialDatastoreSP`` on this loop, on TCP ``host:port`` or at
        ``address`` (see ``cogment_jupyter.access``); ``.endpoint`` says where."""
        server = DatastoreServer(self._store, host, port, address=address)
        await server.start()
        return server


def _state_value(state: str | int) -> int:
    if isinstance(state, str):
        try:
            return TrialState[state.upper()].value
        except KeyError:
            names = ", ".join(s.name for s in TrialState)
            raise ValueError(f"unknown trial state {state!r}; use one of {names}") from None
    return int(state)
