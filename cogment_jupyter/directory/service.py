"""``DirectorySP`` and the server that runs it, with the upstream directory's semantics.

- ``Register``: a permanent registration whose details match entries of the same token updates
  the first of them (and removes the others) instead of adding a duplicate; anything else is a
  new entry with a random id and secret, health-checked at once.
- ``Deregister``: by id, with the secret (and token) given at registration.
- ``Inquire``: by id, or every entry whose type and properties include the inquiry's, that the
  caller's token may see and whose last health check passed; most recent registration first,
  or, with load balancing, the least loaded ones in random order. ``registration_lag`` retries
  an empty answer once a second; ``check_on_inquire`` checks the matches first.
- Health: every ``scan_period`` seconds, entries not checked for ``check_period`` seconds are
  checked; ``max_failed`` failures in a row remove them. Entries loaded from the persistence
  file are checked when the server starts (failures removed at once); inquiries wait for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc

from cogment_jupyter.access import Reach, bind, port_of
from cogment_jupyter.directory import health
from cogment_jupyter.directory.records import Record, RecordTable, new_secret, now_ns
from cogment_jupyter.engine.service_status import status_reply, version_info
from cogment_jupyter.proto import common_pb2, directory_pb2, directory_pb2_grpc

log = logging.getLogger(__name__)

TOKEN_METADATA = "authentication-token"
M = TypeVar("M", directory_pb2.ServiceEndpoint, directory_pb2.ServiceDetails)
#: upstream ``acceptableLoadRange``: loads this close to the lowest are as good as it
ACCEPTABLE_LOAD_RANGE = 10


@dataclass(frozen=True)
class DirectoryOptions:
    """The upstream ``ServerParameters``, and the health-check periods upstream hard-codes."""

    registration_lag: int = 0
    load_balancing: bool = False
    check_on_inquire: bool = False
    force_permanent: bool = False
    #: seconds between two checks of one entry (upstream ``healthCheckPeriod``)
    check_period: float = 60.0
    #: seconds between scans for entries due a check (upstream ``dbScanPeriod``)
    scan_period: float = 5.0
    #: failed checks in a row that remove an entry (upstream ``maxFailedHealthChecks``)
    max_failed: int = 3
    #: rounds (with doubling timeouts) of one check
    rounds: int = health.DEFAULT_ROUNDS


def _copy(message: M) -> M:
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


def _token(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == TOKEN_METADATA:
            return value
    return ""


class DirectoryServicer(directory_pb2_grpc.DirectorySPServicer):
    def __init__(self, table: RecordTable, options: DirectoryOptions) -> None:
        self.table = table
        self.options = options
        self.initial_scan_done = asyncio.Event()

    # ------------------------------------------------------------------ register / deregister

    async def Register(
        self, request_iterator: AsyncIterator[directory_pb2.RegisterRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[directory_pb2.RegisterReply]:
        token = _token(context)
        async for request in request_iterator:
            yield await self.register(request, token)

    async def register(self, request: directory_pb2.RegisterRequest, token: str) -> directory_pb2.RegisterReply:
        failed = directory_pb2.RegisterReply.FAILED
        protocol, service_type = request.endpoint.protocol, request.details.type
        if not request.endpoint.host:
            return directory_pb2.RegisterReply(status=failed, error_msg="Empty host")
        if not directory_pb2.ServiceEndpoint.GRPC <= protocol <= directory_pb2.ServiceEndpoint.COGMENT:
            return directory_pb2.RegisterReply(status=failed, error_msg=f"Invalid protocol [{protocol}]")
        if (
            not directory_pb2.TRIAL_LIFE_CYCLE_SERVICE <= service_type <= directory_pb2.DIRECTORY_SERVICE
            and service_type != directory_pb2.OTHER_SERVICE
        ):
            return directory_pb2.RegisterReply(status=failed, error_msg=f"Invalid service type [{service_type}]")
        permanent = request.permanent or self.options.force_permanent
        updated = self._update_permanent(request, token) if permanent else None
        if updated is None:
            updated = self.table.insert(
                Record(
                    0,
                    _copy(request.endpoint),
                    _copy(request.details),
                    permanent=permanent,
                    authentication_token=token,
                    secret=new_secret(),
                )
            )
            log.info(
                "New registered service: id [%d] type [%s] permanent [%s] token [%s]",
                updated.sid,
                directory_pb2.ServiceType.Name(service_type),
                permanent,
                bool(token),
            )
            if not await health.check(updated, updated.register_timestamp, self.options.rounds):
                log.debug("Service [%d] failed its initial health check", updated.sid)
        return directory_pb2.RegisterReply(
            status=directory_pb2.RegisterReply.OK, service_id=updated.sid, secret=updated.secret
        )

    def _update_permanent(self, request: directory_pb2.RegisterRequest, token: str) -> Record | None:
        """A permanent registration replaces what it matches (with this token) rather than duplicate it."""
        updated: Record | None = None
        for record in self.table.select(request.details):
            if record.authentication_token != token:
                continue
            if updated is not None:  # a partial match of several: keep one
                self.table.delete(record.sid)
                log.info("Duplicate permanent service [%d] removed", record.sid)
                continue
            replacement = Record(
                record.sid,
                _copy(request.endpoint),
                _copy(request.details),
                permanent=True,
                authentication_token=record.authentication_token,
                secret=record.secret,
                last_health_check_timestamp=now_ns(),
            )
            self.table.replace(record.sid, replacement)
            log.info("Permanent service [%d] updated", record.sid)
            updated = replacement
        return updated

    async def Deregister(
        self, request_iterator: AsyncIterator[directory_pb2.DeregisterRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[directory_pb2.DeregisterReply]:
        token = _token(context)
        async for request in request_iterator:
            record = self.table.get(request.service_id)
            if record is None:
                error = f"Unknown service ID [{request.service_id}]"
            elif record.authentication_token != token or record.secret != request.secret:
                error = "Authentication failure"
            else:
                self.table.delete(request.service_id)
                log.info("Service [%d] deregistered", request.service_id)
                yield directory_pb2.DeregisterReply(status=directory_pb2.DeregisterReply.OK)
                continue
            yield directory_pb2.DeregisterReply(
                status=directory_pb2.DeregisterReply.FAILED,
                error_msg=f"Failed to deregister service ID [{request.service_id}]: [{error}]",
            )

    # ------------------------------------------------------------------ inquire

    async def Inquire(
        self, request: directory_pb2.InquireRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[directory_pb2.InquireReply]:
        which = request.WhichOneof("inquiry")
        if which is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Empty request: give a service_id or details")
        token = _token(context)
        await self.initial_scan_done.wait()
        matches = await self.matches(request, token)
        for _ in range(self.options.registration_lag):
            if matches:
                break
            await asyncio.sleep(1.0)
            matches = await self.matches(request, token)
        for record in self._order(matches):
            yield directory_pb2.InquireReply(data=record.full_data())

    async def matches(self, request: directory_pb2.InquireRequest, token: str) -> list[Record]:
        if request.WhichOneof("inquiry") == "service_id":
            found = self.table.get(request.service_id)
            candidates = [found] if found is not None else []
        else:
            candidates = self.table.select(request.details)
        matches = [r for r in candidates if r.authentication_token == token and r.nb_failed_health_checks == 0]
        if self.options.check_on_inquire and matches:
            now = now_ns()
            healthy = await asyncio.gather(*(health.check(r, now, rounds=1) for r in matches))
            matches = [record for record, ok in zip(matches, healthy, strict=True) if ok]
        return matches

    def _order(self, matches: list[Record]) -> list[Record]:
        if not self.options.load_balancing:
            return sorted(matches, key=lambda r: r.register_timestamp, reverse=True)
        serviceable = sorted(
            (r for r in matches if r.machine_load < health.UNSERVICEABLE_LOAD), key=lambda r: r.machine_load
        )
        if not serviceable:
            return []
        lowest = serviceable[0].machine_load
        chosen = [r for r in serviceable if r.machine_load <= lowest + ACCEPTABLE_LOAD_RANGE]
        random.shuffle(chosen)
        return chosen

    # ------------------------------------------------------------------ version / status

    async def Version(self, request: common_pb2.VersionRequest, context: grpc.aio.ServicerContext):
        return version_info()

    async def Status(self, request: common_pb2.StatusRequest, context: grpc.aio.ServicerContext):
        return status_reply(request, self.statuses())

    def statuses(self) -> Mapping[str, Callable[[], str]]:
        return {
            "nb_entries": lambda: str(len(self.table)),
            "load_balancing": lambda: "enabled" if self.options.load_balancing else "disabled",
        }

    # ------------------------------------------------------------------ health

    async def scan(self, *, initial: bool = False) -> None:
        """Check every entry due a check; remove those failing too often (at once when ``initial``)."""
        now = now_ns()
        due = [
            r for r in self.table if initial or now - r.last_health_check_timestamp >= self.options.check_period * 1e9
        ]

        async def one(record: Record) -> None:
            healthy = await health.check(record, now, self.options.rounds)
            if healthy or self.table.get(record.sid) is not record:
                return
            if initial or record.nb_failed_health_checks >= self.options.max_failed:
                self.table.delete(record.sid)
                why = "failing its first check after a restart" if initial else "failing repeated health checks"
                log.info("Service [%d] removed after %s", record.sid, why)

        await asyncio.gather(*(one(r) for r in due))

    async def check_forever(self) -> None:
        try:
            await self.scan(initial=True)
        finally:
            self.initial_scan_done.set()
        while True:
            await asyncio.sleep(self.options.scan_period)
            try:
                await self.scan()
            except Exception:
                log.exception("Directory health scan failed")


class DirectoryServer:
    """A directory on ``host:port`` (port 0: a free one), its entries persisted to ``persistence_file``."""

    def __init__(
        self,
        persistence_file: str | Path | None = None,
        options: DirectoryOptions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port = 0
        self.table = RecordTable.open(persistence_file)
        self.servicer = DirectoryServicer(self.table, options or DirectoryOptions())
        self._server: grpc.aio.Server | None = None
        self._checks: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::", "[::]") else self.host
        return f"grpc://{host}:{self.port}"

    async def start(self, on_server: Callable[[grpc.aio.Server], None] | None = None) -> None:
        """Bind and serve; ``on_server`` adds to the gRPC server first (reflection)."""
        server = grpc.aio.server()
        directory_pb2_grpc.add_DirectorySPServicer_to_server(self.servicer, server)
        if on_server is not None:
            on_server(server)
        self.port = port_of(bind(server, Reach(self.host).address("directory", self.requested_port)))
        await server.start()
        self._server = server
        self._checks = asyncio.get_running_loop().create_task(self.servicer.check_forever())

    async def stop(self, grace: float | None = 1.0) -> None:
        if self._checks is not None:
            self._checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checks
            self._checks = None
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        self.table.save()
