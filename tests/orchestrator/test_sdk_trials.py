"""Trials between official-SDK services and our orchestrator, over real gRPC on loopback."""

from __future__ import annotations

import asyncio

import cogment

from tests.orchestrator.sdk_components import Log, acting_actor, counting_environment, trial_params

ACTIVE = cogment.EventType.ACTIVE
ENDING = cogment.EventType.ENDING


async def wait_state(controller: cogment.Controller, trial_id: str, state: cogment.TrialState, timeout=10.0):
    async def poll():
        while True:
            infos = await controller.get_trial_info(trial_id)
            if infos and infos[0].state == state:
                return infos[0]
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout)


async def test_environment_ends_the_trial(orchestrator, sdk):
    log = Log()
    services = sdk()
    services.context.register_environment(counting_environment(log, end_after=3), "env")
    services.context.register_actor(acting_actor(log), "actor", ["player"])
    endpoint = await services.serve()
    controller = orchestrator.controller()
    params = trial_params(endpoint, [("p1", "player", endpoint, "actor")])
    trial_id = await controller.start_trial(trial_params=params)
    assert trial_id
    await asyncio.wait_for(log.done("env").wait(), 10)
    await asyncio.wait_for(log.done("p1").wait(), 10)
    assert log.of("env") == [
        (ACTIVE, 0, [(cogment.ActorStatus.ACTIVE, 1)]),
        (ACTIVE, 1, [(cogment.ActorStatus.ACTIVE, 1)]),
        (ACTIVE, 2, [(cogment.ActorStatus.ACTIVE, 1)]),
        ("final",),
        ("done",),
    ]
    assert log.of("p1") == [
        (ACTIVE, 0, 0.0),
        (ACTIVE, 1, 1.0),
        (ACTIVE, 2, 2.0),
        (ENDING, 3, 3.0),
        ("final",),
        ("done",),
    ]
    info = await wait_state(controller, trial_id, cogment.TrialState.ENDED)
    assert info.tick_id == 3
