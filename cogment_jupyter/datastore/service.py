"""``DatalogSP`` + ``TrialDatastoreSP`` over ``grpc.aio``, like upstream ``cogment services trial_datastore``.

Any orchestrator (ours or upstream) logs to it through ``datalog.endpoint``; the official
SDK's ``Context.get_datastore()`` reads from it unchanged. Semantics follow the Go servers
(``grpcservers/datalogServer.go``, ``trialDatastoreServer.go``); the differences are noted
where they are made (see ``RetrieveTrials`` and ``RetrieveSamples``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import grpc.aio

from cogment_jupyter.access import Reach, bind, port_of
from cogment_jupyter.datastore.errors import DatastoreError, DiskFullError
from cogment_jupyter.datastore.store import POLL, TrialStore
from cogment_jupyter.datastore.stored_samples import SampleConverter
from cogment_jupyter.datastore.writer import OpenTrial
from cogment_jupyter.engine.records import TrialState
from cogment_jupyter.engine.service_status import status_reply
from cogment_jupyter.proto import (
    common_pb2,
    datalog_pb2,
    datalog_pb2_grpc,
    trial_datastore_pb2,
    trial_datastore_pb2_grpc,
)

log = logging.getLogger(__name__)

#: Samples converted per read while streaming a trial to an SDK client.
READ_BLOCK = 2048
#: A datalog stream waits while more samples than this are queued and not committed.
BACKLOG_LIMIT = 100_000
_MESSAGE_LIMIT = 256 * 1024 * 1024


def _metadata(context: grpc.aio.ServicerContext, key: str) -> list[str]:
    return [v for k, v in (context.invocation_metadata() or ()) if k == key]


def _status_of(error: Exception) -> grpc.StatusCode:
    """A write the datastore could not make, as gRPC says it (a full disk is a resource exhausted)."""
    if isinstance(error, DiskFullError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    return grpc.StatusCode.FAILED_PRECONDITION


def _version_info() -> common_pb2.VersionInfo:
    from cogment_jupyter.datastore import __version__

    info = common_pb2.VersionInfo()
    info.versions.add(name="cogment_jupyter_trial_datastore", version=__version__)
    info.versions.add(name="cogment_api", version="2.0")
    return info


class DatalogServicer(datalog_pb2_grpc.DatalogSPServicer):
    """Receives trials as an orchestrator streams them (params first, then samples)."""

    def __init__(self, store: TrialStore) -> None:
        self._store = store

    async def RunTrialDatalog(
        self, request_iterator: AsyncIterator[datalog_pb2.RunTrialDatalogInput], context: grpc.aio.ServicerContext
    ) -> None:
        # context.read() costs about half of iterating request_iterator per message
        trial_ids = _metadata(context, "trial-id")
        if not trial_ids:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "RunTrialDatalog: missing required metadata 'trial-id'"
            )
        user_ids = _metadata(context, "user-id")
        trial_id, user_id = trial_ids[0], (user_ids[0] if user_ids else "")
        first = await context.read()
        if first is grpc.aio.EOF:
            return
        if first.WhichOneof("msg") != "trial_params":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "RunTrialDatalog: the first message must be 'trial_params' (got "
                f"{first.WhichOneof('msg') or 'an empty message'})",
            )
        writer = self._store.writer
        try:
            handle: OpenTrial = await asyncio.wrap_future(writer.create(trial_id, user_id, first.trial_params))
        except DatastoreError as error:  # a full disk, a read-only file: the orchestrator is told why
            await context.abort(_status_of(error), f"RunTrialDatalog: trial {trial_id} cannot be recorded: {error}")
        handle.kind = "datalog"
        log.debug("datalog: trial %s started (user %r)", trial_id, user_id)
        buffer = handle.buffer
        ended = TrialState.ENDED
        try:
            await context.write(datalog_pb2.RunTrialDatalogOutput())  # upstream acknowledges the params
            while True:
                message = await context.read()
                if message is grpc.aio.EOF:
                    break
                if not message.HasField("sample"):
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "RunTrialDatalog: after 'trial_params' every message must be a 'sample'",
                    )
                if handle.error is not None:  # samples were lost (a full disk): no use taking more
                    break
                sample = message.sample
                writer.add(handle, (sample,), urgent=sample.info.state == ended)
                while len(buffer) > BACKLOG_LIMIT:
                    await asyncio.sleep(0.005)
        finally:
            closing = asyncio.wrap_future(writer.close(handle))
            with contextlib.suppress(asyncio.CancelledError, Exception):  # (its error is the handle's)
                await asyncio.shield(closing)
            log.debug("datalog: trial %s stream closed", trial_id)
        if handle.error is not None:
            problem = f"RunTrialDatalog: trial {trial_id} is not recorded completely: {handle.error}"
            await context.abort(_status_of(handle.error), problem)

    async def Version(
        self, request: common_pb2.VersionRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.VersionInfo:
        return _version_info()

    async def Status(
        self, request: common_pb2.StatusRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StatusReply:
        return status_reply(request)


@dataclass(slots=True)
class _Cursor:
    trial_id: str
    seq: int
    converter: SampleConverter
    next: int = 0
    done: bool = False


class TrialDatastoreServicer(trial_datastore_pb2_grpc.TrialDatastoreSPServicer):
    """What the SDK's ``Datastore`` calls."""

    def __init__(self, store: TrialStore) -> None:
        self._store = store

    async def RetrieveTrials(
        self, request: trial_datastore_pb2.RetrieveTrialsRequest, context: grpc.aio.ServicerContext
    ) -> trial_datastore_pb2.RetrieveTrialsReply:
        """Trials after the ``trial_handle`` offset; with ``timeout`` wait for them to appear.

        Unlike upstream, a wait for explicit ids returns as soon as all of them exist (so the
        SDK's last ``all_trials`` page does not sit out the timeout), and an empty page hands
        back the request's handle (upstream answers "0").
        """
        try:
            offset = int(request.trial_handle or "0")
            if offset < 0:
                raise ValueError
        except ValueError:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Invalid value for `trial_handle` ({request.trial_handle!r}): leave it empty or use a "
                "`next_trial_handle` received from a previous call",
            )
        ids = list(dict.fromkeys(request.trial_ids))
        properties = dict(request.properties)
        count = request.trials_count
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.timeout / 1000.0
        while True:
            version = self._store.version
            # checked before the query so that the query sees every trial this check saw
            complete = bool(ids) and request.timeout > 0 and await asyncio.to_thread(self._all_exist, ids)
            records = await asyncio.to_thread(
                self._store.records, ids or None, properties=properties, after_seq=offset, limit=count
            )
            if request.timeout == 0 or (count and len(records) >= count) or complete:
                break  # (complete: all requested ids exist, nothing more can match)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._store.wait_changed(version, min(POLL, remaining))
        reply = trial_datastore_pb2.RetrieveTrialsReply(next_trial_handle=str(records[-1].seq if records else offset))
        for rec in records:
            info = reply.trial_infos.add(
                trial_id=rec.trial_id, last_state=rec.state, user_id=rec.user_id, samples_count=rec.samples
            )
            info.params.MergeFromString(rec.params_bytes or b"")
        return reply

    def _all_exist(self, ids: list[str]) -> bool:
        return len(self._store.records(ids, with_params=False)) >= len(ids)

    async def RetrieveSamples(
        self, request: trial_datastore_pb2.RetrieveSamplesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[trial_datastore_pb2.RetrieveSampleReply]:
        """Stored samples, then live ones, until every trial has its ENDED sample.

        Unlike upstream (which waits forever), a trial whose writer closed its stream or died
        without ENDED, or that is deleted, ends its part of the stream.
        """
        ids = list(dict.fromkeys(request.trial_ids))
        if not ids:
            return
        records = await asyncio.to_thread(self._store.records, ids)
        missing = sorted(set(ids) - {r.trial_id for r in records})
        if missing:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"RetrieveSamples: unknown trial id(s) {', '.join(missing)}; list them with RetrieveTrials",
            )
        cursors = [
            _Cursor(
                r.trial_id,
                r.seq,
                SampleConverter(
                    r.trial_id,
                    r.directory(),
                    actor_names=request.actor_names,
                    actor_classes=request.actor_classes,
                    actor_implementations=request.actor_implementations,
                    fields=request.selected_sample_fields,
                ),
            )
            for r in records
        ]
        while True:
            active = [c for c in cursors if not c.done]
            if not active:
                return
            version = self._store.version
            status = {
                r.trial_id: r
                for r in await asyncio.to_thread(self._store.records, [c.trial_id for c in active], with_params=False)
            }
            progressed = False
            for cur in active:
                samples = await asyncio.to_thread(self._read_block, cur)
                if samples:
                    progressed = True
                    for sample in samples:
                        yield trial_datastore_pb2.RetrieveSampleReply(trial_sample=sample)
                        if sample.state == TrialState.ENDED:
                            cur.done = True
                            break
                else:
                    rec = status.get(cur.trial_id)
                    if rec is None or not rec.live:
                        cur.done = True
            if not progressed:
                await self._store.wait_changed(version, POLL)

    def _read_block(self, cur: _Cursor) -> list[trial_datastore_pb2.StoredTrialSample]:
        table = self._store.read(cur.seq, cur.next, cur.next + READ_BLOCK)
        cur.next += table.num_rows
        return list(cur.converter.convert(table))

    async def AddTrial(
        self, request: trial_datastore_pb2.AddTrialRequest, context: grpc.aio.ServicerContext
    ) -> trial_datastore_pb2.AddTrialReply:
        trial_id = await self._trial_id(context)
        await asyncio.wrap_future(self._store.writer.create(trial_id, request.user_id, request.trial_params))
        return trial_datastore_pb2.AddTrialReply()

    async def AddSample(
        self, request_iterator: AsyncIterator[trial_datastore_pb2.AddSampleRequest], context: grpc.aio.ServicerContext
    ) -> trial_datastore_pb2.AddSamplesReply:
        trial_id = await self._trial_id(context)
        rec = await asyncio.to_thread(self._store.record, trial_id, with_params=False)
        if rec is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"AddSample: unknown trial {trial_id!r}; call AddTrial first"
            )
        handle = OpenTrial(
            rec.seq, trial_id, rec.directory(), kind="stored", samples=rec.samples, segments=None, returns=rec.returns
        )
        writer = self._store.writer
        try:
            async for request in request_iterator:
                sample = request.trial_sample
                if sample.trial_id and sample.trial_id != trial_id:
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "'AddSampleRequest.trial_sample.trial_id' should be left empty or match the "
                        f"'trial-id' metadata ({trial_id!r}), got {sample.trial_id!r}",
                    )
                sample.trial_id = trial_id
                ended = sample.state == TrialState.ENDED
                writer.add(handle, ((sample, sample.SerializeToString()),), urgent=ended)
        finally:
            await asyncio.shield(asyncio.wrap_future(writer.close(handle)))
        return trial_datastore_pb2.AddSamplesReply()

    async def DeleteTrials(
        self, request: trial_datastore_pb2.DeleteTrialsRequest, context: grpc.aio.ServicerContext
    ) -> trial_datastore_pb2.DeleteTrialsReply:
        from cogment_jupyter.datastore.writer import delete_trials

        ids = list(request.trial_ids)
        await asyncio.wrap_future(self._store.writer.call(lambda conn: delete_trials(conn, ids)))
        return trial_datastore_pb2.DeleteTrialsReply()

    async def Version(
        self, request: common_pb2.VersionRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.VersionInfo:
        return _version_info()

    async def Status(
        self, request: common_pb2.StatusRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StatusReply:
        return status_reply(request)

    @staticmethod
    async def _trial_id(context: grpc.aio.ServicerContext) -> str:
        ids = _metadata(context, "trial-id")
        if len(ids) != 1:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Missing expected 'trial-id' header metadata defining the id of the trial to add",
            )
        return ids[0]


class DatastoreServer:
    """Serves both services for one store on TCP ``host:port`` (port 0 picks a free one), or at
    ``address`` (``unix:/path`` or ``HOST:PORT``, see ``cogment_jupyter.access``)."""

    def __init__(
        self, store: TrialStore, host: str = "127.0.0.1", port: int = 0, *, address: str | None = None
    ) -> None:
        self.store = store
        self.host = host
        self.port = port
        self.address = address or Reach(host).address("datastore", port)
        self._endpoint = ""
        self._server: grpc.aio.Server | None = None

    @property
    def endpoint(self) -> str:
        """What to put in ``datalog.endpoint`` or ``Endpoint(...)`` (once started)."""
        return self._endpoint

    async def start(self) -> int:
        """Bind and serve; returns the TCP port (0 on a Unix socket)."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
                ("grpc.max_send_message_length", _MESSAGE_LIMIT),
                ("grpc.so_reuseport", 0),
            ]
        )
        datalog_pb2_grpc.add_DatalogSPServicer_to_server(DatalogServicer(self.store), server)
        trial_datastore_pb2_grpc.add_TrialDatastoreSPServicer_to_server(TrialDatastoreServicer(self.store), server)
        try:
            self._endpoint = bind(server, self.address)
        except OSError as exc:
            raise DatastoreError(
                f"{exc}; choose another port (--port / COGMENT_TRIAL_DATASTORE_PORT, or port=0 for a free one)"
            ) from exc
        await server.start()
        self.port = port_of(self._endpoint)
        self._server = server
        log.info("trial datastore serving %s on %s", self.store.file, self.endpoint)
        return self.port

    async def stop(self, grace: float | None = 1.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        await asyncio.wrap_future(self.store.writer.flush())

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    async def __aenter__(self) -> DatastoreServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
