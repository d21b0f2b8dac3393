"""How the engine talks to the parts of a trial, whatever they are.

A component is reached either through Cogment gRPC (``transport.grpc``) or as an
in-process Python object (``transport.inprocess``): the engine only sees these classes.

Direction engine -> component: plain method calls on a connection. They never block; an
in-process component may answer *synchronously* from inside the call (a Gymnasium step,
a policy), which is what makes in-kernel trials fast.

Direction component -> engine: calls on the *port* the engine hands over at init. Ports are
loop-bound: call them only from the engine's event loop thread (in-process components that
live on other threads hop in with ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from cogment_jupyter.engine.endpoints import ParsedEndpoint
from cogment_jupyter.engine.errors import OrchestratorError
from cogment_jupyter.engine.records import (
    Action,
    ActionSet,
    ActorInit,
    EnvInit,
    Message,
    Observation,
    ObservationSet,
    Reward,
    Sample,
)

if TYPE_CHECKING:
    from cogment_jupyter.engine.trial import TickLease
    from cogment_jupyter.proto.common_pb2 import TrialParams


@dataclass(slots=True)
class TickRows:
    """Plain ticks column by column, the form in which both tick loops hand them to an
    in-process datalog: state RUNNING, every actor observed and answered, no event or message,
    rewards each for one actor with one source of confidence 1.

    ``observations`` and ``actions`` hold each actor's envelope bytes, row after row. Reward
    j belongs to row ``reward_rows[j]`` (rows in order, a row's rewards in the order they
    came): ``rewards[j]`` for actor ``receivers[j]``, sent to ``names[j]`` by ``senders[j]``.
    """

    ticks: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    observations: list[bytes] = field(default_factory=list)
    actions: list[bytes] = field(default_factory=list)
    reward_rows: list[int] = field(default_factory=list)
    receivers: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ticks)


class InitError(Exception):
    """A component refused or failed its init handshake."""


class ComponentPort(ABC):
    """What any component may send to the trial at any time."""

    @abstractmethod
    def reward(self, reward: Reward) -> None: ...

    @abstractmethod
    def message(self, message: Message) -> None: ...

    @abstractmethod
    def last_ack(self) -> None:
        """The component has sent its last data (``LAST_ACK``)."""

    @abstractmethod
    def lost(self, reason: str) -> None:
        """The stream ended or failed: the component is gone."""

    @abstractmethod
    def failed(self, error: str) -> None:
        """The component raised: record ``error`` on the trial, then it is gone."""


class EnvironmentPort(ComponentPort):
    @abstractmethod
    def observations(self, observation_set: ObservationSet) -> None: ...

    @abstractmethod
    def last(self) -> None:
        """The environment ends the trial (``LAST``): its next observation set is final."""


class ActorPort(ComponentPort):
    @abstractmethod
    def action(self, action: Action) -> None: ...

    def refused(self, tick: int, reason: str) -> None:
        """The actor answered tick ``tick`` with a value outside its action space (``reason``
        names the value and the space): an error of this actor, never sent on. Where nothing
        more specific is done (an actor served to another orchestrator), the actor fails."""
        self.failed(f"action of tick [{tick}] refused: {reason}")


class EnvironmentConnection(ABC):
    """One environment stream for one trial."""

    @abstractmethod
    async def init(self, init: EnvInit, port: EnvironmentPort) -> None:
        """Handshake (``init_input`` -> ``init_output``). Raises :class:`InitError`."""

    @abstractmethod
    def actions(self, action_set: ActionSet, last: bool) -> None:
        """Deliver a tick's actions; ``last`` sends ``LAST`` first (orchestrator-initiated end)."""

    @abstractmethod
    def message(self, message: Message) -> None: ...

    @abstractmethod
    def end(self, details: str | None) -> None:
        """Send ``END`` (with details on hard termination) and close. Idempotent."""

    def fused_loop(self, lease: TickLease) -> FusedLoop | None:
        """A loop running the initialised trial's ticks by direct calls through ``lease``, or
        None (the engine runs them). Only in-process environments whose actors are all
        in-process offer one."""
        return None


class FusedLoop(ABC):
    """Runs a trial's plain ticks without the protocol's records (see ``engine.trial``)."""

    @abstractmethod
    async def run(self) -> None:
        """Drive the trial to its end, handing it back to the engine when a tick is not plain."""


class ActorConnection(ABC):
    """One actor stream for one trial (service actor, client actor or in-process)."""

    @abstractmethod
    async def init(self, init: ActorInit, port: ActorPort) -> None:
        """Handshake. For a client actor: wait until a client joins the slot."""

    @abstractmethod
    def observation(self, observation: Observation, rewards: Sequence[Reward], last: bool) -> None:
        """Start of a tick: pending rewards, ``LAST`` if final, then the observation."""

    @abstractmethod
    def message(self, message: Message) -> None: ...

    @abstractmethod
    def end(self, details: str | None) -> None: ...


class DatalogConnection(ABC):
    """Where a trial's samples go (``DatalogSP`` or the in-process datastore)."""

    @abstractmethod
    async def start(self, trial_id: str, user_id: str, params: TrialParams) -> None: ...

    def start_now(self, trial_id: str, user_id: str, params: TrialParams) -> bool:
        """Start at once, from the engine's loop, if this datalog can without waiting (then
        True: :meth:`start` is not called); False: the engine calls :meth:`start`."""
        return False

    #: Whether :meth:`add_rows` takes a fused loop's rows (otherwise it sends samples).
    accepts_rows: ClassVar[bool] = False

    @abstractmethod
    def add(self, samples: Sequence[Sample]) -> None:
        """Queue samples in tick order; never blocks the tick loop."""

    def add_rows(self, rows: TickRows) -> None:
        """Queue plain ticks, in tick order with the samples. Copies what it keeps: a fused
        loop's lease refills the same rows."""
        raise NotImplementedError(f"{type(self).__name__} takes samples only (accepts_rows is False)")

    @abstractmethod
    async def close(self) -> None:
        """Flush what is queued and close the stream."""

    def close_now(self) -> asyncio.Future[None] | None:
        """Close at once, from the engine's loop, if this datalog can without waiting: then
        returns what resolves once everything queued is stored (several trials' closes may
        share it; :meth:`check_closed` then raises what kept the trial from being recorded
        completely). None: the engine awaits :meth:`close`."""
        return None

    def check_closed(self) -> None:
        """After :meth:`close_now` resolved: raise the error that kept the trial from being recorded completely."""


class ClientActorConnection(ActorConnection):
    """The slot of a client actor: ``init`` waits until a client joins (``ClientActorSP``)."""

    @property
    @abstractmethod
    def joined(self) -> bool: ...


class ComponentFactory(ABC):
    """Turns trial parameters into connections; the engine never knows how they are reached."""

    @abstractmethod
    def environment(self, trial_id: str, endpoint: str, implementation: str) -> EnvironmentConnection: ...

    @abstractmethod
    def actor(self, trial_id: str, endpoint: str, implementation: str) -> ActorConnection: ...

    @abstractmethod
    def datalog(self, trial_id: str, endpoint: str) -> DatalogConnection: ...

    def makers(
        self, environment: tuple[str, str], actor: tuple[str, str], datalog: str
    ) -> tuple[
        Callable[[str], EnvironmentConnection], Callable[[str], ActorConnection], Callable[[str], DatalogConnection]
    ]:
        """What makes each trial's connections (by trial id) for the trials of a batch, of an
        environment and an actor at (endpoint, implementation) and a datalog at an endpoint:
        :meth:`environment`, :meth:`actor` and :meth:`datalog`, with what a factory can work
        out once (where an endpoint is) worked out once."""
        return (
            lambda trial_id: self.environment(trial_id, *environment),
            lambda trial_id: self.actor(trial_id, *actor),
            lambda trial_id: self.datalog(trial_id, datalog),
        )

    @abstractmethod
    async def pre_trial_hook(self, endpoint: str, trial_id: str, user_id: str, params: TrialParams) -> TrialParams:
        """Call one ``TrialHooksSP.OnPreTrial`` and return the params it answers."""

    async def discover(
        self, endpoint: ParsedEndpoint, role: str, actor_class: str = "", implementation: str = ""
    ) -> str:
        """The endpoint (``grpc://…`` or ``cogment://client``) a discovery endpoint names for a
        ``role`` component; a factory with a directory asks it, one without refuses."""
        raise OrchestratorError(
            f"No directory service defined to inquire discovery endpoint: [{endpoint.original}] "
            "(start the orchestrator with --directory_endpoint or COGMENT_DIRECTORY_ENDPOINT, or use grpc:// endpoints)"
        )

    @abstractmethod
    async def close(self) -> None:
        """Release channels."""
