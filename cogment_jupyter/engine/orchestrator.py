"""The trial table: start, terminate, look up and watch trials (``cogment-protocol.md`` §2, §8, §9).

Transport-free: the gRPC servicers (``transport.servicers``) and the kernel lab both call
this class directly, on the loop that owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cogment_jupyter.engine.components import ComponentFactory
from cogment_jupyter.engine.endpoints import EndpointKind, parse_endpoint
from cogment_jupyter.engine.errors import InvalidTrialId, OrchestratorError
from cogment_jupyter.engine.ids import new_trial_id, trial_id_problem
from cogment_jupyter.engine.lean import LeanEpisode
from cogment_jupyter.engine.records import EXTERNALLY_REQUESTED, ORCHESTRATOR_SHUTDOWN, TrialState
from cogment_jupyter.engine.trial import ActorSlot, Trial
from cogment_jupyter.proto.common_pb2 import TrialParams

log = logging.getLogger(__name__)

DEFAULT_ENV_NAME = "env"

#: (a module constant: an enum member looked up on its class costs more than the comparison)
_ENDED = TrialState.ENDED


def _name_environment(params: TrialParams) -> None:
    """Give an unnamed environment the protocol's default name (in place)."""
    if not params.environment.name:
        params.environment.name = DEFAULT_ENV_NAME


def _validate(params: TrialParams) -> None:
    """What the orchestrator refuses before connecting anything."""
    if not params.actors:
        raise OrchestratorError("No Actor defined in parameters")
    env_name = params.environment.name
    seen: set[str] = set()
    for index, actor in enumerate(params.actors):
        if not actor.name or not actor.actor_class:
            raise OrchestratorError(
                f"Actor at index [{index}] needs both a name and an actor_class (got [{actor.name}], "
                f"[{actor.actor_class}])"
            )
        if actor.name in seen:
            raise OrchestratorError(f"Duplicate actor name [{actor.name}]: actor names must be unique")
        if actor.name == env_name:
            raise OrchestratorError(f"Actor name [{actor.name}] is the environment's name; rename one")
        seen.add(actor.name)


@dataclass(frozen=True, slots=True)
class _Endpoints:
    """Where a trial's components are, once discovery endpoints are resolved (its params keep them as written)."""

    environment: str
    actors: list[str]
    datalog: str


#: an actor slot's fields from the params but its config and connection: index, name, class,
#: implementation, whether it has a config, optional, default action, timeouts (initial, response)
_SlotFields = tuple[int, str, str, str, bool, bool, "bytes | None", float, float]


def _slot_fields(params: TrialParams) -> list[_SlotFields]:
    return [
        (
            index,
            actor.name,
            actor.actor_class,
            actor.implementation,
            actor.HasField("config"),
            actor.optional,
            actor.default_action.content if actor.HasField("default_action") else None,
            actor.initial_connection_timeout,
            actor.response_timeout,
        )
        for index, actor in enumerate(params.actors)
    ]


class TrialBlueprint:
    """The trials of one batch, their seeds apart: params checked and endpoints resolved once
    (:meth:`Orchestrator.blueprint`), and how a lean episode's parts are made."""

    __slots__ = ("_endpoints", "_lean_slot", "_makers", "_orchestrator", "_slots", "_unnamed")

    def __init__(
        self, orchestrator: Orchestrator, endpoints: _Endpoints, slots: list[_SlotFields], unnamed: bool = False
    ) -> None:
        """``unnamed``: the batch's environment has no name (each trial's is given the default)."""
        self._orchestrator = orchestrator
        self._endpoints = endpoints
        self._slots = slots
        self._unnamed = unnamed
        (_, name, actor_class, implementation, _, _, _, _, response_timeout) = slots[0]
        #: the first actor's name, class, implementation and response timeout (a lean episode's one actor)
        self._lean_slot = (name, actor_class, implementation, response_timeout)
        #: what makes a lean episode's environment, actor and datalog (made at its first episode)
        self._makers: tuple[Callable[[str], Any], Callable[[str], Any], Callable[[str], Any]] | None = None

    def open(self, trial_id: str, user_id: str, params: TrialParams) -> Trial | None:
        """:meth:`Orchestrator.open_trial` of ``params`` (the blueprint's, seeds apart, which the
        trial now owns: they are not copied) as ``trial_id``, without waiting; None if the id is taken."""
        orchestrator = self._orchestrator
        trial_id = orchestrator._claim(trial_id)  # type: ignore[assignment]
        if trial_id is None:
            return None
        if self._unnamed:
            _name_environment(params)
        trial = orchestrator._build_trial(trial_id, user_id, params, self._endpoints, self._slots)
        orchestrator._configure(trial)
        return trial

    def open_lean(
        self, trial_id: str, user_id: str, params: TrialParams, episode: type[LeanEpisode]
    ) -> LeanEpisode | Trial | None:
        """:meth:`open`, as an ``episode`` (a :class:`~cogment_jupyter.engine.lean.LeanEpisode`
        of the components the factory makes for it) when its datalog takes rows, else as a ``Trial``."""
        orchestrator = self._orchestrator
        endpoints = self._endpoints
        if not endpoints.datalog:
            return self.open(trial_id, user_id, params)
        claimed = orchestrator._claim(trial_id)
        if claimed is None:
            return None
        if self._unnamed:
            _name_environment(params)
        makers = self._makers
        if makers is None:
            makers = self._makers = orchestrator.factory.makers(
                (endpoints.environment, params.environment.implementation),
                (endpoints.actors[0], self._lean_slot[2]),
                endpoints.datalog,
            )
        make_environment, make_actor, make_datalog = makers
        datalog = make_datalog(claimed)
        if datalog is None or not datalog.accepts_rows:
            trial = orchestrator._build_trial(claimed, user_id, params, endpoints, self._slots)
            orchestrator._configure(trial)
            return trial
        return episode(
            claimed,
            user_id,
            params,
            make_environment(claimed),
            make_actor(claimed),
            self._lean_slot,
            datalog,
            orchestrator._on_state,
            orchestrator._adopt,
        )


@dataclass(frozen=True, slots=True)
class TrialEvent:
    """One state transition, as seen by watchers."""

    trial: Trial
    state: TrialState
    tick_id: int
    duration_ns: int


def _event(trial: Trial) -> TrialEvent:
    return TrialEvent(trial, trial.state, trial.tick_id, trial.duration_ns)


def _table_callbacks(
    trials: dict[str, Trial],
    live: dict[str, Trial],
    ended: OrderedDict[str, Trial],
    watchers: list[tuple[frozenset[TrialState], asyncio.Queue[TrialEvent | None]]],
) -> tuple[Callable[[Trial], None], Callable[[Trial], None]]:
    """What a trial tells the orchestrator's table: its state changed; it was handed over.

    Made once for every trial, as functions of the table rather than methods of the
    orchestrator: a bound method made for each trial would be two more objects a trial (every
    ended trial the table keeps holds them) for the garbage collector to walk, and what a trial
    holds is then the table, not the orchestrator and all it refers to.
    """

    def on_state(trial: Trial) -> None:
        """The table takes a trial at its first state and files it as ended at its end; a change
        in between is only for the watchers (with none, it costs a look-up: every trial changes
        state five times)."""
        trial_id = trial.id
        if trial.state == _ENDED:
            live.pop(trial_id, None)
            ended[trial_id] = trial
            trials.setdefault(trial_id, trial)
        elif trial_id not in live:
            live[trial_id] = trial
            trials.setdefault(trial_id, trial)
        if watchers:
            event = _event(trial)
            for wanted, queue in watchers:
                if not wanted or event.state in wanted:
                    queue.put_nowait(event)

    def adopt(trial: Trial) -> None:
        """A lean episode was handed to the engine: its ``Trial`` takes its place in the table."""
        trials[trial.id] = trial
        (ended if trial.state == _ENDED else live)[trial.id] = trial

    return on_state, adopt


class Orchestrator:
    """Owns every trial of one orchestrator instance."""

    def __init__(
        self,
        factory: ComponentFactory,
        *,
        default_params: TrialParams | None = None,
        pre_trial_hooks: Sequence[str] = (),
        gc_frequency: int = 10,
        gc_interval: float = 5.0,
        ended_retention: float = 300.0,
        max_ended: int = 1000,
        fused_ticks: bool = True,
    ) -> None:
        """``fused_ticks``: whether trials whose parts are all in-process objects may run on
        their environment's fused loop (False: every trial runs on the engine's tick loop)."""
        self.factory = factory
        self.fused_ticks = fused_ticks
        #: whether an inline batch's plain episodes run lean (``engine.lean``); only with the
        #: fused loop. Off: they run as the engine's trials (what the lean runner is compared with)
        self.lean_episodes = True
        self.default_params = default_params or TrialParams()
        self.pre_trial_hooks = list(pre_trial_hooks)
        self.gc_frequency = max(1, gc_frequency)
        self.gc_interval = gc_interval
        self.ended_retention = ended_retention
        #: ended trials kept at most (the oldest go first): a lab running thousands of short
        #: trials a minute must not keep them all, nor make every garbage collection walk them
        self.max_ended = max_ended
        self.trials: dict[str, Trial] = {}
        #: the same trials split by whether they ended, ended ones in the order they ended, so a
        #: collection walks only live trials and the ended ones it forgets (not 1,000 every 10 starts)
        self._live: dict[str, Trial] = {}
        #: (an OrderedDict: its oldest entry is found at once, where a dict whose front entries
        #: were deleted skips over every one of them, ~1,000 at each look with a full table)
        self._ended: OrderedDict[str, Trial] = OrderedDict()
        self._reserved: set[str] = set()
        self._watchers: list[tuple[frozenset[TrialState], asyncio.Queue[TrialEvent | None]]] = []
        #: what every trial calls back (see _table_callbacks)
        self._on_state, self._adopt = _table_callbacks(self.trials, self._live, self._ended, self._watchers)
        self._nb_starts = 0
        self._gc_task: asyncio.Task[None] | None = None
        self._closed = False

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the periodic garbage collector (stale trials end without new starts)."""
        if self._gc_task is None and self.gc_interval > 0:
            self._gc_task = asyncio.get_running_loop().create_task(self._gc_forever())

    async def shutdown(self) -> None:
        """Hard-terminate every live trial and stop background work."""
        self._closed = True
        if self._gc_task is not None:
            self._gc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gc_task
        for trial in list(self.trials.values()):
            trial.hard_terminate(ORCHESTRATOR_SHUTDOWN)
        for _, queue in self._watchers:
            queue.put_nowait(None)
        await self.factory.close()

    # ----------------------------------------------------------------- StartTrial

    async def start_trial(
        self,
        *,
        params: TrialParams | None = None,
        config: bytes | None = None,
        trial_id_requested: str = "",
        user_id: str = "",
    ) -> str:
        """Start a trial and return its id ("" if the requested id is taken), §2.1.

        A requested id that could not reach the trial's components (see ``trial_id_problem``)
        is refused here rather than failing every one of them later.
        """
        trial = await self.open_trial(
            params=params, config=config, trial_id_requested=trial_id_requested, user_id=user_id
        )
        if trial is None:
            return ""
        trial.start()
        return trial.id

    async def open_trial(
        self,
        *,
        params: TrialParams | None = None,
        config: bytes | None = None,
        trial_id_requested: str = "",
        user_id: str = "",
    ) -> Trial | None:
        """:meth:`start_trial`, but the caller drives the trial (:meth:`Trial.run`, in its own
        task: a batch running trials back to back); None if the requested id is taken."""
        trial_id = self._claim(trial_id_requested)
        if trial_id is None:
            return None
        self._reserved.add(trial_id)
        try:
            if params is not None:
                final = TrialParams()
                final.CopyFrom(params)
            else:
                final = await self._params_from_hooks(trial_id, user_id, config)
            _name_environment(final)
            _validate(final)
            endpoints = await self._resolve_endpoints(final)
            trial = self._build_trial(trial_id, user_id, final, endpoints, _slot_fields(final))
        finally:
            self._reserved.discard(trial_id)
        self._configure(trial)
        return trial

    async def blueprint(self, params: TrialParams) -> TrialBlueprint:
        """What every trial of ``params`` shares, their seeds apart: checked and resolved once,
        for a batch to open each of its trials without waiting (:meth:`TrialBlueprint.open`)."""
        if self._closed:
            raise OrchestratorError("The orchestrator is shutting down")
        final = TrialParams()
        final.CopyFrom(params)
        unnamed = not final.environment.name
        _name_environment(final)
        _validate(final)
        return TrialBlueprint(self, await self._resolve_endpoints(final), _slot_fields(final), unnamed)

    def _claim(self, trial_id_requested: str) -> str | None:
        """The id of a trial about to be opened (None: the requested one is taken), counted
        as a start; refused while shutting down or when the id could not reach the trial's components."""
        if self._closed:
            raise OrchestratorError("The orchestrator is shutting down")
        if trial_id_requested and (problem := trial_id_problem(trial_id_requested)) is not None:
            raise InvalidTrialId(problem)
        trial_id = trial_id_requested or new_trial_id()
        if trial_id in self.trials or trial_id in self._reserved:
            log.warning("Trial id [%s] already exists", trial_id)
            return None
        self._nb_starts += 1
        if self._nb_starts % self.gc_frequency == 0:
            self.collect_garbage()
        return trial_id

    @staticmethod
    def _configure(trial: Trial) -> None:
        try:
            trial.configure()
        except Exception as error:
            trial.hard_terminate(f"Failed to configure: {error}")
            raise OrchestratorError(f"Failed to configure trial [{trial.id}]: {error}") from error

    async def _params_from_hooks(self, trial_id: str, user_id: str, config: bytes | None) -> TrialParams:
        params = TrialParams()
        params.CopyFrom(self.default_params)
        if config is not None:
            params.trial_config.content = config
        for endpoint in self.pre_trial_hooks:
            endpoint = await self._resolve(endpoint, "prehook", "Pre-trial hook")
            try:
                params = await self.factory.pre_trial_hook(endpoint, trial_id, user_id, params)
            except Exception as error:
                raise OrchestratorError(f"Pre-trial hook failure [{error}]") from error
        return params

    async def _resolve(
        self, endpoint: str, role: str, what: str, actor_class: str = "", implementation: str = ""
    ) -> str:
        """``endpoint``, or what a directory says a discovery endpoint names (asked per trial)."""
        parsed = parse_endpoint(endpoint, role=role)
        if parsed.kind is not EndpointKind.DISCOVER:
            return endpoint
        try:
            return await self.factory.discover(parsed, role, actor_class, implementation)
        except OrchestratorError as error:
            raise OrchestratorError(f"{what} endpoint error: [{error}]") from error

    async def _resolve_endpoints(self, params: TrialParams) -> _Endpoints:
        """In the upstream order: datalog, environment, actors (the first failure is the one reported)."""
        environment = params.environment
        datalog = await self._resolve(params.datalog.endpoint, "datalog", "Datalog") if params.datalog.endpoint else ""
        environment_endpoint = await self._resolve(
            environment.endpoint, "environment", f"Environment [{environment.name}]", "", environment.implementation
        )
        actors = [
            await self._resolve(a.endpoint, "actor", f"Actor [{a.name}]", a.actor_class, a.implementation)
            for a in params.actors
        ]
        return _Endpoints(environment_endpoint, actors, datalog)

    async def with_resolved_endpoints(self, params: TrialParams) -> TrialParams:
        """A copy of ``params`` whose discovery endpoints are resolved by this orchestrator's directory
        (for a trial another orchestrator will run)."""
        endpoints = await self._resolve_endpoints(params)
        resolved = TrialParams()
        resolved.CopyFrom(params)
        resolved.environment.endpoint = endpoints.environment
        for actor, endpoint in zip(resolved.actors, endpoints.actors, strict=True):
            actor.endpoint = endpoint
        if params.datalog.endpoint:
            resolved.datalog.endpoint = endpoints.datalog
        return resolved

    def _build_trial(
        self, trial_id: str, user_id: str, params: TrialParams, endpoints: _Endpoints, slots: list[_SlotFields]
    ) -> Trial:
        factory = self.factory
        environment = factory.environment(trial_id, endpoints.environment, params.environment.implementation)
        configs = params.actors
        actors = [
            ActorSlot(
                index,
                name,
                actor_class,
                implementation,
                configs[index].config.content if has_config else None,
                optional,
                default_action,
                initial_connection_timeout,
                response_timeout,
                factory.actor(trial_id, endpoints.actors[index], implementation),
            )
            for (
                index,
                name,
                actor_class,
                implementation,
                has_config,
                optional,
                default_action,
                initial_connection_timeout,
                response_timeout,
            ) in slots
        ]
        datalog = factory.datalog(trial_id, endpoints.datalog) if endpoints.datalog else None
        return Trial(
            trial_id, user_id, params, environment, actors, datalog, self._on_state, fused_ticks=self.fused_ticks
        )

    # ----------------------------------------------------------------- other requests

    def terminate(self, trial_ids: Iterable[str], *, hard: bool, details: str = EXTERNALLY_REQUESTED) -> None:
        """TerminateTrial (§2.2): unknown ids are skipped; ``details`` says why a hard termination happened."""
        for trial_id in trial_ids:
            trial = self.trials.get(trial_id)
            if trial is None:
                continue
            if hard:
                trial.hard_terminate(details)
            else:
                trial.request_end()

    def find(self, trial_ids: Sequence[str]) -> list[Trial]:
        """Known trials among ``trial_ids`` (all trials when empty), §2.3."""
        if not trial_ids:
            return list(self.trials.values())
        return [self.trials[i] for i in trial_ids if i in self.trials]

    def join_client(self, trial_id: str, actor_name: str | None, actor_class: str | None) -> tuple[Trial, ActorSlot]:
        """Pick the slot a client actor joins (§6.2); raises OrchestratorError with the reason."""
        trial = self.trials.get(trial_id)
        if trial is None:
            raise OrchestratorError(f"Unknown trial [{trial_id}] for actor to join")
        try:
            return trial, trial.client_slot(actor_name, actor_class)
        except ValueError as error:
            raise OrchestratorError(str(error)) from error

    @property
    def watcher_count(self) -> int:
        """How many watchers (``WatchTrials`` streams, lab listeners) follow the trials now."""
        return len(self._watchers)

    async def watch(self, states: Iterable[TrialState] = ()) -> AsyncIterator[TrialEvent]:
        """The current state of matching trials, then every later transition (§2.4)."""
        wanted = frozenset(states)
        queue: asyncio.Queue[TrialEvent | None] = asyncio.Queue()
        for trial in self.trials.values():  # snapshot and subscription in one step: nothing in between
            if not wanted or trial.state in wanted:
                queue.put_nowait(_event(trial))
        entry = (wanted, queue)
        self._watchers.append(entry)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._watchers.remove(entry)

    # ----------------------------------------------------------------- internals

    def collect_garbage(self) -> None:
        """End stale trials and forget ended ones past their retention or beyond ``max_ended`` (§8.6)."""
        now = time.monotonic()
        for trial in list(self._live.values()):
            if trial.max_inactivity > 0 and now - trial.last_activity > trial.max_inactivity:
                trial.hard_terminate("The trial was inactive for too long", event="Stale trial")
        now_ns = time.time_ns()
        ended = self._ended
        excess = len(ended) - self.max_ended
        forgotten = []
        for trial_id, trial in ended.items():  # oldest first (one walk: an iterator costs as much as a trial's check)
            if excess <= 0 and (now_ns - (trial.ended_ns or 0)) / 1e9 < self.ended_retention:
                break
            forgotten.append(trial_id)
            excess -= 1
        for trial_id in forgotten:
            del ended[trial_id]
            self.trials.pop(trial_id, None)

    async def _gc_forever(self) -> None:
        while True:
            await asyncio.sleep(self.gc_interval)
            self.collect_garbage()
