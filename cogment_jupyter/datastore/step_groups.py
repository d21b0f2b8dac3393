"""Steps of many trials at once: the trials that decode alike are turned into steps together.

Reading thousands of short trials one by one costs a few dozen Arrow calls per trial, far more
than their rows. Trials with the same actor count whose decoders have the same
:func:`~cogment_jupyter.datastore.decoding.decoding_key` (the trials of one environment) are
put one after the other and go through :func:`dataframes.group_steps_table` once; each trial
comes out with the rows it has read alone (:func:`dataframes.steps_table`), which serves the
trials a group cannot (see :class:`dataframes.Ungroupable`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from cogment_jupyter.datastore import dataframes
from cogment_jupyter.datastore.decoding import TrialDecoder, decoding_key
from cogment_jupyter.datastore.records import TrialRecord


@dataclass(frozen=True, slots=True)
class TrialSteps:
    """What one trial's steps are made from."""

    record: TrialRecord
    samples: pa.Table
    decoder: TrialDecoder | None
    default_actions: Sequence[bytes | None]


#: one trial's rows in the table of its group: (group, first row, rows)
_Span = tuple[int, int, int]


def step_parts(trials: Sequence[TrialSteps]) -> list[pa.Table | dict[str, Any]]:
    """The steps of ``trials`` in their order, as the parts :func:`dataframes.steps_frame`
    concatenates: consecutive trials of a group share one part."""
    alone: dict[int, pa.Table | dict[str, Any]] = {}
    groups: dict[Hashable, list[int]] = {}
    for i, trial in enumerate(trials):
        if len(trial.record.actors) and trial.samples.num_rows:
            groups.setdefault((len(trial.record.actors), decoding_key(trial.decoder)), []).append(i)
        else:
            alone[i] = _alone(trial)
    tables: list[pa.Table] = []
    spans: dict[int, _Span] = {}
    for members in groups.values():
        table, grouped = _group(trials, members)
        for i in set(members) - set(grouped):
            alone[i] = _alone(trials[i])
        if table is None:
            continue
        first = 0
        for i in grouped:
            rows = trials[i].samples.num_rows * len(trials[i].record.actors)
            spans[i] = (len(tables), first, rows)
            first += rows
        tables.append(table)
    return _in_order(len(trials), alone, tables, spans)


def _alone(trial: TrialSteps) -> pa.Table | dict[str, Any]:
    return dataframes.steps_table(
        trial.record, trial.samples, decoder=trial.decoder, default_actions=trial.default_actions
    )


def _group(trials: Sequence[TrialSteps], members: list[int]) -> tuple[pa.Table | None, list[int]]:
    """The steps table of the trials ``members`` that can be read together, and which they are
    (the others are read alone)."""
    while len(members) > 1:
        chosen = [trials[i] for i in members]
        group = dataframes.StepGroup(
            [t.record for t in chosen],
            dataframes.group_samples([t.samples for t in chosen]),
            [t.samples.num_rows for t in chosen],
            chosen[0].decoder,
            [t.default_actions for t in chosen],
        )
        try:
            return dataframes.group_steps_table(group), members
        except dataframes.Ungroupable as refused:
            if refused.trials is None:
                return None, []
            left_out = set(refused.trials)
            members = [i for k, i in enumerate(members) if k not in left_out]
    return None, []


def _in_order(
    count: int, alone: dict[int, pa.Table | dict[str, Any]], tables: list[pa.Table], spans: dict[int, _Span]
) -> list[pa.Table | dict[str, Any]]:
    """One part per run of consecutive trials that are consecutive rows of one group's table."""
    parts: list[pa.Table | dict[str, Any]] = []
    run: _Span | None = None
    for i in range(count):
        span = spans.get(i)
        if span is not None and run is not None and span[0] == run[0] and span[1] == run[1] + run[2]:
            run = (run[0], run[1], run[2] + span[2])
            continue
        if run is not None:
            parts.append(tables[run[0]].slice(run[1], run[2]))
        run = span
        if span is None:
            parts.append(alone[i])
    if run is not None:
        parts.append(tables[run[0]].slice(run[1], run[2]))
    return parts
