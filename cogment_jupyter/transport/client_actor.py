"""Client actors: the orchestrator's slot for one, and the client side that joins a slot.

A slot is filled either by a ``ClientActorSP.RunTrial`` stream (a client anywhere, e.g. the
official SDK's ``join_trial``) or, in the orchestrator's own process, by an in-process actor
connection (:meth:`ClientActorSlot.attach`). :func:`join_over_grpc` is the client side of the
protocol for any actor connection, so the same human or scripted actor can join a trial of a
local orchestrator in-process and of a remote one over gRPC.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import grpc

from cogment_jupyter.engine.components import ActorConnection, ActorPort, ClientActorConnection, InitError
from cogment_jupyter.engine.records import ActorInit, Message, Observation, Reward
from cogment_jupyter.proto import common_pb2, orchestrator_pb2_grpc
from cogment_jupyter.transport import protobuf_records
from cogment_jupyter.transport.component_streams import ActorStream
from cogment_jupyter.transport.grpc_components import NORMAL, ActorStreamBase, handshake
from cogment_jupyter.transport.streams import StreamPump

log = logging.getLogger(__name__)


class ClientActorSlot(ActorStreamBase, ClientActorConnection):
    """A client actor's slot in a trial: ``init`` waits until a client fills it."""

    def __init__(self, trial_id: str) -> None:
        self._trial_id = trial_id
        self._pump = None
        self._port = None
        self._ended = False
        self._claimed = False
        self._inner: ActorConnection | None = None
        self._init: ActorInit | None = None
        self._init_ready = asyncio.Event()
        self._joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def joined(self) -> bool:
        return self._claimed

    async def init(self, init: ActorInit, port: ActorPort) -> None:
        self._init = init
        self._port = port
        self._init_ready.set()
        await self._joined

    async def _claim(self) -> ActorInit:
        self._claimed = True
        await self._init_ready.wait()
        if self._ended or self._init is None:
            raise InitError("the trial ended before the client joined")
        return self._init

    def _fail_join(self, error: BaseException) -> None:
        if not self._joined.done():
            self._joined.set_exception(InitError(f"the client failed to join: {error}"))

    async def serve(self, pump: StreamPump) -> None:
        """Run in the ``ClientActorSP.RunTrial`` handler until ``END`` is written and the reader is done."""
        init = await self._claim()
        self._pump = pump
        try:
            await pump.write_now(
                common_pb2.ActorRunTrialInput(state=NORMAL, init_input=protobuf_records.actor_init_to_proto(init))
            )
        except ConnectionError as error:
            self._fail_join(error)
            raise
        pump.start(self._on_message, self._on_closed)
        if not self._joined.done():
            self._joined.set_result(None)
        await pump.wait_writer()
        await pump.wait_closed(timeout=5.0)  # give the client time to close its side
        pump.cancel()

    async def attach(self, connection: ActorConnection) -> None:
        """Fill the slot with an in-process actor connection (same semantics, no gRPC)."""
        init = await self._claim()
        assert self._port is not None
        try:
            await connection.init(init, self._port)
        except Exception as error:
            self._fail_join(error)
            raise
        self._inner = connection
        if not self._joined.done():
            self._joined.set_result(None)

    def observation(self, observation: Observation, rewards: Sequence[Reward], last: bool) -> None:
        if self._inner is not None:
            self._inner.observation(observation, rewards, last)
        else:
            super().observation(observation, rewards, last)

    def message(self, message: Message) -> None:
        if self._inner is not None:
            self._inner.message(message)
        else:
            super().message(message)

    def end(self, details: str | None) -> None:
        if self._ended:
            return
        self._init_ready.set()
        if not self._joined.done():
            self._joined.set_exception(InitError("the trial ended before a client joined"))
            self._joined.exception()  # mark retrieved: the waiter may be gone
        if self._inner is not None:
            self._ended = True
            self._inner.end(details)
        else:
            self._close(details)


async def join_over_grpc(
    channel: grpc.aio.Channel,
    trial_id: str,
    connection: ActorConnection,
    *,
    actor_name: str | None = None,
    actor_class: str | None = None,
) -> None:
    """Join a trial's client slot through ``ClientActorSP`` and run ``connection`` until the end."""
    if not actor_name and not actor_class:
        raise ValueError("join a trial by actor_name or by actor_class")
    call = orchestrator_pb2_grpc.ClientActorSPStub(channel).RunTrial(metadata=(("trial-id", trial_id),))
    pump = StreamPump(f"client actor in trial {trial_id}", call.read, call.write, call.done_writing)
    selection = (
        common_pb2.ActorInitialOutput(actor_name=actor_name)
        if actor_name
        else common_pb2.ActorInitialOutput(actor_class=actor_class)
    )
    first_message = common_pb2.ActorRunTrialOutput(state=NORMAL, init_output=selection)
    reply = await handshake(call, pump, first_message, common_pb2.ActorRunTrialOutput, "orchestrator", "init_input")
    init = protobuf_records.actor_init_from_proto(reply.init_input)
    stream = ActorStream(pump)
    try:
        await connection.init(init, stream)
    except BaseException:
        call.cancel()
        raise
    await stream.run(connection)
