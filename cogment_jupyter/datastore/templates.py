"""The columns of a trial's row that its params decide, made once for trials that differ by their seeds only.

The trials of a ``run_trials`` batch share their environment, actors and properties: their
``env_name, env_impl, actors`` columns and property set are a :class:`ParamsTemplate`'s, made
once. A row keeps its params without their properties (the property set holds those, see
:func:`~cogment_jupyter.datastore.records.stored_params`). The properties are the last field of
``TrialParams`` (field 8), so a serialized params is the stored part followed by the bytes of
its properties: a trial whose properties have the template's entries (hence as many bytes)
and whose serialization ends with the template's properties bytes has, as stored params, that
serialization without them; slicing them off costs a fraction of clearing the field of a copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cogment_jupyter.datastore.actors import ActorDirectory
from cogment_jupyter.datastore.records import stored_params

if TYPE_CHECKING:
    from cogment_jupyter.proto.common_pb2 import TrialParams


@dataclass(frozen=True, slots=True)
class ParamsTemplate:
    """What the trials of one environment, actors and properties share in their rows."""

    directory: ActorDirectory
    env_name: str
    env_impl: str
    #: the properties' keys and values, and their bytes at the end of a serialized params (None:
    #: a serialization that does not end with them, which then takes the general way)
    keys: tuple[str, ...]
    values: list[str]
    suffix: bytes | None
    #: the ``actors`` column (JSON) and the property set's text (JSON)
    actors_json: str
    properties_json: str


def split_params(params: TrialParams, directory: ActorDirectory) -> tuple[bytes, ParamsTemplate]:
    """A trial's stored params (as :func:`stored_params` makes them) and its template."""
    whole = params.SerializeToString()
    environment = params.environment
    name, implementation = environment.name, environment.implementation
    last = _last
    if (
        last is not None
        and last.suffix is not None
        and last.directory is directory
        and last.env_name == name
        and last.env_impl == implementation
        and whole.endswith(last.suffix)
        and _same_entries(params.properties, last)
    ):
        return whole[: len(whole) - len(last.suffix)], last
    return _split_slowly(params, directory, whole, name, implementation)


def _split_slowly(
    params: TrialParams, directory: ActorDirectory, whole: bytes, name: str, implementation: str
) -> tuple[bytes, ParamsTemplate]:
    """:func:`split_params` for a trial unlike the last one: the stored params made by clearing
    the properties of a copy, the template found (or made) by environment, actors and properties."""
    global _last
    stored = stored_params(params)
    properties = dict(params.properties)
    entries = tuple(sorted(properties.items()))
    suffix = whole[len(stored) :] if whole.startswith(stored) else None
    key = (directory, name, implementation, entries, suffix)
    template = _templates.get(key)
    if template is None:
        if len(_templates) >= 256:
            _templates.clear()
        template = _templates[key] = ParamsTemplate(
            directory,
            name,
            implementation,
            tuple(key for key, _ in entries),
            [value for _, value in entries],
            suffix,
            json.dumps([[a.name, a.actor_class, a.implementation] for a in directory.actors]),
            json.dumps(properties),
        )
    _last = template
    return stored, template


def _same_entries(properties: Mapping[str, str], template: ParamsTemplate) -> bool:
    """Whether a params' properties map holds exactly the template's entries."""
    return len(properties) == len(template.keys) and list(map(properties.get, template.keys)) == template.values


#: templates by directory, environment, properties and their bytes
_templates: dict[tuple[object, ...], ParamsTemplate] = {}
#: the template of the last trial taken the general way (the next ones likely share it)
_last: ParamsTemplate | None = None
