"""The actors of a trial as the datastore sees them: names, classes, wildcard receivers.

Both the ingest path (per-actor reward aggregation) and the SDK conversion (§11 of
``cogment-protocol.md``) resolve reward receivers the way the upstream Go datastore does,
so they share this one implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cogment_jupyter.proto.common_pb2 import TrialParams


@dataclass(frozen=True, slots=True)
class ActorInfo:
    name: str
    actor_class: str
    implementation: str


class ActorDirectory:
    """Index of a trial's actors in ``TrialParams.actors`` order."""

    __slots__ = ("_expanded", "_index", "actors")

    def __init__(self, actors: Sequence[ActorInfo]) -> None:
        self.actors: tuple[ActorInfo, ...] = tuple(actors)
        self._index = {a.name: i for i, a in enumerate(self.actors)}
        self._expanded: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_params(cls, params: TrialParams) -> ActorDirectory:
        """The directory of a trial's actors: the same object for trials with the same actors
        (the trials of a batch), which then share its receiver patterns and row templates."""
        key = tuple([(a.name, a.actor_class, a.implementation) for a in params.actors])
        found = _directories.get(key)
        if found is None:
            if len(_directories) >= _KEPT:
                _directories.clear()
            found = _directories[key] = cls([ActorInfo(*actor) for actor in key])
        return found

    def __len__(self) -> int:
        return len(self.actors)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.actors]

    def index(self, name: str) -> int:
        """Actor index of ``name``; -1 for anything else (the environment, an unknown sender)."""
        return self._index.get(name, -1)

    def expand(self, receiver: str) -> tuple[int, ...]:
        """Actor indexes a reward receiver pattern designates (Go ``trialSampleFromDatalogSample``).

        ``*`` and ``*.*`` are every actor; ``class.*`` / ``class.name`` select by class (and
        name); anything else is an exact actor name (unknown names select nobody).
        """
        found = self._expanded.get(receiver)
        if found is not None:
            return found
        if receiver in ("*", "*.*"):
            found = tuple(range(len(self.actors)))
        elif "." in receiver:
            parts = receiver.split(".")
            cls_name, actor_name = parts[0], parts[1]
            found = tuple(
                i
                for i, a in enumerate(self.actors)
                if a.actor_class == cls_name and (actor_name == "*" or actor_name == a.name)
            )
        else:
            i = self._index.get(receiver)
            found = () if i is None else (i,)
        if len(self._expanded) < 4096:
            self._expanded[receiver] = found
        return found

    def select(self, names: Iterable[str], classes: Iterable[str], implementations: Iterable[str]) -> list[bool]:
        """Which actors pass the ``RetrieveSamples`` filters (each empty filter selects all)."""
        names, classes, implementations = set(names), set(classes), set(implementations)
        return [
            (not names or a.name in names)
            and (not classes or a.actor_class in classes)
            and (not implementations or a.implementation in implementations)
            for a in self.actors
        ]


#: Directories kept for :meth:`ActorDirectory.from_params` (by actors), at most ``_KEPT``.
_directories: dict[tuple[tuple[str, str, str], ...], ActorDirectory] = {}
_KEPT = 256
