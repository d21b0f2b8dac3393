"""``lab.models``: the lab's model registry from a cell.

Publish a model (a torch module, numpy arrays or bytes: the rule is in
``cogment_jupyter.model_registry.serialization``), list models and their iterations as
DataFrames, load one back. Every notebook of a Jupyter server shares the runtime's registry;
an actor made with ``model="name"`` (``actors.Policy``, ``actors.Torch``) acts with the latest
iteration and picks up newer ones between ticks.

``store`` keeps an iteration for good; ``publish`` is the Cogment "publish": kept while the
registry runs (the oldest of more than 100 published iterations go first), the way to hand
out a model that changes often during training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cogment_jupyter.model_registry.infos import VersionInfo
from cogment_jupyter.model_registry.serialization import FORMAT_PROPERTY

if TYPE_CHECKING:
    import pandas as pd

    from cogment_jupyter.lab.loop_thread import LoopThread
    from cogment_jupyter.model_registry.client import RegistryClient
    from cogment_jupyter.model_registry.follow import LatestModel

T = TypeVar("T")

#: models at least this big show a progress bar while they travel
PROGRESS_FROM = 32 * 1024 * 1024


@dataclass(frozen=True)
class Iteration:
    """One iteration of a model, as the registry describes it."""

    model: str
    iteration: int
    stored: bool
    size: int
    hash: str
    created: pd.Timestamp
    format: str
    properties: dict[str, str]

    @classmethod
    def of(cls, info: VersionInfo) -> Iteration:
        import pandas as pd

        properties = {k: v for k, v in info.user_data.items() if k != FORMAT_PROPERTY}
        return cls(
            model=info.model_id,
            iteration=info.version_number,
            stored=info.archived,
            size=info.data_size,
            hash=info.data_hash,
            created=pd.Timestamp(info.creation_timestamp, unit="ns", tz="UTC"),
            format=info.user_data.get(FORMAT_PROPERTY, "bytes"),
            properties=properties,
        )

    def __repr__(self) -> str:
        kept = "stored" if self.stored else "published"
        return f"<{self.model} iteration {self.iteration}: {self.format}, {self.size:,} bytes, {kept}>"


class Models:
    """The model registry at ``endpoint``, used from the lab's background loop."""

    def __init__(self, loop_thread: LoopThread, client: RegistryClient) -> None:
        self._loop_thread = loop_thread
        self.client = client

    @property
    def endpoint(self) -> str:
        return self.client.endpoint

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop_thread.run(coroutine)

    async def _wrap(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await self._loop_thread.wrap(coroutine)

    # ------------------------------------------------------------------ publish

    def publish(self, name: str, model: Any, properties: Mapping[str, Any] | None = None) -> Iteration:
        """A new iteration of ``name`` (created if new), kept while the registry runs; actors
        following ``name`` use it from their next tick."""
        return self._run(self._send(name, model, properties, store=False))

    def store(self, name: str, model: Any, properties: Mapping[str, Any] | None = None) -> Iteration:
        """A new iteration of ``name`` kept for good (it survives registry restarts)."""
        return self._run(self._send(name, model, properties, store=True))

    async def apublish(self, name: str, model: Any, properties: Mapping[str, Any] | None = None) -> Iteration:
        return await self._wrap(self._send(name, model, properties, store=False))

    async def astore(self, name: str, model: Any, properties: Mapping[str, Any] | None = None) -> Iteration:
        return await self._wrap(self._send(name, model, properties, store=True))

    async def _send(self, name: str, model: Any, properties: Mapping[str, Any] | None, store: bool) -> Iteration:
        import asyncio

        from cogment_jupyter.model_registry.infos import check_model_id
        from cogment_jupyter.model_registry.serialization import encode

        check_model_id(name)
        encoded = await asyncio.to_thread(encode, model, self.client.spool_dir)
        with _progress_bar(encoded.size, f"publishing {name}") as progress:
            info = await self.client.send(
                name,
                encoded,
                store=store,
                properties={str(k): str(v) for k, v in (properties or {}).items()},
                progress=progress,
            )
        return Iteration.of(info)

    # ------------------------------------------------------------------ read

    def load(self, name: str, iteration: int = -1, *, into: Any = None) -> Any:
        """Iteration ``iteration`` of ``name`` (``-1``: the latest), as it was published: an
        array, a dict of arrays, bytes, a TorchScript module or a state dict. ``into=module``
        loads the weights into that torch module and returns it."""
        return self._run(self._load(name, iteration, into))

    async def aload(self, name: str, iteration: int = -1, *, into: Any = None) -> Any:
        return await self._wrap(self._load(name, iteration, into))

    async def _load(self, name: str, iteration: int, into: Any) -> Any:
        info = await self.client.iteration(name, iteration)
        with _progress_bar(info.data_size, f"loading {name}") as progress:
            value = await self.client.value_of(info, progress)
        if into is None:
            return value
        into.load_state_dict(value.state_dict() if hasattr(value, "state_dict") else value)
        return into

    def info(self, name: str, iteration: int = -1) -> Iteration:
        """What the registry says about one iteration (``-1``: the latest)."""
        return Iteration.of(self._run(self.client.iteration(name, iteration)))

    def list(self) -> pd.DataFrame:
        """One row per model: its properties, how many iterations, the latest's number, size and time."""
        return self._run(self._list())

    async def alist(self) -> pd.DataFrame:
        return await self._wrap(self._list())

    async def _list(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for model in await self.client.models():
            iterations = await self.client.iterations(model.model_id)
            latest = Iteration.of(iterations[-1]) if iterations else None
            rows.append(
                {
                    "model": model.model_id,
                    "iterations": len(iterations),
                    "latest": latest.iteration if latest else None,
                    "format": latest.format if latest else None,
                    "size": latest.size if latest else None,
                    "updated": latest.created if latest else pd.NaT,
                    "properties": dict(model.user_data),
                }
            )
        columns = ["model", "iterations", "latest", "format", "size", "updated", "properties"]
        return pd.DataFrame(rows, columns=columns)

    def iterations(self, name: str) -> pd.DataFrame:
        """One row per iteration of ``name``, oldest first."""
        return self._run(self._iterations(name))

    async def aiterations(self, name: str) -> pd.DataFrame:
        return await self._wrap(self._iterations(name))

    async def _iterations(self, name: str) -> pd.DataFrame:
        import pandas as pd

        columns = ["iteration", "created", "stored", "format", "size", "hash", "properties"]
        rows = [
            {column: getattr(Iteration.of(info), column) for column in columns}
            for info in await self.client.iterations(name)
        ]
        return pd.DataFrame(rows, columns=columns)

    def set_properties(self, name: str, properties: Mapping[str, Any]) -> None:
        """Replace the model's own properties (not an iteration's)."""
        self._run(self.client.set_model_info(name, {str(k): str(v) for k, v in properties.items()}))

    def delete(self, name: str) -> None:
        """Remove the model and every iteration of it."""
        self._run(self.client.delete(name))

    def follow(self, name: str) -> LatestModel:
        """The latest iteration of ``name``, kept current in the background (``.value``, ``.info``,
        ``.wait(timeout)``): what model-following actors read."""
        from cogment_jupyter.model_registry.follow import LatestModel

        return LatestModel.follow(self.endpoint, name, self.client.spool_dir, loop=self._loop_thread.loop)

    def __repr__(self) -> str:
        return f"<lab.models: the model registry at {self.endpoint}>"


@contextlib.contextmanager
def _progress_bar(total: int, description: str) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar in bytes for big models; nothing for small ones."""
    if total < PROGRESS_FROM:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=description, unit="B", unit_scale=True, leave=False)
    try:
        yield bar.update
    finally:
        bar.close()
