"""Requested trial ids that gRPC metadata cannot carry are refused at StartTrial (INVALID_ARGUMENT),
and the longest accepted id reaches every component of a trial run over gRPC."""

from __future__ import annotations

import asyncio
import uuid

import cogment
import grpc
import pytest
from cogment.api import orchestrator_pb2, orchestrator_pb2_grpc

from cogment_jupyter.engine.ids import MAX_TRIAL_ID_LENGTH, new_trial_id, trial_id_problem
from tests.sdk_components import Log, acting_actor, counting_environment, trial_params, wait_state

UNSENDABLE = {
    "non-ASCII": ("caf\u00e9", "U+00E9"),
    "NUL": ("a\x00b", "U+0000"),
    "newline": ("a\nb", "U+000A"),
    "DEL": ("a\x7fb", "U+007F"),
    "edge spaces": (" padded ", "space"),
    "too long": ("x" * (MAX_TRIAL_ID_LENGTH + 1), f"at most {MAX_TRIAL_ID_LENGTH}"),
    "over 16 KiB": ("y" * 16385, f"at most {MAX_TRIAL_ID_LENGTH}"),
}


@pytest.mark.parametrize("case", list(UNSENDABLE), ids=list(UNSENDABLE))
async def test_start_trial_refuses_ids_metadata_cannot_carry(orchestrator, sdk, case: str) -> None:
    trial_id, named = UNSENDABLE[case]
    services = sdk()
    services.context.register_environment(counting_environment(Log(), end_after=2), "env")
    services.context.register_actor(acting_actor(Log()), "actor", ["player"])
    endpoint = await services.serve()
    params = trial_params(endpoint, [("p1", "player", endpoint, "actor")])
    async with grpc.aio.insecure_channel(orchestrator.endpoint.removeprefix("grpc://")) as channel:
        stub = orchestrator_pb2_grpc.TrialLifecycleSPStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.StartTrial(
                orchestrator_pb2.TrialStartRequest(params=params._raw_params, trial_id_requested=trial_id)
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in refused.value.details()
    assert orchestrator.orchestrator.trials == {}  # nothing half-started
    # the official SDK's controller gets the same refusal
    with pytest.raises(grpc.aio.AioRpcError) as sdk_refused:
        await orchestrator.controller().start_trial(trial_params=params, trial_id_requested=trial_id)
    assert sdk_refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_longest_accepted_id_reaches_sdk_components(orchestrator, sdk) -> None:
    log = Log()
    services = sdk()
    services.context.register_environment(counting_environment(log, end_after=2), "env")
    services.context.register_actor(acting_actor(log), "actor", ["player"])
    endpoint = await services.serve()
    controller = orchestrator.controller()
    long_id = "L" * (MAX_TRIAL_ID_LENGTH - 8) + " and-end"  # an inner space is fine
    assert len(long_id) == MAX_TRIAL_ID_LENGTH
    params = trial_params(endpoint, [("p1", "player", endpoint, "actor")])
    assert await controller.start_trial(trial_params=params, trial_id_requested=long_id) == long_id
    await asyncio.wait_for(log.done("env").wait(), 20)
    info = await wait_state(controller, long_id, cogment.TrialState.ENDED)
    assert info.tick_id == 2
    assert orchestrator.orchestrator.trials[long_id].errors == []


def test_generated_ids_are_uuid4_strings_and_every_printable_id_is_accepted() -> None:
    ids = {new_trial_id() for _ in range(2000)}
    assert len(ids) == 2000
    for trial_id in ids:
        parsed = uuid.UUID(trial_id)
        assert str(parsed) == trial_id and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    printable = "".join(chr(c) for c in range(0x21, 0x7F))
    assert trial_id_problem(printable) is None
    assert trial_id_problem("a b") is None  # (inner spaces travel)
    assert trial_id_problem("x" * MAX_TRIAL_ID_LENGTH) is None
    for trial_id, named in UNSENDABLE.values():
        assert named in (trial_id_problem(trial_id) or "")
