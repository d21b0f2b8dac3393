"""Directory entries, the inquiries they match, and the persistence file.

The persistence file is the upstream directory's (``grpcservers/db.go``): one JSON object keyed
by service id, each value a ``DbRecord`` with Go's field names and the endpoint and details in
their protobuf JSON names, so a file written by the upstream ``cogment services directory`` loads
here and the other way round. It is rewritten whole (atomically) on every change: the directory
is small and changes rarely.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cogment_jupyter.proto import directory_pb2

log = logging.getLogger(__name__)

#: upstream ``secretLength`` and the RFC 4648 §5 pool of ``utils.RandomString`` (typos kept: the
#: pool is what upstream draws from, and secrets are compared, never parsed)
SECRET_LENGTH = 5
_SECRET_POOL = "ABCDEFGHIJKLMNOPQRSTUVWZYZabcdefghijklmnopqrstuvwzyz0123456789-_"


def now_ns() -> int:
    return time.time_ns()


@dataclass(slots=True)
class Record:
    """One registered service (upstream ``DbRecord``)."""

    sid: int
    endpoint: directory_pb2.ServiceEndpoint
    details: directory_pb2.ServiceDetails
    permanent: bool = False
    authentication_token: str = ""
    secret: str = ""
    register_timestamp: int = 0
    # kept up to date by the health checks (persisted, but reset on load)
    last_health_check_timestamp: int = 0
    nb_failed_health_checks: int = 0
    machine_load: int = 0

    def matches(self, inquiry: directory_pb2.ServiceDetails) -> bool:
        """Everything the inquiry gives matches: its type (unless UNKNOWN) and each property."""
        if inquiry.type != directory_pb2.UNKNOWN_SERVICE and self.details.type != inquiry.type:
            return False
        properties = self.details.properties
        return all(name in properties and properties[name] == value for name, value in inquiry.properties.items())

    def full_data(self) -> directory_pb2.FullServiceData:
        return directory_pb2.FullServiceData(
            endpoint=self.endpoint, service_id=self.sid, details=self.details, permanent=self.permanent
        )

    def to_json(self) -> dict[str, Any]:
        endpoint: dict[str, Any] = {}
        if self.endpoint.protocol:
            endpoint["protocol"] = int(self.endpoint.protocol)
        if self.endpoint.host:
            endpoint["host"] = self.endpoint.host
        if self.endpoint.port:
            endpoint["port"] = int(self.endpoint.port)
        details: dict[str, Any] = {}
        if self.details.type:
            details["type"] = int(self.details.type)
        if self.details.properties:
            details["properties"] = dict(self.details.properties)
        return {
            "Sid": self.sid,
            "RegisterTimestamp": self.register_timestamp,
            "LastHealthCheckTimestamp": self.last_health_check_timestamp,
            "NbFailedHealthChecks": self.nb_failed_health_checks,
            "MachineLoad": self.machine_load,
            "Permanent": self.permanent,
            "AuthenticationToken": self.authentication_token,
            "Secret": self.secret,
            "Endpoint": endpoint,
            "Details": details,
        }

    @classmethod
    def from_json(cls, key: str, value: Mapping[str, Any]) -> Record:
        endpoint = value.get("Endpoint") or {}
        details = value.get("Details") or {}
        return cls(
            sid=int(value.get("Sid") or key),
            endpoint=directory_pb2.ServiceEndpoint(
                protocol=int(endpoint.get("protocol", 0)),
                host=str(endpoint.get("host", "")),
                port=int(endpoint.get("port", 0)),
            ),
            details=directory_pb2.ServiceDetails(
                type=int(details.get("type", 0)),
                properties={str(k): str(v) for k, v in (details.get("properties") or {}).items()},
            ),
            permanent=bool(value.get("Permanent", False)),
            authentication_token=str(value.get("AuthenticationToken", "")),
            secret=str(value.get("Secret", "")),
            register_timestamp=int(value.get("RegisterTimestamp", 0)),
            # upstream ``fromFile``: nothing loaded is trusted before its first health check
            last_health_check_timestamp=0,
            nb_failed_health_checks=1,
            machine_load=int(value.get("MachineLoad", 0)),
        )


def new_secret() -> str:
    return "".join(random.choice(_SECRET_POOL) for _ in range(SECRET_LENGTH))


@dataclass
class RecordTable:
    """Every entry, by id; saved to ``path`` (if any) after every change."""

    path: Path | None = None
    records: dict[int, Record] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None) -> RecordTable:
        """Load the persistence file (a missing or empty one is an empty directory).

        An unreadable file is reported and set aside (``<file>.unreadable``), not silently
        overwritten: the entries it held may matter to someone.
        """
        table = cls(Path(path) if path else None)
        if table.path is None:
            log.info("No persistence file: entries are lost when the directory stops")
            return table
        try:
            text = table.path.read_text()
        except FileNotFoundError:
            return table
        except OSError as error:
            raise OSError(f"cannot read the directory persistence file {table.path}: {error.strerror}") from error
        if not text.strip():
            return table
        try:
            document = json.loads(text)
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
            table.records = {int(key): Record.from_json(key, value) for key, value in document.items()}
        except (ValueError, TypeError, AttributeError) as error:
            aside = table.path.with_name(table.path.name + ".unreadable")
            table.path.replace(aside)
            log.warning("The persistence file %s is not a directory file (%s): moved to %s", table.path, error, aside)
            table.records = {}
            return table
        log.info("Loaded [%d] entries from persistence file [%s]", len(table.records), table.path)
        return table

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self.records.values()))

    def get(self, sid: int) -> Record | None:
        return self.records.get(sid)

    def select(self, details: directory_pb2.ServiceDetails) -> list[Record]:
        return [record for record in self.records.values() if record.matches(details)]

    def insert(self, record: Record) -> Record:
        sid = random.getrandbits(63)
        while sid == 0 or sid in self.records:
            sid = random.getrandbits(63)
        record.sid = sid
        record.register_timestamp = now_ns()
        self.records[sid] = record
        self.save()
        return record

    def replace(self, sid: int, record: Record) -> None:
        old = self.records[sid]
        record.sid = sid
        record.register_timestamp = old.register_timestamp
        self.records[sid] = record
        self.save()

    def delete(self, sid: int) -> None:
        if self.records.pop(sid, None) is not None:
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        document = {str(sid): record.to_json() for sid, record in self.records.items()}
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(document))
            os.chmod(partial, 0o600)  # tokens and secrets
            partial.replace(self.path)
        except OSError as error:
            log.warning("Could not save the directory to its persistence file %s: %s", self.path, error)
