"""Trials between official-SDK services and our orchestrator, over real gRPC on loopback."""

from __future__ import annotations

import asyncio

import cogment

from tests.sdk_components import (
    Log,
    acting_actor,
    counting_environment,
    recording_datalog,
    serve_basic,
    trial_params,
    wait_state,
)
from tests.waiting import await_condition

ACTIVE = cogment.EventType.ACTIVE
ENDING = cogment.EventType.ENDING


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


async def test_max_steps_counts_ticks_with_the_upstream_off_by_one(orchestrator, sdk):
    log = Log()
    samples: list = []
    logged = asyncio.Event()
    endpoint = await serve_basic(sdk, log, datalog=recording_datalog(samples, logged))
    params = trial_params(endpoint, [("p1", "player", endpoint, "actor")], max_steps=2, datalog_endpoint=endpoint)
    trial_id = await orchestrator.controller().start_trial(trial_params=params)
    await asyncio.wait_for(logged.wait(), 10)
    await asyncio.wait_for(log.done("env").wait(), 10)
    # env: normal action sets at ticks 0 and 1, the tick-2 set comes as ENDING (§12)
    assert [e[:2] for e in log.of("env")] == [(ACTIVE, 0), (ACTIVE, 1), (ENDING, 2), ("final",), ("done",)]
    assert [e[:2] for e in log.of("p1")] == [
        (ACTIVE, 0),
        (ACTIVE, 1),
        (ACTIVE, 2),
        (ENDING, 3),
        ("final",),
        ("done",),
    ]
    states = [s.info.state for s in samples]
    assert [s.info.tick_id for s in samples] == [0, 1, 2, 3]
    assert states == [3, 3, 4, 5]  # RUNNING, RUNNING, TERMINATING, ENDED
    assert list(samples[2].info.special_events) == ["Maximum number of steps reached"]
    assert list(samples[3].info.special_events) == ["Evironment ended trial"]
    assert [a.tick_id for a in samples[3].actions] == [-2]
    assert all(s.observations.tick_id == -1 for s in samples)
    assert trial_id


async def test_soft_terminate_gives_actors_only_the_final_observation(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log)
    controller = orchestrator.controller()
    trial_id = await controller.start_trial(trial_params=trial_params(endpoint, [("p1", "player", endpoint, "actor")]))
    await wait_state(controller, trial_id, cogment.TrialState.RUNNING)
    await await_condition(lambda: [e[0] for e in log.of("p1")].count(ACTIVE) >= 3, 10, "the actor to act 3 times")
    await controller.terminate_trial([trial_id])
    await asyncio.wait_for(log.done("p1").wait(), 10)
    events = log.of("p1")
    ending = [e for e in events if e[0] == ENDING]
    assert len(ending) == 1 and events[-2:] == [("final",), ("done",)]
    assert ending[0][1] == events[-3][1]  # the ENDING observation is the last one
    assert log.of("env")[-2:] == [("final",), ("done",)]


async def test_hard_terminate_ends_without_final(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log)
    controller = orchestrator.controller()
    trial_id = await controller.start_trial(trial_params=trial_params(endpoint, [("p1", "player", endpoint, "actor")]))
    await wait_state(controller, trial_id, cogment.TrialState.RUNNING)
    await controller.terminate_trial([trial_id], hard=True)
    await asyncio.wait_for(log.done("p1").wait(), 10)
    await asyncio.wait_for(log.done("env").wait(), 10)
    assert ("final",) not in log.of("p1")
    assert ("final",) not in log.of("env")
    await wait_state(controller, trial_id, cogment.TrialState.ENDED)


async def test_watch_trials_sees_exactly_the_five_states(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log, end_after=2)
    controller = orchestrator.controller()
    seen: list = []
    ready = asyncio.Event()

    async def watch():
        ready.set()
        async for info in controller.watch_trials():
            seen.append(info.state)
            if info.state == cogment.TrialState.ENDED:
                return

    watcher = asyncio.create_task(watch())
    await ready.wait()
    engine = orchestrator.orchestrator
    await await_condition(lambda: engine.watcher_count == 1, 10, "the subscription (before the trial starts)")
    await controller.start_trial(trial_params=trial_params(endpoint, [("p1", "player", endpoint, "actor")]))
    await asyncio.wait_for(watcher, 10)
    S = cogment.TrialState
    assert seen == [S.INITIALIZING, S.PENDING, S.RUNNING, S.TERMINATING, S.ENDED]


async def test_four_actors_of_two_classes_from_one_endpoint_keep_params_order(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(
        sdk,
        log,
        end_after=2,
        actor_impls={f"a{i}": acting_actor(log, action=i) for i in range(4)},
    )
    actors = [
        ("w", "coach", endpoint, "a0"),
        ("x", "player", endpoint, "a1"),
        ("y", "coach", endpoint, "a2"),
        ("z", "player", endpoint, "a3"),
    ]
    controller = orchestrator.controller()
    trial_id = await controller.start_trial(trial_params=trial_params(endpoint, actors))
    await asyncio.wait_for(log.done("env").wait(), 10)
    first = log.of("env")[0]
    assert [a[1] for a in first[2]] == [0, 1, 2, 3]
    names = [(a.actor_name, a.actor_class_name) for a in await controller.get_actors(trial_id)]
    assert names == [("w", "coach"), ("x", "player"), ("y", "coach"), ("z", "player")]
