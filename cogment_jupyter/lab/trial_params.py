"""The Cogment ``TrialParams`` of a lab's trial: its environment and actors looked up by name in
the lab's services, their configs in the trial's payload format, its codec and properties.

One maker for ``lab.trial_params``, ``lab.start_trial`` and every trial of ``lab.run_trials``
(which makes the params once and adds each trial's seeds: :class:`UnseededParams`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.base import AgentSpec, agents_mismatch
from cogment_jupyter.adapters.frame_size import frame_size
from cogment_jupyter.adapters.trial_codec import FORMAT_KEY, TrialCodec
from cogment_jupyter.adapters.wire import PLAYER, SPECTATOR
from cogment_jupyter.lab.protocols import COGMENT_LAB, actor_config, environment_config
from cogment_jupyter.lab.scope import TrialScope
from cogment_jupyter.lab.services import Placement, Service, ServiceKind, ServiceRegistry
from cogment_jupyter.lab.trial_options import TrialOptions
from cogment_jupyter.proto import common_pb2
from cogment_jupyter.transport.lab_config import with_seed

if TYPE_CHECKING:
    from cogment_jupyter.datastore import Datastore

#: the endpoint of an actor slot a client fills (a person at a widget, ``lab.join``)
CLIENT = "cogment://client"
#: the names ``actors=`` may give a client slot by
CLIENT_NAMES = ("client", CLIENT, "human")
#: the property every lab trial carries, for finding a lab's trials in a shared datastore
LAB_PROPERTY = "cogment_jupyter.lab"


class TrialParamsMaker:
    """Makes the params of a lab's trials from the names its user gives."""

    def __init__(
        self,
        services: ServiceRegistry,
        scope: TrialScope,
        datastore: Datastore | None,
        datastore_endpoint: str | None,
        external_datalog: str | None,
    ) -> None:
        """Trials record to ``external_datalog`` when given, else to the lab's ``datastore``
        served at ``datastore_endpoint`` (neither: they are not recorded)."""
        self._services = services
        self._scope = scope
        self._datastore = datastore
        self._datastore_endpoint = datastore_endpoint
        self._external_datalog = external_datalog
        self._codecs: dict[tuple[int, tuple[str, ...]], tuple[Any, TrialCodec, dict[str, str]]] = {}

    def environment(self, name: str) -> Service:
        """The environment served as ``name``; the error says how to serve one."""
        taken = self._services.get(name)
        if taken is not None and taken.placement is Placement.REMOTE and taken.kind is ServiceKind.ACTOR:
            raise KeyError(
                f"{name!r} is a remote service taken for an actor: to use it as an environment, name its agents, "
                f"lab.serve_remote({name!r}, ..., agents={{agent: (observation_space, action_space)}})"
            )
        return self._services.find(name, ServiceKind.ENVIRONMENT)

    def actor_endpoint(self, name: str) -> tuple[str, str]:
        """The endpoint and implementation of the actor served as ``name`` (a client slot's for its names)."""
        if name in CLIENT_NAMES:
            return CLIENT, ""
        service = self._services.find(name, ServiceKind.ACTOR)
        return service.endpoint, service.implementation

    def make(
        self, env: str, actors: str | Mapping[str, str], seed: int | None, options: TrialOptions
    ) -> common_pb2.TrialParams:
        """The params of a trial of ``env`` played by ``actors`` (a name for every agent, or a map)."""
        environment = self.environment(env)
        specs = environment.specs
        if isinstance(actors, str):
            actors = dict.fromkeys(specs, actors)
        if problem := agents_mismatch(actors, specs, unknown="not agents", missing="unmapped"):
            raise ValueError(f"environment {env!r} has agents {list(specs)}: map each to an actor{problem}")
        params = common_pb2.TrialParams(max_steps=options.max_steps)
        params.environment.name = "env"
        params.environment.endpoint = environment.endpoint
        params.environment.implementation = environment.implementation
        size = frame_size(options.render_width, options.render_height)
        render = options.render or size is not None  # a frame size asks for frames
        optional = set(options.optional)
        spectators = dict(options.spectators or {})
        clash = [name for name in spectators if name in specs or name == "env"]
        if clash:
            raise ValueError(f"spectator names {clash} are taken by the environment's agents; choose others")
        lab_services = self._services.speaking(COGMENT_LAB)
        lab_spectators = [name for name, actor in spectators.items() if actor in lab_services]
        if lab_spectators:
            raise ValueError(f"spectators {lab_spectators} are Cogment Lab services, which play agents only")
        # the trial runs in Lab's format when a Lab service takes part (every component then speaks it)
        lab_parts = {env, *actors.values()} & lab_services
        payload_format = COGMENT_LAB if lab_parts else ""
        params.environment.config.content = environment_config(
            payload_format, env in lab_services, seed, render, size, options.reset_options, options.config
        )
        watched = next(iter(specs))
        everyone = {**specs, **dict.fromkeys(spectators, specs[watched])}
        codec, codec_properties = self._codec(environment.template, everyone)
        for index, agent in enumerate(everyone):
            endpoint, implementation = self.actor_endpoint(actors[agent] if agent in specs else spectators[agent])
            actor = params.actors.add(
                name=agent,
                actor_class=PLAYER if agent in specs else SPECTATOR,
                endpoint=endpoint,
                implementation=implementation,
                optional=agent in optional,
                response_timeout=options.response_timeout,
            )
            actor_seed = None if seed is None else seed_of_actor(seed, index)
            lab_actor = agent in specs and actors[agent] in lab_services
            actor.config.content = actor_config(
                payload_format, lab_actor, everyone[agent], actor_seed, (options.actor_configs or {}).get(agent), render
            )
            if options.default_actions and agent in options.default_actions:
                from cogment_jupyter.adapters.payload_formats import payload_format as format_named

                action = format_named(payload_format).action(options.default_actions[agent], codec[agent].action)
                actor.default_action.content = action.to_bytes()
        params.properties.update(codec_properties)
        if payload_format:
            params.properties[FORMAT_KEY] = payload_format
        params.properties[LAB_PROPERTY] = env
        params.properties.update(self._scope.properties)
        if options.properties:
            params.properties.update({str(k): str(v) for k, v in options.properties.items()})
        if options.datalog:
            if self._external_datalog:
                params.datalog.endpoint = self._external_datalog
            elif self._datastore_endpoint:
                self._check_recordable()
                params.datalog.endpoint = self._datastore_endpoint
        return params

    def _check_recordable(self) -> None:
        """A trial is refused at once, rather than run and not recorded, on a read-only datastore."""
        datastore = self._datastore
        reason = datastore.store.read_only if datastore is not None else None
        if reason is not None:
            from cogment_jupyter.datastore.errors import ReadOnlyDatastoreError
            from cogment_jupyter.datastore.schema import read_only

            raise ReadOnlyDatastoreError(
                f"{read_only(datastore.file, reason)} Or run the trial unrecorded: datalog=False."
            )

    def _codec(self, template: Any, specs: dict[str, AgentSpec]) -> tuple[TrialCodec, dict[str, str]]:
        """The trial codec of an environment (with its spectators) and its properties, built once."""
        key = (id(template), tuple(specs))
        cached = self._codecs.get(key)
        if cached is None or cached[0] is not template:
            codec = TrialCodec.from_specs(specs, list(specs))
            cached = self._codecs[key] = (template, codec, codec.properties())
        return cached[1], cached[2]


def seed_of_actor(seed: int, index: int) -> int:
    """The seed of actor ``index`` of a trial seeded ``seed`` (the environment's is ``seed``)."""
    return seed + 1 + index


def agents_of(params: common_pb2.TrialParams) -> dict[str, str]:
    """Each agent's actor: its implementation, or its endpoint (a client slot)."""
    return {actor.name: (actor.implementation or actor.endpoint) for actor in params.actors}


class UnseededParams:
    """Params made by ``TrialParamsMaker.make`` without a seed, the same for every trial of a
    batch, to which each trial's seeds are added (:meth:`seeded`).

    The seeds go into a copy of its own, through its config messages held once: each trial's
    params are then one copy of it, with no protobuf wrapper made per trial for the fields
    the seeds change."""

    __slots__ = ("_actor_configs", "_actors", "_environment", "_environment_config", "_seeding", "agents", "params")

    def __init__(self, params: common_pb2.TrialParams) -> None:
        self.params = params
        self._environment = params.environment.config.content
        self._actors = [actor.config.content for actor in params.actors]
        self.agents = agents_of(params)
        self._seeding = common_pb2.TrialParams()
        self._seeding.CopyFrom(params)
        self._environment_config = self._seeding.environment.config
        self._actor_configs = [actor.config for actor in self._seeding.actors]

    def seeded(self, seed: int) -> common_pb2.TrialParams:
        """A trial's params with the seeds of ``seed``, as ``make(..., seed=seed)`` makes them:
        the environment's, and ``seed + 1 + i`` for actor i (a copy the trial owns)."""
        self._environment_config.content = with_seed(self._environment, seed, "environment")
        actors = self._actors
        for index, config in enumerate(self._actor_configs):
            config.content = with_seed(actors[index], seed_of_actor(seed, index), "actor")
        params = common_pb2.TrialParams()
        params.CopyFrom(self._seeding)
        return params


def seeded(template: common_pb2.TrialParams, seed: int) -> common_pb2.TrialParams:
    """``template`` (made by ``TrialParamsMaker.make`` without a seed) with the seeds of ``seed``."""
    return UnseededParams(template).seeded(seed)
