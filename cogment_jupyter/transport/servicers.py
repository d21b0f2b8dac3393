"""The services an orchestrator serves: ``TrialLifecycleSP`` and ``ClientActorSP`` (§2, §6.2)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc

from cogment_jupyter.engine.errors import InvalidTrialId, OrchestratorError
from cogment_jupyter.engine.orchestrator import Orchestrator, TrialEvent
from cogment_jupyter.engine.records import TrialState
from cogment_jupyter.engine.service_status import status_reply, version_info
from cogment_jupyter.engine.trial import Trial
from cogment_jupyter.proto import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc
from cogment_jupyter.transport import protobuf_records
from cogment_jupyter.transport.client_actor import ClientActorSlot
from cogment_jupyter.transport.streams import StreamPump

log = logging.getLogger(__name__)


def _trial_ids(context: grpc.aio.ServicerContext) -> list[str]:
    return [value for key, value in context.invocation_metadata() or () if key == "trial-id"]


def trial_info(trial: Trial, *, actors: bool = False, observation: bool = False) -> orchestrator_pb2.TrialInfo:
    info = orchestrator_pb2.TrialInfo(
        trial_id=trial.id,
        state=int(trial.state),
        env_name=trial.env_name,
        tick_id=trial.tick_id,
        trial_duration=trial.duration_ns,
    )
    info.properties.update(trial.params.properties)
    if actors and trial.state >= TrialState.PENDING:
        info.actors_in_trial.extend(
            common_pb2.TrialActor(name=a.name, actor_class=a.actor_class) for a in trial.actors_in_trial()
        )
    if observation and trial.latest_observations is not None:
        info.latest_observation.CopyFrom(protobuf_records.observation_set_to_proto(trial.latest_observations))
        info.tick_id = trial.tick_id
    return info


class TrialLifecycleServicer(orchestrator_pb2_grpc.TrialLifecycleSPServicer):
    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator

    async def StartTrial(self, request, context):
        kind = request.WhichOneof("start_data")
        try:
            trial_id = await self.orchestrator.start_trial(
                params=request.params if kind == "params" else None,
                config=request.config.content if kind == "config" else None,
                trial_id_requested=request.trial_id_requested,
                user_id=request.user_id,
            )
        except InvalidTrialId as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"TrialLifecycleSP/StartTrial: [{error}]")
        except OrchestratorError as error:
            await context.abort(grpc.StatusCode.UNKNOWN, f"TrialLifecycleSP/StartTrial failure: [{error}]")
        return orchestrator_pb2.TrialStartReply(trial_id=trial_id)

    async def TerminateTrial(self, request, context):
        ids = _trial_ids(context)
        if not ids:
            await context.abort(grpc.StatusCode.UNKNOWN, "No 'trial-id' key in metadata")
        self.orchestrator.terminate(ids, hard=request.hard_termination)
        return orchestrator_pb2.TerminateTrialReply()

    async def GetTrialInfo(self, request, context):
        trials = self.orchestrator.find(_trial_ids(context))
        return orchestrator_pb2.TrialInfoReply(
            trial=[
                trial_info(t, actors=request.get_actor_list, observation=request.get_latest_observation) for t in trials
            ]
        )

    async def WatchTrials(self, request, context) -> AsyncIterator[orchestrator_pb2.TrialListEntry]:
        states = [TrialState(s) for s in request.filter]
        async for event in self.orchestrator.watch(states):
            yield _entry(event, request.full_info)

    async def Version(self, request, context):
        return version_info()

    async def Status(self, request, context):
        return status_reply(request)


def _entry(event: TrialEvent, full_info: bool) -> orchestrator_pb2.TrialListEntry:
    if not full_info:
        return orchestrator_pb2.TrialListEntry(trial_id=event.trial.id, state=int(event.state))
    trial = event.trial
    info = orchestrator_pb2.TrialInfo(
        trial_id=trial.id,
        state=int(event.state),
        env_name=trial.env_name,
        tick_id=event.tick_id,
        trial_duration=event.duration_ns,
    )
    info.properties.update(trial.params.properties)
    return orchestrator_pb2.TrialListEntry(info=info)


class ClientActorServicer(orchestrator_pb2_grpc.ClientActorSPServicer):
    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator

    async def RunTrial(self, request_iterator, context):
        ids = _trial_ids(context)
        if len(ids) != 1:
            await context.abort(grpc.StatusCode.UNKNOWN, "Exactly one 'trial-id' is required in metadata")
        pump = StreamPump(f"client actor for trial {ids[0]}", context.read, context.write, None)
        while True:
            first = await pump.read()
            if first is None:
                return
            if first.state == common_pb2.HEARTBEAT:
                await pump.write_now(common_pb2.ActorRunTrialInput(state=common_pb2.HEARTBEAT))
                continue
            break
        if first.state != common_pb2.NORMAL or not first.HasField("init_output"):
            await context.abort(grpc.StatusCode.UNKNOWN, "The first message of a client actor must be its init_output")
        selection = first.init_output
        which = selection.WhichOneof("slot_selection")
        name = selection.actor_name if which == "actor_name" else None
        actor_class = selection.actor_class if which == "actor_class" else None
        try:
            _, slot = self.orchestrator.join_client(ids[0], name, actor_class)
        except OrchestratorError as error:
            await context.abort(grpc.StatusCode.UNKNOWN, str(error))
        connection = slot.connection
        assert isinstance(connection, ClientActorSlot)
        await connection.serve(pump)

    async def Version(self, request, context):
        return version_info()

    async def Status(self, request, context):
        return status_reply(request)
