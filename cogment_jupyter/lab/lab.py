"""``Lab``: the user API. An orchestrator, a datastore and the served components, in a
background loop of this process; or attached to another Cogment orchestrator.

``Lab`` is a facade: each call goes to the module whose one job it is. ``servers`` (what the
lab runs and connects to, started and stopped together), ``serving`` and ``services`` (serving
environments and actors; what is served, by kind and placement), ``trial_params`` and
``trial_options`` (what a trial runs with), ``trials`` (starting, running, joining and ending
trials, with ``batch`` for ``run_trials``, ``remote`` for another orchestrator and ``handles``
for their state), ``data`` (reading records back), ``models``, ``processes``, ``loop_thread``.
The widgets take the lab as their ``notebook.host.WidgetHost``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import grpc

from cogment_jupyter.access import Reach, target
from cogment_jupyter.adapters.actors import as_actor
from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment
from cogment_jupyter.directory.client import ENDPOINT_ENV as DIRECTORY_ENV
from cogment_jupyter.directory.client import TOKEN_ENV
from cogment_jupyter.engine.endpoints import EndpointKind, parse_endpoint
from cogment_jupyter.engine.records import EXTERNALLY_REQUESTED
from cogment_jupyter.lab.data import TrialRecords
from cogment_jupyter.lab.handles import Handles, TrialHandle
from cogment_jupyter.lab.logs import LabLogs
from cogment_jupyter.lab.loop_thread import LoopThread
from cogment_jupyter.lab.protocols import COGMENT, check_protocol
from cogment_jupyter.lab.scope import Scope, TrialScope
from cogment_jupyter.lab.servers import LabServers, ServerSettings, fused_ticks_default
from cogment_jupyter.lab.services import ServiceKind, ServiceRegistry
from cogment_jupyter.lab.serving import LabServices
from cogment_jupyter.lab.trial_options import TrialOptions
from cogment_jupyter.lab.trial_params import TrialParamsMaker
from cogment_jupyter.lab.trials import BatchOrder, TrialRunner, trial_arguments
from cogment_jupyter.official_sdk import require_sdk
from cogment_jupyter.proto import common_pb2

if TYPE_CHECKING:
    from cogment_jupyter.lab.models import Models


class LabNotLaunched(RuntimeError):
    """The lab API was used before a lab was started."""


class Lab:
    """Run Cogment trials from a notebook or a script.

    ``Lab()`` starts an orchestrator and a datastore on a background thread;
    ``Lab(orchestrator="grpc://host:port")`` attaches to an existing Cogment orchestrator
    instead (ours or the upstream one). Use ``with Lab() as lab:`` in scripts; in notebooks
    ``%cogment launch`` makes one and ``Lab.current()`` returns it.

    Its endpoints are Unix sockets only this user can reach (see ``cogment_jupyter.access``);
    ``host="127.0.0.1"`` (or ``"0.0.0.0"``) serves them over TCP instead, for other users or
    machines. Attached to an orchestrator reached over TCP, the lab serves its environments
    and actors over TCP (on 127.0.0.1 unless ``host`` says otherwise), for that orchestrator
    to call them.

    ``fused_ticks=False`` runs every trial on the engine's tick loop, never on the faster
    fused loop of all-in-process trials (the records are the same; the default comes from
    the environment variable ``COGMENT_JUPYTER_FUSED_TICKS``, on unless it is ``0``).

    ``log_dir``: keep logs there, one file per service (``lab.log`` for the lab itself, and
    ``<kind>-<name>.log`` for each service in its own process); see ``cogment_jupyter.lab.logs``.
    """

    _current: ClassVar[Lab | None] = None
    _current_lock = threading.Lock()

    def __init__(
        self,
        datastore: str | os.PathLike[str] | None = ".cogment",
        *,
        orchestrator: str | None = None,
        datalog: str | None = None,
        shared: str | None = None,
        shared_datalog: str | None = None,
        user_id: str = "cogment_jupyter",
        host: str | None = None,
        model_registry: str | None = None,
        directory: str | None = None,
        directory_token: str | None = None,
        fused_ticks: bool | None = None,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.datastore_path = Path(datastore) if datastore is not None else None
        #: the log files, one per service, with ``log_dir`` (None: services write to the kernel's output)
        self.logs = LabLogs(log_dir) if log_dir is not None else None
        self.fused_ticks = fused_ticks_default() if fused_ticks is None else fused_ticks
        self.model_registry = model_registry
        self.directory = directory if directory is not None else os.environ.get(DIRECTORY_ENV) or None
        self.directory_token = directory_token if directory_token is not None else os.environ.get(TOKEN_ENV)
        self.remote_orchestrator = orchestrator
        self.external_datalog = datalog
        self.shared_orchestrator = shared
        self.shared_datalog = shared_datalog
        self.discovery_reason: str | None = None
        self.user_id = user_id
        self.host = host
        self.started_at = time.time()
        #: the notebook and the lab every trial records, and what ``trials()`` shows by default
        self.scope = TrialScope()
        self.launch_seconds: float | None = None
        self._loop_thread: LoopThread | None = None
        self._handles = Handles()
        #: every served name: its kind, where it runs, how trials reach it
        self._service_registry = ServiceRegistry()
        self._closed = False
        started = time.perf_counter()
        for what, value in (("orchestrator", orchestrator), ("shared", shared)):
            if value is not None and parse_endpoint(value, role="environment").kind is not EndpointKind.GRPC:
                raise ValueError(f"{what} must be 'grpc://HOST:PORT', got {value!r}")
        if orchestrator is not None and shared is not None:
            raise ValueError("give orchestrator= (attach) or shared= (hybrid), not both")
        #: who can reach this lab's endpoints
        self.reach = Reach.to_call_back(orchestrator or shared, host, discoverable=self.directory is not None)
        settings = ServerSettings(
            self.reach, self.datastore_path, orchestrator, shared, self.directory, self.directory_token,
            self.fused_ticks, model_registry,
        )  # fmt: skip
        self._servers = LabServers(settings)
        if self.logs is not None:
            self.logs.start()
        self._loop_thread = LoopThread()
        try:
            self._loop_thread.run(self._servers.start())
        except BaseException as error:
            self._stop()
            if isinstance(error, grpc.aio.AioRpcError):
                raise ConnectionError(
                    f"cannot reach the Cogment orchestrator at {orchestrator}: {error.details()} "
                    "(is it running? check the address)"
                ) from None
            raise
        self._assemble()
        self.launch_seconds = time.perf_counter() - started
        with Lab._current_lock:
            Lab._current = self
        atexit.register(self.close)

    # ----------------------------------------------------------------- start and stop

    def _assemble(self) -> None:
        """The lab's parts, once its servers run: serving, trial params, running trials, reading records."""
        servers = self._servers
        self.components, self.datastore, self.orchestrator = servers.components, servers.datastore, servers.orchestrator
        self.address = target(servers.endpoint)
        self._services = LabServices(self._service_registry, self._check_open, servers, self.logs, lambda: self.models)
        self._params = TrialParamsMaker(
            self._service_registry, self.scope, self.datastore, self.datastore_endpoint, self.external_datalog
        )
        self._trials = TrialRunner(self, self._check_open, self._handles, self._params, servers)
        self._records = TrialRecords(self.datastore, self.scope, self._handles)

    @classmethod
    def current(cls) -> Lab:
        """The lab started last (by ``%cogment launch`` or ``Lab()``)."""
        lab = cls._current
        if lab is None or lab._closed:
            raise LabNotLaunched(
                "No Cogment lab is running: run `%load_ext cogment_jupyter` then `%cogment launch` "
                "in the notebook (or create one with `lab = Lab()`)"
            )
        return lab

    def close(self) -> None:
        """Stop the services, the orchestrator and the background loop. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with Lab._current_lock:
            if Lab._current is self:
                Lab._current = None
        self._services.stop_processes()
        self._stop()
        atexit.unregister(self.close)

    def _stop(self) -> None:
        """Stop the servers, the loop, the datastore and the logs (also after a failed start)."""
        loop_thread = self._loop_thread
        if loop_thread is not None and loop_thread.alive:
            with contextlib.suppress(Exception):
                loop_thread.run(self._servers.stop(), timeout=15)
            loop_thread.stop()
        if self._servers.datastore is not None:
            self._servers.datastore.close()
        if self.logs is not None:
            self.logs.stop()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Lab:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)

    def _check_open(self) -> LoopThread:
        if self._closed or self._loop_thread is None:
            raise LabNotLaunched("this lab is stopped: run `%cogment launch` again (or create a new Lab())")
        return self._loop_thread

    # ----------------------------------------------------------------- endpoints

    @property
    def endpoint(self) -> str:
        """Where the lab's environments and actors are served (and its orchestrator, when local)."""
        return self._servers.endpoint

    @property
    def orchestrator_endpoint(self) -> str:
        """Where trials run (in shared mode: those that are not all in this kernel)."""
        return self.remote_orchestrator or self.shared_orchestrator or self.endpoint

    @property
    def mode(self) -> str:
        """``embedded``, ``attached`` (to another orchestrator) or ``shared`` (a Jupyter server's runtime)."""
        if self.remote_orchestrator:
            return "attached"
        return "shared" if self.shared_orchestrator else "embedded"

    @property
    def models(self) -> Models:
        """The lab's model registry: publish, list and load models (``lab.models.publish(...)``)."""
        models = self._servers.open_models(self._check_open())
        if models is None:
            raise LabNotLaunched(
                "this lab has no model registry (no datastore to keep one beside): "
                "Lab(model_registry='grpc://HOST:PORT'), or give the lab a datastore"
            )
        return models

    @property
    def model_registry_endpoint(self) -> str | None:
        """Where ``lab.models`` publishes (a lab's own registry starts on first use of ``lab.models``)."""
        return self._servers.model_registry_endpoint

    @property
    def datastore_endpoint(self) -> str | None:
        return self._servers.datastore_endpoint

    # ----------------------------------------------------------------- services

    def serve_env(self, name: str, env: Environment, *, process: bool = False, replace: bool = True) -> None:
        """Serve an environment under ``name`` (in this process, or in its own with ``process=True``)."""
        if not isinstance(env, Environment):
            raise TypeError(
                f"serve_env() takes a cogment_jupyter Environment (e.g. envs.Gymnasium('CartPole-v1')), "
                f"got {type(env).__name__}"
            )
        self._services.serve(name, ServiceKind.ENVIRONMENT, env, process, replace)

    def serve_actor(
        self, name: str, actor: Actor | Callable[[Any], Any], *, process: bool = False, replace: bool = True
    ) -> None:
        """Serve an actor under ``name``; a plain callable ``observation -> action`` becomes a Policy."""
        self._services.serve(name, ServiceKind.ACTOR, as_actor(actor, "serve_actor"), process, replace)

    def serve_sdk_env(self, name: str, implementation: Callable[[Any], Any], agents: Mapping[str, AgentSpec]) -> None:
        """Serve an official-SDK session-style environment (``async def env(session)``).

        It talks to actors through ``adapters.cog_settings`` messages; ``agents`` gives each
        agent's spaces (the SDK function cannot tell them). It runs in this kernel, over gRPC.
        Needs the official SDK (an error says how to install it).
        """
        require_sdk("lab.serve_sdk_env")
        self._services.serve_sdk(name, ServiceKind.ENVIRONMENT, implementation, agents)

    def serve_sdk_actor(self, name: str, implementation: Callable[[Any], Any]) -> None:
        """Serve an official-SDK session-style actor (``async def actor(session)``) in this kernel.

        Needs the official SDK (an error says how to install it).
        """
        require_sdk("lab.serve_sdk_actor")
        self._services.serve_sdk(name, ServiceKind.ACTOR, implementation, None)

    def serve_remote(
        self,
        name: str,
        endpoint: str,
        implementation: str = "",
        *,
        protocol: str = COGMENT,
        agents: Any = None,
    ) -> None:
        """Name an actor or environment served elsewhere: ``grpc://host:port`` (and its
        implementation name, by default ``name``), or a discovery endpoint such as
        ``cogment://discover/actor?__implementation=NAME`` that the orchestrator resolves
        through the lab's directory at each trial (actors).

        An environment served by ``cogment-jupyter serve env`` (or by another lab) tells its
        agents and spaces when asked, and is used as an environment; another environment
        needs ``agents=`` (``{agent: (observation_space, action_space)}``, or an environment
        object with the same agents); anything else is taken for an actor.

        ``protocol="cogment_lab"``: a Cogment Lab 0.1.5 service (``cog.run_env`` /
        ``cog.run_actor``); trials it takes part in run in Lab's wire format, so Lab's
        environments and actors play with this lab's own, and with people at widgets."""
        self._services.serve_remote(name, endpoint, implementation, check_protocol(protocol), agents)

    @property
    def services(self) -> dict[str, str]:
        """Every served name and where it runs."""
        return self._service_registry.described()

    def endpoint_of(self, name: str) -> str:
        """The Cogment endpoint serving ``name``: this lab's, its own process's, or the remote one."""
        return self._services.get(name).endpoint

    @property
    def log_files(self) -> dict[str, Path]:
        """With ``log_dir``: the lab's log file (``"lab"``) and that of each service in its own process."""
        if self.logs is None:
            return {}
        return {"lab": self.logs.lab_file, **self._services.log_files()}

    @property
    def processes(self) -> dict[str, int]:
        """The pid of every service running in its own process (``process=True``), by name."""
        return self._services.processes()

    def stop_service(self, name: str) -> None:
        """Stop serving ``name`` (trials already running keep their instance)."""
        self._services.stop(name)

    def stop_all_services(self) -> None:
        for name in list(self.services):
            self.stop_service(name)

    # ----------------------------------------------------------------- what people's widgets use

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this lab's trials run on (its own thread): code called on other threads,
        such as a widget's callbacks, hands work to it with ``loop.call_soon_threadsafe``."""
        return self._check_open().loop

    def environment(self, name: str) -> tuple[Any, dict[str, AgentSpec]]:
        """A served environment (a local copy when it runs elsewhere) and its agents' spaces."""
        service = self._params.environment(name)
        return service.template, service.specs

    def start_trial_with_people(self, env: str, actors: str | Mapping[str, str], **options: Any) -> TrialHandle:
        """``start_trial`` for a trial whose ``"client"`` slots this kernel's widgets fill (a person
        at ``lab.play``, ``lab.feedback``...): it runs in this kernel when its other parts do."""
        return self._trials.start(env, actors, *trial_arguments(options), clients_here=True)

    # ----------------------------------------------------------------- trials

    def trial_params(
        self, env: str, actors: str | Mapping[str, str], *, seed: int | None = None, **options: Any
    ) -> common_pb2.TrialParams:
        """The Cogment ``TrialParams`` a trial with these arguments (see :meth:`start_trial`) runs with."""
        return self._params.make(env, actors, seed, TrialOptions.of(options))

    def start_trial(
        self,
        env: str,
        actors: str | Mapping[str, str],
        *,
        seed: int | None = None,
        trial_id: str | None = None,
        **options: Any,
    ) -> TrialHandle:
        """Start a trial and return its handle at once; the trial runs in the background.

        ``actors`` maps each agent of the environment to a served actor name (a single name
        plays every agent; ``"client"`` leaves the slot to a client actor such as the play
        widget). ``seed`` defaults to a fresh random one, recorded with the trial. Other
        options: ``max_steps``, ``config`` (environment), ``actor_configs``, ``render``,
        ``render_width`` / ``render_height`` (frames resampled to that size, one alone keeping
        the aspect ratio; they imply ``render``), ``reset_options``, ``properties``,
        ``optional``, ``default_actions``, ``response_timeout``, ``datalog``.
        """
        return self._trials.start(env, actors, TrialOptions.of(options), seed, trial_id)

    async def astart_trial(self, env: str, actors: str | Mapping[str, str], **options: Any) -> TrialHandle:
        """``start_trial``, returning once the orchestrator has accepted the trial (or refused it:
        the handle then says why)."""
        return await self._trials.astart(env, actors, *trial_arguments(options))

    def run_trials(
        self,
        n: int,
        env: str,
        actors: str | Mapping[str, str],
        *,
        concurrency: int = 8,
        progress: bool = True,
        seed: int | None = None,
        **options: Any,
    ) -> list[TrialHandle]:
        """Run ``n`` trials (``concurrency`` at a time) and wait for them, with a progress bar.

        With ``seed``, trial ``i`` gets ``seed + 1000 * i`` (reproducible batches). The batch
        is driven from the lab's loop: the calling thread only waits. When every part of the
        trials is an object served in this kernel and no actor is ``async`` nor has a
        ``response_timeout``, nothing ever waits: the trials run one after the other, each to
        its end, without ``concurrency`` (``lab/inline_batch.py``).
        """
        order = BatchOrder(n, env, actors, TrialOptions.of(options), concurrency, progress, seed)
        return self._trials.run_batch(order)

    async def arun_trials(
        self,
        n: int,
        env: str,
        actors: str | Mapping[str, str],
        *,
        concurrency: int = 8,
        progress: bool = True,
        seed: int | None = None,
        **options: Any,
    ) -> list[TrialHandle]:
        """``run_trials`` without blocking the notebook's event loop."""
        order = BatchOrder(n, env, actors, TrialOptions.of(options), concurrency, progress, seed)
        return await self._trials.arun_batch(order)

    def join(
        self, trial: TrialHandle | str, agent: str, actor: Actor | Callable[[Any], Any]
    ) -> concurrent.futures.Future[None]:
        """Play ``agent`` of a trial started with ``"client"`` for it, as a Cogment client actor.

        ``actor``: an :class:`Actor`, a callable ``observation -> action`` (``async`` too), or
        ``actors.QueuePair()`` for code that answers through queues (an app, another thread).
        In this kernel's orchestrator the actor fills the slot in-process; with an attached
        orchestrator it joins over ``ClientActorSP``, as any Cogment client does. Returns a
        future resolved when the actor's part of the trial is over.
        """
        self._check_open()
        trial_id = trial if isinstance(trial, str) else trial.id
        return self._trials.join(trial_id, agent, as_actor(actor, "join"))

    async def ajoin(self, trial: TrialHandle | str, agent: str, actor: Actor | Callable[[Any], Any]) -> None:
        await asyncio.wrap_future(self.join(trial, agent, actor))

    def terminate(self, trial_ids: Iterable[str], *, hard: bool = True, details: str = EXTERNALLY_REQUESTED) -> None:
        """End trials of this lab (``TrialHandle.cancel`` ends one): at once (``hard``), or after
        their current tick; ``details`` is recorded as why."""
        self._trials.terminate(trial_ids, hard=hard, details=details)

    @property
    def handles(self) -> list[TrialHandle]:
        """The handles of this lab's running trials and of the last finished ones (oldest first).

        A lab does not keep every handle of a long session: every trial is in ``lab.trials()``.
        """
        return self._handles.all()

    def trial(self, trial_id: str) -> TrialHandle:
        """The handle of a running trial of this lab, of a recent one, or of one you still hold."""
        handle = self._handles.get(trial_id)
        if handle is None:
            raise KeyError(
                f"this lab has no handle on trial {trial_id!r}: it keeps those of running and recent trials "
                "(and any you hold); a finished trial's data is in lab.trials() and lab.steps(trial_id)"
            )
        return handle

    # ----------------------------------------------------------------- data

    def trials(self, scope: Scope = "notebook", **filters: Any):
        """A DataFrame of the recorded trials (``state=``, ``properties=``, ``since=``, ``until=``,
        ``trial_ids=``): returns per actor, durations in seconds (see ``Datastore.trials``).

        ``scope``: ``"notebook"`` (default) the trials this notebook ran, before a kernel restart
        too (a script: this lab's); ``"lab"`` this lab's; ``"all"`` every trial of the datastore,
        other notebooks' included.
        """
        return self._records.trials(scope, filters)

    def steps(self, trial_ids: str | Iterable[str], **options: Any):
        """A tidy DataFrame, one row per tick per actor, values decoded."""
        return self._records.steps(trial_ids, options)

    def export_steps(self, path: str | os.PathLike[str], trial_ids: str | Iterable[str] | None = None):
        """Write the tidy steps of trials (all by default) to a Parquet file to share: plain
        ``pd.read_parquet``, polars and duckdb open it. Returns its path."""
        return self._records.export_steps(path, trial_ids)

    def rewards(self, trial_ids: str | Iterable[str]):
        """Every reward source of the trials, one row each: who rewarded whom, when, how much.

        Columns ``trial_id, tick, receiver, sender, value, confidence``: the environment's
        rewards and those of actors and people (live feedback) alike.
        """
        return self._records.rewards(trial_ids)

    def get_trial_data(
        self, trial_id: str, timeout: float | None = None, *, fields: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Per-agent numpy ``TrialData`` (Cogment Lab's format); waits for the trial to end.

        ``fields``: only these (Cogment Lab's ``observations``, ``actions``, ``rewards``,
        ``done``, ``next_observations``, ``last_observation``, and ``terminated``,
        ``truncated``, ``info``); the others are None. Default: all of them.
        """
        return self._records.trial_data(trial_id, timeout, fields)

    async def aget_trial_data(self, trial_id: str, *, fields: Iterable[str] | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(functools.partial(self.get_trial_data, trial_id, fields=fields))

    # ----------------------------------------------------------------- humans

    def play(self, env: str, keys: Any = None, *, noop: Any = None, fps: float | None = None, **options: Any):
        """Play ``env`` in the cell: returns the widget at once; the trial runs in the background.

        ``keys``: a Cogment Lab list (``["no-op", "ArrowLeft", "ArrowRight"]``: position is the
        action), a dict key -> action (any value, dicts included; ``"a+b"`` or tuples for
        combinations), or Gymnasium ``play()``'s ``keys_to_action`` with ``noop``; without
        ``keys``, the environment's own ``get_keys_to_action()``. The no-op (no mapped key
        held) is ``noop``, else the map's ``"no-op"`` entry or empty combination, else the
        action the environment names ``NOOP``; a map with none of them is refused. ``fps``
        paces the game with the held keys repeated (default: the environment's ``render_fps``);
        ``fps=0`` is turn-based: one action per key press. ``agent=`` picks your agent in a
        multi-agent environment and ``actors={agent: name}`` fills the others. Every round is a
        recorded trial (``widget.trials``); other options go to :meth:`start_trial`.

        Beyond the keyboard, for a bounded ``Box`` action (``notebook.analog``):
        ``pointer="x"`` (``"y"``, ``"xy"``) the pointer over the frame, ``gamepad={"axes": [0]}``
        (``"triggers": [7]``; ``{"buttons": {0: action}}`` plays buttons as keys), ``sliders=True``
        (or labels); no key map needed. ``front_end=MyWidget``: your own :class:`PlayWidget`
        subclass (its ``_esm``) shows the game and sends keys or JSON actions; it gets each frame's
        observation (``observations=True`` for the built-in one) and the ``action_space`` trait.
        """
        from cogment_jupyter.notebook.play import play

        return play(self, env, keys, noop=noop, fps=fps, **options)

    def feedback(self, env: str, actors: str | Mapping[str, str], **options: Any):
        """Watch ``actors`` play ``env`` and reward the agent from the keyboard (TAMER-style).

        ``keys`` maps keys to reward values (default ``{"+": 1, "-": -1}``); the trial runs at
        ``fps`` (default 4) so every frame can be judged; a reward goes to ``target`` (the
        first agent by default) for the tick on screen, as a Cogment reward from ``name``
        (default ``"trainer"``). Returns the widget at once.
        """
        from cogment_jupyter.notebook.feedback import feedback

        return feedback(self, env, actors, **options)

    def teach(
        self,
        env: str,
        actor: str,
        keys: Any = None,
        *,
        agent: str | None = None,
        teacher: str = "teacher",
        **options: Any,
    ):
        """Watch ``actor`` play ``env`` and take over while you hold a key (teacher override).

        ``keys`` maps keys to the agent's actions, as for :meth:`play`; holding a mapped key
        replaces the agent's action with that key's action (no key held: the agent acts, so no
        ``noop`` is needed), and every tick records the intervention (see :meth:`interventions`).
        The trial runs at ``fps`` (default: the environment's ``render_fps``). Returns the
        widget at once.
        """
        from cogment_jupyter.notebook.teach import teach

        template, _ = self.environment(env)
        served_as = self._services.teacher_environment(env, template, agent, teacher)
        return teach(self, served_as, actor, keys, **options)

    def replay(self, trial_id: str, *, fps: float | None = None):
        """A widget to look back at a recorded trial: play/pause, step, scrub, speed, per-tick details.

        Frames are there when the trial rendered (``render=True``, and every ``play`` round);
        works for any trial of the datastore, recorded by any kernel.
        """
        from cogment_jupyter.notebook.replay import ReplayWidget

        self._records.wait_recorded(trial_id)
        return ReplayWidget(self._records.store(), trial_id, fps=fps)

    def interventions(self, trial_ids: str | Iterable[str]):
        """One row per tick of teacher-wrapped trials: who was in control, proposed and executed actions."""
        return self._records.interventions(trial_ids)

    # ----------------------------------------------------------------- status

    def status(self):
        from cogment_jupyter.lab.status import LabStatus

        return LabStatus.of(self)

    def __repr__(self) -> str:
        state = "stopped" if self._closed else "running"
        where = {
            "attached": f"attached to {self.remote_orchestrator}",
            "shared": f"sharing the runtime at {self.shared_orchestrator}",
        }.get(self.mode, f"at {self.endpoint}")
        return f"<Lab {state} {where}, datastore={str(self.datastore_path)!r}>"
