"""Trials a lab runs on another orchestrator (attached to one, or the Jupyter server's shared runtime).

The lab follows them as any Cogment client does: their states from ``WatchTrials``, their live
tick from ``GetTrialInfo`` (one call for all of them, a few times a second, while any runs).
``handle.wait()`` promises the trial's data is stored where the lab reads: the trial's
datalog is asked when it holds the whole trial, then the lab's own datastore must have it too
(it is the same file when the lab reads the directory the datalog writes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc

from cogment_jupyter.engine.endpoints import parse_endpoint
from cogment_jupyter.engine.records import TrialState
from cogment_jupyter.proto import (
    common_pb2,
    orchestrator_pb2,
    orchestrator_pb2_grpc,
    trial_datastore_pb2,
    trial_datastore_pb2_grpc,
)

if TYPE_CHECKING:
    from cogment_jupyter.channels import ChannelPool
    from cogment_jupyter.datastore.store import TrialStore
    from cogment_jupyter.lab.handles import TrialHandle

log = logging.getLogger(__name__)

#: How long a trial that ended may take to appear in the lab's datastore (seconds).
STORED_TIMEOUT = 30.0
#: Once the trial's datalog holds the whole trial, how long the lab's own datastore may lag.
SAME_FILE_GRACE = 1.0
#: Seconds between two reads of the running trials' ticks (polled: Cogment's ``WatchTrials``
#: streams a trial's state changes, never its ticks, so ``GetTrialInfo`` must be asked).
TICK_POLL = 0.2
#: Trial ids per ``GetTrialInfo`` call (gRPC caps a call's metadata at 8 KiB).
IDS_PER_CALL = 100
#: Seconds between two looks at the datastore file for a record another process commits: SQLite
#: tells no other process of a commit (``PRAGMA data_version`` too must be asked), so that is
#: polled; this process's own commits wake the wait at once.
OTHER_WRITERS_POLL = 0.05


class RemoteTrials:
    """Runs and follows a lab's trials on the orchestrator behind ``lifecycle``."""

    def __init__(
        self, channel: grpc.aio.Channel, endpoint: str, channels: ChannelPool, store: TrialStore | None
    ) -> None:
        """``channel``: to the orchestrator at ``endpoint``; ``channels``: to the datalogs its trials name."""
        self.channel = channel
        self.lifecycle = orchestrator_pb2_grpc.TrialLifecycleSPStub(channel)
        self.endpoint = endpoint
        self._channels = channels
        self._store = store
        self._running: dict[str, TrialHandle] = {}
        self._ticks: asyncio.Task[None] | None = None

    async def run(
        self,
        handle: TrialHandle,
        params: common_pb2.TrialParams,
        user_id: str,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        """Start the trial, follow it to its end, then until its record is readable here
        (``on_started`` once the orchestrator took it)."""
        watch = self.lifecycle.WatchTrials(orchestrator_pb2.TrialListRequest(full_info=True))
        try:
            request = orchestrator_pb2.TrialStartRequest(params=params, user_id=user_id, trial_id_requested=handle.id)
            reply = await self.lifecycle.StartTrial(request)
            if not reply.trial_id:
                raise RuntimeError(f"the orchestrator refused trial id {handle.id!r}")
            if on_started is not None:
                on_started()
            self._follow_ticks(handle)
            async for entry in watch:
                if entry.info.trial_id == handle.id:
                    if entry.info.state == common_pb2.ENDED:
                        self._running.pop(handle.id, None)
                    handle.observe(TrialState(entry.info.state), entry.info.tick_id)
                    if entry.info.state == common_pb2.ENDED:
                        break
        except grpc.aio.AioRpcError as error:
            raise RuntimeError(f"{self.endpoint}: {error.details()}") from error
        finally:
            self._running.pop(handle.id, None)
            watch.cancel()
        problem = await self.until_stored(handle.id, params.datalog.endpoint)
        if problem is not None:
            log.warning("Trial [%s]: %s", handle.id, problem)
            handle.add_error(problem)

    async def until_pending(self, trial_id: str, timeout: float) -> None:
        """Clients may join once the trial is PENDING on the other orchestrator (its ``WatchTrials``
        tells the current state of every trial, then each change)."""
        joinable = [common_pb2.PENDING, common_pb2.RUNNING, common_pb2.TERMINATING, common_pb2.ENDED]
        watch = self.lifecycle.WatchTrials(orchestrator_pb2.TrialListRequest(filter=joinable))
        try:
            async with asyncio.timeout(timeout):
                async for entry in watch:
                    if entry.trial_id == trial_id:
                        return
        except TimeoutError:
            pass
        finally:
            watch.cancel()
        raise TimeoutError(f"trial {trial_id} did not start on {self.endpoint} within {timeout:.0f} s")

    async def terminate(self, trial_ids: list[str], hard: bool) -> None:
        """``TerminateTrial`` on the other orchestrator."""
        metadata = tuple(("trial-id", i) for i in trial_ids)
        await self.lifecycle.TerminateTrial(
            orchestrator_pb2.TerminateTrialRequest(hard_termination=hard), metadata=metadata
        )

    # -- live ticks -------------------------------------------------------------------------------

    def _follow_ticks(self, handle: TrialHandle) -> None:
        self._running[handle.id] = handle
        if self._ticks is None or self._ticks.done():
            self._ticks = asyncio.get_running_loop().create_task(self._poll_ticks(), name="remote trial ticks")

    async def _poll_ticks(self) -> None:
        while self._running:
            ids = list(self._running)
            for start in range(0, len(ids), IDS_PER_CALL):
                metadata = tuple(("trial-id", trial_id) for trial_id in ids[start : start + IDS_PER_CALL])
                try:
                    reply = await self.lifecycle.GetTrialInfo(
                        orchestrator_pb2.TrialInfoRequest(), metadata=metadata, timeout=5.0
                    )
                except grpc.aio.AioRpcError:
                    continue  # the watch reports what matters; ticks come back with the orchestrator
                for info in reply.trial:
                    handle = self._running.get(info.trial_id)  # (not one that ended meanwhile)
                    if handle is not None:
                        handle.observe(TrialState(info.state), info.tick_id)
            await asyncio.sleep(TICK_POLL)

    async def close(self) -> None:
        self._running.clear()
        if self._ticks is not None:
            self._ticks.cancel()

    # -- the record -------------------------------------------------------------------------------

    async def until_stored(self, trial_id: str, datalog: str) -> str | None:
        """Wait until a trial that ran on the other orchestrator can be read from this lab's
        datastore; the reason it cannot (None when it can, or when it was not recorded)."""
        store = self._store
        if not datalog or store is None:
            return None
        datastore = trial_datastore_pb2_grpc.TrialDatastoreSPStub(
            self._channels.get(parse_endpoint(datalog, role="datalog").address)
        )
        deadline = time.monotonic() + STORED_TIMEOUT
        held_since: float | None = None  # when the datalog's datastore held the whole trial
        unreachable = None
        while time.monotonic() < deadline:
            version = store.version  # a commit of this process wakes the wait below at once
            record = await asyncio.to_thread(store.record, trial_id, with_params=False)
            if record is not None and record.ended:
                return None
            if record is not None and record.interrupted:
                return f"the trial's record in {store.file} is incomplete: its writer closed it before the end"
            if held_since is None:
                try:
                    state = await _recorded_state(datastore, trial_id)
                except grpc.aio.AioRpcError as error:
                    if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                        return None  # a datalog that is no datastore: what it keeps, no lab can read
                    unreachable = f"{error.code().name}: {error.details()}"
                else:
                    if state == common_pb2.ENDED:
                        held_since = time.monotonic()
            elif time.monotonic() - held_since > SAME_FILE_GRACE:
                return (
                    f"the trial is recorded by the datastore at {datalog}, not in this lab's datastore "
                    f"({store.file}): read it from the datastore served there"
                )
            await store.wait_changed(version, OTHER_WRITERS_POLL)
        where = f" (the datalog at {datalog} does not answer: {unreachable})" if unreachable else ""
        return (
            f"the trial ended, but its record did not reach this lab's datastore ({store.file}) within "
            f"{STORED_TIMEOUT:.0f} s{where}; the orchestrator sent it to {datalog}"
        )


async def _recorded_state(datastore: trial_datastore_pb2_grpc.TrialDatastoreSPStub, trial_id: str) -> int | None:
    """The last state a datastore holds for a trial (None: it holds nothing yet)."""
    reply = await datastore.RetrieveTrials(
        trial_datastore_pb2.RetrieveTrialsRequest(trial_ids=[trial_id], timeout=0), timeout=5.0
    )
    for info in reply.trial_infos:
        if info.trial_id == trial_id:
            return info.last_state
    return None
