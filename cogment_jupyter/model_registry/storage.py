"""The registry's archive directory, in the upstream file-system backend's layout.

``<root>/<model>/<model>.yaml`` holds a model's info; each iteration ("version") is
``<model>-v000001.yaml`` (its info) beside ``<model>-v000001.data`` (its bytes), the YAML
fields those of the upstream registry, so an archive directory written by the upstream
``cogment services model_registry`` is readable here and the other way round.

The directory is the only source of truth: nothing is cached in memory, so several readers
(and a second registry on the same directory) see the same models. Data is written and read
in chunks and never held whole: an incoming iteration goes to a hidden temporary file, hashed
as it arrives, then is renamed into place under a file lock that also numbers it.

Stored iterations ("archived") persist. Published ones ("transient") live like the upstream
memory cache's: they are written here too (never kept in memory), marked ``transient: true``,
dropped when the registry starts again, and the oldest dropped once more than
``cache_max_items`` exist.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml

from cogment_jupyter.model_registry import DEFAULT_CACHE_MAX_ITEMS
from cogment_jupyter.model_registry.infos import (
    InvalidRequestError,
    ModelInfo,
    RegistryError,
    UnknownModelError,
    UnknownVersionError,
    VersionInfo,
    check_model_id,
    sha256_base64,
)

_VERSION_FILE = re.compile(r"^(?P<model>.+)-v(?P<number>[0-9]+)\.yaml$")
_INCOMING_PREFIX = ".incoming-"


class _Loader(yaml.SafeLoader):
    """Timestamps stay strings (PyYAML would drop their nanoseconds)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def format_timestamp(ns: int) -> str:
    """RFC 3339 with nanoseconds, as Go's yaml writes a ``time.Time``."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{fraction:09d}Z" if fraction else f"{text}Z"


_TIMESTAMP = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?\s*(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    match = _TIMESTAMP.match(str(value).strip())
    if match is None:
        raise ValueError(f"not a timestamp: {value!r}")
    zone = match["zone"] or "Z"
    zone = "+00:00" if zone in "Zz" else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    base = datetime.fromisoformat(match["base"].replace(" ", "T").replace("t", "T") + zone)
    fraction = (match["fraction"] or "0")[:9].ljust(9, "0")
    return int(base.timestamp()) * 1_000_000_000 + int(fraction)


def _read_yaml(path: Path) -> dict[str, Any]:
    document = yaml.load(path.read_text(), Loader=_Loader)
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return document


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    partial.write_text(text)
    os.chmod(partial, 0o640)
    partial.replace(path)


def _strings(mapping: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (mapping or {}).items()}


# ---------------------------------------------------------------------------- the store


class ModelStore:
    """One archive directory (created if missing)."""

    def __init__(self, root: str | os.PathLike[str], cache_max_items: int = DEFAULT_CACHE_MAX_ITEMS) -> None:
        self.root = Path(root).expanduser().absolute()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RegistryError(f"cannot create the model registry directory {self.root}: {error.strerror}") from None
        if not self.root.is_dir():
            raise RegistryError(f"the model registry directory {self.root} is not a directory")
        self.cache_max_items = max(0, cache_max_items)
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """This process's threads and other processes on the same directory, one at a time."""
        with self._thread_lock, open(self.root / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def drop_transient(self) -> int:
        """What a restart does to published iterations (and interrupted uploads): forget them."""
        dropped = 0
        with self._locked():
            for model_dir in self._model_dirs():
                for entry in model_dir.iterdir():
                    if entry.name.startswith(_INCOMING_PREFIX):
                        entry.unlink(missing_ok=True)
                for info in self._versions(model_dir.name):
                    if not info.archived:
                        self._remove_version(info)
                        dropped += 1
        return dropped

    # -- paths

    def _model_dir(self, model_id: str) -> Path:
        return self.root / check_model_id(model_id)

    def _model_file(self, model_id: str) -> Path:
        return self._model_dir(model_id) / f"{model_id}.yaml"

    def _version_file(self, model_id: str, number: int, suffix: str) -> Path:
        return self._model_dir(model_id) / f"{model_id}-v{number:06d}.{suffix}"

    def _model_dirs(self) -> list[Path]:
        out = []
        for entry in sorted(self.root.iterdir(), key=lambda p: p.name):
            if not entry.name.startswith(".") and entry.is_dir() and (entry / f"{entry.name}.yaml").is_file():
                out.append(entry)
        return out

    # -- models

    def create_or_update_model(self, model_id: str, user_data: Mapping[str, str]) -> ModelInfo:
        info = ModelInfo(check_model_id(model_id), dict(user_data))
        with self._locked():
            self._model_dir(model_id).mkdir(exist_ok=True)
            _write_atomically(
                self._model_file(model_id),
                yaml.safe_dump({"model_id": info.model_id, "user_data": info.user_data}, sort_keys=True),
            )
        return info

    def has_model(self, model_id: str) -> bool:
        return self._model_file(model_id).is_file()

    def model_info(self, model_id: str) -> ModelInfo:
        path = self._model_file(model_id)
        try:
            document = _read_yaml(path)
        except FileNotFoundError:
            raise UnknownModelError(model_id) from None
        return ModelInfo(str(document.get("model_id") or model_id), _strings(document.get("user_data")))

    def list_models(self, offset: int = 0, limit: int = 0) -> list[ModelInfo]:
        """Models by name, from ``offset``, at most ``limit`` of them (0: all)."""
        dirs = self._model_dirs()[max(0, offset) :]
        if limit > 0:
            dirs = dirs[:limit]
        return [self.model_info(d.name) for d in dirs]

    def delete_model(self, model_id: str) -> None:
        if not self.has_model(model_id):
            raise UnknownModelError(model_id)
        with self._locked():
            shutil.rmtree(self._model_dir(model_id), ignore_errors=True)

    # -- versions

    def _version_numbers(self, model_id: str) -> list[int]:
        try:
            names = os.listdir(self._model_dir(model_id))
        except FileNotFoundError:
            raise UnknownModelError(model_id) from None
        numbers = []
        for name in names:
            match = _VERSION_FILE.match(name)
            if match is not None and match["model"] == model_id:
                numbers.append(int(match["number"]))
        return sorted(numbers)

    def _load_version(self, model_id: str, number: int) -> VersionInfo | None:
        try:
            document = _read_yaml(self._version_file(model_id, number, "yaml"))
        except FileNotFoundError:
            return None
        return VersionInfo(
            model_id=str(document.get("model_id") or model_id),
            version_number=int(document.get("version_number") or number),
            creation_timestamp=parse_timestamp(document.get("creation_timestamp", 0)),
            archived=not bool(document.get("transient", False)),
            data_hash=str(document.get("data_hash") or ""),
            data_size=int(document.get("data_size") or 0),
            user_data=_strings(document.get("user_data")),
        )

    def _versions(self, model_id: str) -> list[VersionInfo]:
        return [v for n in self._version_numbers(model_id) if (v := self._load_version(model_id, n)) is not None]

    def latest_version_number(self, model_id: str) -> int:
        """0 when the model has no iteration yet."""
        numbers = self._version_numbers(model_id)
        return numbers[-1] if numbers else 0

    def version_info(self, model_id: str, number: int) -> VersionInfo:
        """Iteration ``number``; ``-1`` the latest, ``-2`` the one before, and so on."""
        if number == 0:
            raise UnknownVersionError(model_id, number)
        if number < 0:
            numbers = self._version_numbers(model_id)
            if -number > len(numbers):
                raise UnknownVersionError(model_id, number)
            resolved = numbers[number]
        else:
            if not self._model_dir(model_id).is_dir():
                raise UnknownModelError(model_id)
            resolved = number
        info = self._load_version(model_id, resolved)
        if info is None:
            raise UnknownVersionError(model_id, number)
        return info

    def latest_version_info(self, model_id: str) -> VersionInfo | None:
        try:
            return self.version_info(model_id, -1)
        except UnknownVersionError:
            return None

    def list_versions(self, model_id: str, initial: int = 0, limit: int = 0) -> list[VersionInfo]:
        """Iterations numbered ``initial`` or more, in order, at most ``limit`` of them (0: all)."""
        out = []
        for number in self._version_numbers(model_id):
            if number < initial:
                continue
            info = self._load_version(model_id, number)
            if info is None:
                continue
            out.append(info)
            if limit > 0 and len(out) >= limit:
                break
        return out

    @contextlib.contextmanager
    def open_data(self, model_id: str, number: int) -> Iterator[tuple[VersionInfo, IO[bytes]]]:
        """An iteration's info and its data file, open for reading (a later deletion does not cut it)."""
        info = self.version_info(model_id, number)
        try:
            stream = open(self._version_file(model_id, info.version_number, "data"), "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise UnknownVersionError(model_id, number) from None
        with stream:
            yield info, stream

    def incoming(self, model_id: str, expected_size: int, expected_hash: str = "") -> IncomingVersion:
        """Start receiving an iteration of ``model_id`` (which must exist)."""
        if not self.has_model(model_id):
            raise UnknownModelError(model_id)
        return IncomingVersion(self, model_id, expected_size, expected_hash)

    def _commit(
        self, incoming: IncomingVersion, archived: bool, creation_timestamp: int, user_data: Mapping[str, str]
    ) -> VersionInfo:
        with self._locked():
            if not self.has_model(incoming.model_id):
                raise UnknownModelError(incoming.model_id)
            number = self.latest_version_number(incoming.model_id) + 1
            info = VersionInfo(
                model_id=incoming.model_id,
                version_number=number,
                creation_timestamp=creation_timestamp or time.time_ns(),
                archived=archived,
                data_hash=incoming.data_hash,
                data_size=incoming.received,
                user_data=dict(user_data),
            )
            incoming.path.replace(self._version_file(incoming.model_id, number, "data"))
            document: dict[str, Any] = {
                "model_id": info.model_id,
                "version_number": number,
                "creation_timestamp": _Timestamp(format_timestamp(info.creation_timestamp)),
                "data_hash": info.data_hash,
                "data_size": info.data_size,
                "user_data": info.user_data,
            }
            if not archived:
                document["transient"] = True
            _write_atomically(
                self._version_file(incoming.model_id, number, "yaml"), yaml.dump(document, Dumper=_Dumper)
            )
            if not archived:
                self._evict_transient()
        return info

    def _remove_version(self, info: VersionInfo) -> None:
        self._version_file(info.model_id, info.version_number, "yaml").unlink(missing_ok=True)
        self._version_file(info.model_id, info.version_number, "data").unlink(missing_ok=True)

    def _evict_transient(self) -> None:
        """Keep at most ``cache_max_items`` published iterations (the oldest go), as upstream's LRU loses them."""
        transient = [v for d in self._model_dirs() for v in self._versions(d.name) if not v.archived]
        excess = len(transient) - self.cache_max_items
        if excess > 0:
            for info in sorted(transient, key=lambda v: (v.creation_timestamp, v.version_number))[:excess]:
                self._remove_version(info)


class _Timestamp(str):
    """Written unquoted, as Go's yaml writes times."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Timestamp, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:timestamp", value))


class IncomingVersion:
    """An iteration being received: chunks go to a hidden file, hashed as they arrive."""

    def __init__(self, store: ModelStore, model_id: str, expected_size: int, expected_hash: str) -> None:
        self.store = store
        self.model_id = model_id
        self.expected_size = expected_size
        self.expected_hash = expected_hash
        self.path = store._model_dir(model_id) / f"{_INCOMING_PREFIX}{uuid.uuid4().hex}.data"
        self._file: IO[bytes] | None = open(self.path, "wb")  # noqa: SIM115
        self._hash = hashlib.sha256()
        self.received = 0
        self.data_hash = ""

    def write(self, chunk: bytes) -> None:
        """Append a chunk (refused beyond the announced size)."""
        assert self._file is not None
        self.received += len(chunk)
        if self.received > self.expected_size:
            raise InvalidRequestError(
                f"received more data than expected, expected {self.expected_size} bytes, received {self.received} bytes"
            )
        self._file.write(chunk)
        self._hash.update(chunk)

    def commit(
        self, archived: bool, creation_timestamp: int = 0, user_data: Mapping[str, str] | None = None
    ) -> VersionInfo:
        """Check size and hash, then number the iteration and put it in place."""
        assert self._file is not None
        self._file.close()
        self._file = None
        try:
            if self.received != self.expected_size:
                raise InvalidRequestError(
                    "stream ended while having not received the expected data, "
                    f"expected {self.expected_size} bytes, received {self.received} bytes"
                )
            self.data_hash = sha256_base64(self._hash)
            if self.expected_hash and self.expected_hash != self.data_hash:
                raise InvalidRequestError(
                    f'received data did not match the expected hash, expected "{self.expected_hash}", '
                    f'received "{self.data_hash}"'
                )
            return self.store._commit(self, archived, creation_timestamp, user_data or {})
        finally:
            self.path.unlink(missing_ok=True)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)
