"""Reading a lab's recorded trials back: DataFrames of trials, steps, rewards and interventions,
Cogment Lab's per-agent ``TrialData``, Parquet exports. A read of a trial this lab still runs
waits until it is recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.trial_codec import TrialCodec
from cogment_jupyter.lab.handles import Handles
from cogment_jupyter.lab.scope import Scope, TrialScope

if TYPE_CHECKING:
    import pandas as pd

    from cogment_jupyter.datastore import Datastore


class TrialRecords:
    """The recorded trials of one lab's datastore, as its user reads them."""

    def __init__(self, datastore: Datastore | None, scope: TrialScope, handles: Handles) -> None:
        """``handles``: the lab's trials still running or being written (a read waits for them)."""
        self._datastore = datastore
        self._scope = scope
        self._handles = handles

    def store(self) -> Datastore:
        """The datastore; the error says a lab started without one records nothing."""
        if self._datastore is None:
            raise RuntimeError("this lab records no trials (started with datastore=None)")
        return self._datastore

    def wait_recorded(self, trial_ids: str | Iterable[str], timeout: float | None = None) -> None:
        """Wait until the lab's trials among ``trial_ids`` are recorded (others already are, or never will be)."""
        for trial_id in _ids(trial_ids):
            handle = self._handles.get(trial_id)
            if handle is not None:
                handle.wait(timeout)

    def trials(self, scope: Scope, filters: dict[str, Any]) -> pd.DataFrame:
        properties = {**(filters.pop("properties", None) or {}), **self._scope.filter(scope)}
        return self.store().trials(properties=properties, **filters)

    def steps(self, trial_ids: str | Iterable[str], options: dict[str, Any]) -> pd.DataFrame:
        trial_ids = trial_ids if isinstance(trial_ids, str) else list(trial_ids)
        self.wait_recorded(trial_ids)
        return self.store().steps(trial_ids, **options)

    def export_steps(self, path: str | os.PathLike[str], trial_ids: str | Iterable[str] | None) -> Any:
        if trial_ids is not None:
            trial_ids = trial_ids if isinstance(trial_ids, str) else list(trial_ids)
            self.wait_recorded(trial_ids)
        return self.store().export_steps(path, trial_ids)

    def rewards(self, trial_ids: str | Iterable[str]) -> pd.DataFrame:
        """Every reward source of the trials, one row each (``trial_id, tick, receiver, sender, value, confidence``)."""
        import pandas as pd
        import pyarrow.compute as pc

        ids = _ids(trial_ids)
        self.wait_recorded(ids)
        frames = []
        for trial_id in ids:
            samples = self.store().samples(trial_id)
            sources = samples.column("reward_sources")
            counts = pc.list_value_length(sources).to_numpy(zero_copy_only=False)
            flat = pc.list_flatten(sources.combine_chunks())
            frame = pd.DataFrame(
                {
                    "trial_id": trial_id,
                    "tick": samples.column("tick_id").to_numpy().repeat(counts),
                    "receiver": flat.field("receiver").to_pylist(),
                    "sender": flat.field("sender").to_pylist(),
                    "value": flat.field("source_value").to_numpy(zero_copy_only=False),
                    "confidence": flat.field("confidence").to_numpy(zero_copy_only=False),
                }
            )
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def trial_data(self, trial_id: str, timeout: float | None, fields: Iterable[str] | None) -> dict[str, Any]:
        """Per-agent numpy ``TrialData`` with ``fields`` (all by default), once the trial is recorded."""
        from cogment_jupyter.lab.trial_data import FIELDS, check_fields, trial_data

        wanted = check_fields(FIELDS if fields is None else fields)
        self.wait_recorded(trial_id, timeout)
        return trial_data(self.store(), trial_id, wanted=wanted)

    def interventions(self, trial_ids: str | Iterable[str]) -> pd.DataFrame:
        """One row per tick of teacher-wrapped trials: who was in control, proposed and executed actions."""
        import pandas as pd

        rows = []
        for trial_id in _ids(trial_ids):
            steps = self.steps(trial_id, {"decode": False})
            codec = TrialCodec.from_params(self.store().params(trial_id))
            first = steps["actor"].iloc[0] if len(steps) else None
            for _, row in steps[steps["actor"] == first].iterrows():
                content = row["observation"]
                if not isinstance(content, bytes) or codec is None:
                    continue
                info = codec.observation(first, content).info or {}
                record = info.get("intervention")
                if record is not None:  # the info of tick t's observation tells about the action of tick t-1
                    rows.append({"trial_id": trial_id, "tick": int(row["tick"]) - 1, **record})
        return pd.DataFrame(rows, columns=["trial_id", "tick", "teacher", "active", "proposed", "executed"])


def _ids(trial_ids: str | Iterable[str]) -> list[str]:
    return [trial_ids] if isinstance(trial_ids, str) else list(trial_ids)
