"""Running a lab's trials: start one (or a batch), follow it to its end and its record, let
clients join it, end it. A trial runs on the lab's own orchestrator when every part of it is
here, else on the orchestrator the lab is attached to or shares (``remote``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.base import Actor
from cogment_jupyter.adapters.trial_codec import FORMAT_KEY
from cogment_jupyter.engine.ids import new_seed, new_trial_id, trial_id_problem
from cogment_jupyter.engine.lean import runs_lean
from cogment_jupyter.engine.records import EXTERNALLY_REQUESTED, INTERRUPTED, TrialState
from cogment_jupyter.lab.batch import TaskBatch, TrialBatch, close_quietly
from cogment_jupyter.lab.handles import Handles, TrialHandle
from cogment_jupyter.lab.inline_batch import InlineBatch, OpenTrial, runs_inline
from cogment_jupyter.lab.interrupts import TrialsInterrupted, wait_quietly
from cogment_jupyter.lab.protocols import COGMENT_LAB
from cogment_jupyter.lab.trial_options import TrialOptions
from cogment_jupyter.lab.trial_params import CLIENT, TrialParamsMaker, UnseededParams, agents_of, seed_of_actor
from cogment_jupyter.proto import common_pb2
from cogment_jupyter.transport.batch_setup import BatchSetup
from cogment_jupyter.transport.client_actor import join_over_grpc
from cogment_jupyter.transport.inprocess import InProcessActor
from cogment_jupyter.transport.lean import InProcessEpisode

if TYPE_CHECKING:
    from cogment_jupyter.engine.orchestrator import Orchestrator
    from cogment_jupyter.engine.trial import Trial
    from cogment_jupyter.lab.lab import Lab
    from cogment_jupyter.lab.loop_thread import LoopThread
    from cogment_jupyter.lab.servers import LabServers

#: how long ``join`` waits for a trial to accept clients
JOIN_TIMEOUT = 30.0


def trial_arguments(options: dict[str, Any]) -> tuple[TrialOptions, int | None, str | None]:
    """``start_trial``'s keywords as its options, seed and trial id."""
    seed = options.pop("seed", None)
    trial_id = options.pop("trial_id", None)
    return TrialOptions.of(options), seed, trial_id


@dataclass(frozen=True)
class BatchOrder:
    """What ``run_trials`` asks for: ``n`` trials of ``env`` played by ``actors``, ``concurrency``
    at a time, trial ``i`` seeded ``seed + 1000 * i`` (without ``seed``, fresh seeds)."""

    n: int
    env: str
    actors: str | Mapping[str, str]
    options: TrialOptions
    concurrency: int = 8
    progress: bool = True
    seed: int | None = None


class TrialRunner:
    """Starts, runs, joins and ends the trials of one lab, and keeps their handles."""

    def __init__(
        self,
        lab: Lab,
        loop_thread: Callable[[], LoopThread],
        handles: Handles,
        params: TrialParamsMaker,
        servers: LabServers,
    ) -> None:
        """``lab``: the owner of the handles, and what its user set (``user_id``; ``directory``,
        whose discovery endpoints the lab resolves before a trial goes to another orchestrator;
        ``shared_datalog``, what records a trial sent to the shared runtime instead of the lab's
        datastore); ``loop_thread``: the lab's loop (raises once it is closed); ``servers``: the
        lab's orchestrator (None when attached), where it serves, the other orchestrator
        (attached or shared) and the datastore."""
        self._lab = lab
        self._loop_thread = loop_thread
        self._handles = handles
        self._params = params
        self._orchestrator = servers.orchestrator
        self._endpoint = servers.endpoint
        self._served = servers.components.services
        self._remote = servers.remote
        self._datastore = servers.datastore
        self._datastore_endpoint = servers.datastore_endpoint
        self._user_id = lab.user_id
        self._resolve_endpoints = bool(lab.directory)
        self._shared_datalog = lab.shared_datalog

    # -- one trial ----------------------------------------------------------------------------

    def start(
        self,
        env: str,
        actors: str | Mapping[str, str],
        options: TrialOptions,
        seed: int | None = None,
        trial_id: str | None = None,
        clients_here: bool = False,
    ) -> TrialHandle:
        """Start a trial, returning its handle at once; ``clients_here``: this kernel fills the
        client slots itself (a play widget), so they do not send the trial to a shared orchestrator."""
        loop_thread = self._loop_thread()
        handle, params = self.new_trial(env, actors, new_seed() if seed is None else seed, trial_id, options)
        loop_thread.submit(self.run(handle, params, clients_here=clients_here))
        return handle

    async def astart(
        self, env: str, actors: str | Mapping[str, str], options: TrialOptions, seed: int | None, trial_id: str | None
    ) -> TrialHandle:
        """Start a trial, returning once the orchestrator has accepted it (or refused it: the
        handle then says why)."""
        loop_thread = self._loop_thread()
        handle, params = self.new_trial(env, actors, new_seed() if seed is None else seed, trial_id, options)
        accepted: concurrent.futures.Future[None] = concurrent.futures.Future()
        loop_thread.submit(self.run(handle, params, on_started=lambda: _resolve(accepted)))
        await asyncio.wrap_future(accepted)
        return handle

    def new_trial(
        self,
        env: str,
        actors: str | Mapping[str, str],
        seed: int,
        trial_id: str | None,
        options: TrialOptions,
        template: UnseededParams | None = None,
    ) -> tuple[TrialHandle, common_pb2.TrialParams]:
        """A trial's handle and params (``template``: its params made without a seed, the same
        for every trial of a batch, to which the seeds are added)."""
        if template is None:
            params = self._params.make(env, actors, seed, options)
            agents = agents_of(params)
        else:
            params = template.seeded(seed)
            agents = template.agents  # (shared by the batch's handles, which copy it when asked)
        if not trial_id:
            trial_id = new_trial_id()
        elif (problem := trial_id_problem(trial_id)) is not None:
            raise ValueError(problem)
        elif self._datastore is not None and self._datastore.store.record(trial_id, with_params=False):
            raise ValueError(f"trial id {trial_id!r} is already used: {self._datastore.file} has a trial of that id")
        handle = TrialHandle(self._lab, trial_id, env, agents, seed)
        self._handles.add(handle)
        return handle, params

    def runs_here(self, params: common_pb2.TrialParams, clients_here: bool = False) -> bool:
        """Whether every part of a trial is served in this kernel (the in-process fast path);
        with ``clients_here``, client slots count as here (this kernel's widgets fill them)."""
        here = self._endpoint
        ours = (here, CLIENT) if clients_here else (here,)
        return params.environment.endpoint == here and all(a.endpoint in ours for a in params.actors)

    async def run(
        self,
        handle: TrialHandle,
        params: common_pb2.TrialParams,
        on_ended: Callable[[], None] | None = None,
        clients_here: bool = False,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        """Run a trial to its end and until it is recorded; ``on_started`` is called once the
        orchestrator has it (or refused it), ``on_ended`` once it ended (a batch lets the next
        trial start while the datastore writes this one)."""
        orchestrator = self._orchestrator
        handle.remote = orchestrator is None or (self._remote is not None and not self.runs_here(params, clients_here))
        if handle.remote and self._shared_datalog and params.datalog.endpoint == self._datastore_endpoint:
            params.datalog.endpoint = self._shared_datalog  # the runtime records it, even if this kernel goes
        try:
            if orchestrator is not None and not handle.remote:
                trial = await self.open_here(handle, params)
                trial.start()
                if on_started is not None:
                    on_started()
                if on_ended is not None:
                    await trial.wait_ended()
                    on_ended()
                    on_ended = None
                await trial.wait_recorded()
            else:
                assert self._remote is not None
                if self._resolve_endpoints and orchestrator is not None:  # (the shared runtime may know no directory)
                    params = await orchestrator.with_resolved_endpoints(params)
                await self._remote.run(handle, params, self._user_id, on_started)
        except Exception as error:
            self._over(handle, error)
            return
        finally:
            if on_ended is not None:
                on_ended()
            if on_started is not None:
                on_started()  # (a trial refused or failed at its start: its handle says why)
        self._over(handle, None)

    async def open_here(self, handle: TrialHandle, params: common_pb2.TrialParams) -> Trial:
        """The trial of ``handle`` on the lab's own orchestrator, for its caller to run."""
        assert self._orchestrator is not None
        trial = await self._orchestrator.open_trial(params=params, trial_id_requested=handle.id, user_id=self._user_id)
        if trial is None:
            raise RuntimeError(f"the orchestrator refused trial id {handle.id!r} (already used)")
        handle.attach(trial)
        return trial

    def _over(self, handle: TrialHandle, error: Exception | None) -> None:
        """A trial is over and recorded, or could not run or be followed (``error``): its handle says so."""
        if error is not None:
            handle.fail(str(error))
        else:
            handle.finish()
        self._handles.finished(handle)

    # -- a batch ------------------------------------------------------------------------------

    def run_batch(self, order: BatchOrder) -> list[TrialHandle]:
        """Run a batch and wait for it (the caller's thread only waits); an interrupt stops the
        batch and says how far it got."""
        batch, future = self.submit_batch(order)
        try:
            return future.result()
        except KeyboardInterrupt:
            raise TrialsInterrupted(self._stop_batch(batch, future)) from None

    async def arun_batch(self, order: BatchOrder) -> list[TrialHandle]:
        """``run_batch`` without blocking the caller's event loop; cancelling it stops the batch."""
        batch, future = self.submit_batch(order)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self._loop_thread().call(batch.stop, self._cancel_interrupted)
            raise

    def submit_batch(self, order: BatchOrder) -> tuple[TrialBatch, concurrent.futures.Future[list[TrialHandle]]]:
        """The batch, running on the lab's loop."""
        loop_thread = self._loop_thread()
        if order.n < 0:
            raise ValueError(f"n must be >= 0, got {order.n}")
        if order.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {order.concurrency}")
        # the params of every trial but their seeds (bad arguments fail here, in the caller)
        made = self._params.make(order.env, order.actors, None, order.options)
        # (Lab's configs carry their seeds in Lab's own messages: each trial's params made whole)
        template = UnseededParams(made) if made.properties.get(FORMAT_KEY) != COGMENT_LAB else None
        bar = _progress(order.n, f"trials of {order.env}") if order.progress else None
        new_trial = functools.partial(self._batch_trial, order, template)
        batch: TrialBatch
        inline = template is not None and runs_inline(made, self._served, self._endpoint)
        if self._orchestrator is not None and inline:
            prepare = functools.partial(self._inline_opener, made)
            batch = InlineBatch(order.n, new_trial, prepare, self._over, bar, self._hold_records)
        else:
            batch = TaskBatch(order.n, order.concurrency, new_trial, self._run_in_batch, bar, self._hold_records)
        future = loop_thread.submit(batch.run())
        future.add_done_callback(lambda _: close_quietly(bar))
        return batch, future

    def _batch_trial(
        self, order: BatchOrder, template: UnseededParams | None, i: int
    ) -> tuple[TrialHandle, common_pb2.TrialParams]:
        """Trial ``i`` of a batch: seeded ``order.seed + 1000 * i`` (fresh without a seed)."""
        seed = new_seed() if order.seed is None else order.seed + 1000 * i
        return self.new_trial(order.env, order.actors, seed, None, order.options, template)

    def _run_in_batch(
        self, handle: TrialHandle, params: common_pb2.TrialParams, on_ended: Callable[[], None]
    ) -> Awaitable[None]:
        return self.run(handle, params, on_ended=on_ended)

    async def _inline_opener(self, template: common_pb2.TrialParams) -> OpenTrial:
        """What opens each trial of an inline batch on the lab's orchestrator, from the
        blueprint of ``template`` (the batch's params but the seeds); a lean episode's
        components start from the batch's setup, with the trial's seeds."""
        orchestrator = self._orchestrator
        assert orchestrator is not None
        blueprint = await orchestrator.blueprint(template)
        user_id = self._user_id
        recorded = bool(template.datalog.endpoint)
        lean = orchestrator.fused_ticks and orchestrator.lean_episodes and runs_lean(template, recorded)
        setup = BatchSetup.of(self._served, template) if lean else None

        def open_trial(handle: TrialHandle, params: common_pb2.TrialParams) -> Trial:
            trial = (
                blueprint.open_lean(handle.id, user_id, params, InProcessEpisode)
                if lean
                else blueprint.open(handle.id, user_id, params)
            )
            if trial is None:
                raise RuntimeError(f"the orchestrator refused trial id {handle.id!r} (already used)")
            seed = handle.seed  # (its params' seeds: UnseededParams.seeded)
            if setup is not None and seed is not None and type(trial) is InProcessEpisode:
                trial.prepare(setup, seed, seed_of_actor(seed, 0))
            handle.attach(trial)
            return trial

        return open_trial

    def _hold_records(self) -> Callable[[], None]:
        """Have the records of the trials to come written together (``Recorder.hold``); returns
        what ends that."""
        if self._datastore is None:
            return lambda: None
        from cogment_jupyter.datastore.inprocess import Recorder

        recorder = Recorder.of(self._datastore.store)
        recorder.hold()
        return recorder.release

    def _stop_batch(self, batch: TrialBatch, future: concurrent.futures.Future[Any]) -> str:
        """After an interrupt: no new trials, the running ones cancelled and recorded; the summary line."""
        self._loop_thread().call(batch.stop, self._cancel_interrupted)
        wait_quietly(future)
        close_quietly(batch.bar)
        return batch.summary()

    def _cancel_interrupted(self, trial_ids: list[str]) -> None:
        self.terminate(trial_ids, hard=True, details=INTERRUPTED)

    # -- clients and ending -------------------------------------------------------------------

    def join(self, trial_id: str, agent: str, actor: Actor) -> concurrent.futures.Future[None]:
        """Fill ``agent``'s client slot with ``actor``; resolved when the actor's part is over."""
        return self._loop_thread().submit(self._join(trial_id, agent, actor))

    async def _join(self, trial_id: str, agent: str, actor: Actor) -> None:
        connection = InProcessActor({agent: actor}, trial_id)
        handle = self._handles.get(trial_id)
        orchestrator = self._orchestrator
        if orchestrator is None or (handle is not None and handle.remote):
            assert self._remote is not None
            await self._remote.until_pending(trial_id, JOIN_TIMEOUT)
            await join_over_grpc(self._remote.channel, trial_id, connection, actor_name=agent)
            return
        trial = await self._until_pending(orchestrator, trial_id)
        _, slot = orchestrator.join_client(trial_id, agent, None)
        await slot.connection.attach(connection)
        await trial.wait_ended()

    @staticmethod
    async def _until_pending(orchestrator: Orchestrator, trial_id: str) -> Trial:
        """The trial, once the lab's orchestrator has it PENDING (clients may join from then on)."""
        joinable = [state for state in TrialState if state >= TrialState.PENDING]
        try:
            async with asyncio.timeout(JOIN_TIMEOUT):
                async with contextlib.aclosing(orchestrator.watch(joinable)) as events:
                    async for event in events:
                        if event.trial.id == trial_id:
                            return event.trial
        except TimeoutError:
            pass
        raise TimeoutError(f"trial {trial_id} did not start within {JOIN_TIMEOUT:.0f} s")

    def terminate(self, trial_ids: Iterable[str], *, hard: bool = True, details: str = EXTERNALLY_REQUESTED) -> None:
        """End trials: those of the lab's orchestrator there, the others on the remote one."""
        trial_ids = list(trial_ids)
        loop_thread = self._loop_thread()
        orchestrator = self._orchestrator
        remote = [i for i in trial_ids if orchestrator is None or getattr(self._handles.get(i), "remote", False)]
        local = [i for i in trial_ids if i not in remote]
        if local and orchestrator is not None:
            loop_thread.call(functools.partial(orchestrator.terminate, local, hard=hard, details=details))
        if remote and self._remote is not None:
            loop_thread.submit(self._remote.terminate(remote, hard))


def _resolve(future: concurrent.futures.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _progress(total: int, description: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="trial")
