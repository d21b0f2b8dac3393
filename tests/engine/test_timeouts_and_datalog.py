"""Timeouts, stale trials, garbage collection, trial info and datalog contents, with the official SDK."""

from __future__ import annotations

import asyncio

import cogment
from cogment.api import common_pb2
from google.protobuf import wrappers_pb2

from tests.sdk_components import (
    Act,
    Log,
    Obs,
    acting_actor,
    recording_datalog,
    serve_basic,
    trial_params,
    wait_state,
)
from tests.waiting import await_condition

ACTIVE = cogment.EventType.ACTIVE


def slow_actor(delay_at_tick: dict[int, float], action: int = 1):
    async def impl(session):
        session.start()
        async for event in session.all_events():
            if event.observation is not None and event.type == ACTIVE:
                delay = delay_at_tick.get(event.observation.tick_id, 0)
                if delay:
                    await asyncio.sleep(delay)
                session.do_action(Act(value=action))

    return impl


async def test_optional_actor_timing_out_gets_its_default_for_that_tick_only(orchestrator, sdk):
    log = Log()
    samples: list = []
    logged = asyncio.Event()
    endpoint = await serve_basic(
        sdk,
        log,
        end_after=3,
        actor_impls={"actor": acting_actor(log), "slow": slow_actor({1: 0.35}, action=5)},
        datalog=recording_datalog(samples, logged),
    )
    params = trial_params(
        endpoint, [("p1", "player", endpoint, "actor"), ("late", "player", endpoint, "slow")], datalog_endpoint=endpoint
    )
    late = params._raw_params.actors[1]
    late.optional = True
    late.response_timeout = 0.3
    late.default_action.content = Act(value=9).SerializeToString()
    await orchestrator.controller().start_trial(trial_params=params)
    await asyncio.wait_for(logged.wait(), 15)
    statuses = [[(s, v) for s, v in e[2]] for e in log.of("env") if e[0] in (ACTIVE, cogment.EventType.ENDING)]
    assert statuses[0][1] == (cogment.ActorStatus.ACTIVE, 5)
    assert statuses[1][1] == (cogment.ActorStatus.ACTIVE, 9)  # the default, sent as a normal action
    assert statuses[2][1] == (cogment.ActorStatus.ACTIVE, 5)  # engaged again at the next tick
    assert [list(s.default_actors) for s in samples[:3]] == [[], [1], []]
    # the late action for tick 1 was dropped: the sample keeps the placeholder
    assert samples[1].actions[1].tick_id == -2


async def test_required_actor_timing_out_ends_the_trial(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log, actor_impls={"slow": slow_actor({0: 5.0})})
    params = trial_params(endpoint, [("p1", "player", endpoint, "slow")])
    params._raw_params.actors[0].response_timeout = 0.2
    controller = orchestrator.controller()
    trial_id = await controller.start_trial(trial_params=params)
    await wait_state(controller, trial_id, cogment.TrialState.ENDED)
    trial = orchestrator.orchestrator.trials[trial_id]
    assert trial.end_details == "Action processing requirement failure [Required actors [p1] unavailable at tick [0]]"


async def test_actor_that_never_connects_fails_init_after_its_timeout(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log)
    params = trial_params(endpoint, [("p1", "player", "cogment://client", "")])
    params._raw_params.actors[0].initial_connection_timeout = 0.3
    controller = orchestrator.controller()
    trial_id = await controller.start_trial(trial_params=params)
    await wait_state(controller, trial_id, cogment.TrialState.ENDED)
    assert orchestrator.orchestrator.trials[trial_id].end_details == "Failed to initialize all actors"


async def test_stale_trial_ends_and_ended_trials_are_collected(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log, actor_impls={"slow": slow_actor({0: 30.0})})
    params = trial_params(endpoint, [("p1", "player", endpoint, "slow")], max_inactivity=1)
    controller = orchestrator.controller()
    trial_id = await controller.start_trial(trial_params=params)
    await wait_state(controller, trial_id, cogment.TrialState.ENDED, timeout=15)
    trial = orchestrator.orchestrator.trials[trial_id]
    assert trial.end_details == "The trial was inactive for too long"
    engine = orchestrator.orchestrator
    engine.ended_retention = 0
    engine.collect_garbage()
    assert trial_id not in engine.trials
    reply = await engine_info(orchestrator, [trial_id])
    assert list(reply.trial) == []


async def engine_info(orchestrator, ids):
    import grpc
    from cogment.api import orchestrator_pb2, orchestrator_pb2_grpc

    async with grpc.aio.insecure_channel(orchestrator.endpoint.removeprefix("grpc://")) as channel:
        stub = orchestrator_pb2_grpc.TrialLifecycleSPStub(channel)
        metadata = tuple(("trial-id", i) for i in ids)
        return await stub.GetTrialInfo(
            orchestrator_pb2.TrialInfoRequest(get_latest_observation=True, get_actor_list=True), metadata=metadata
        )


async def test_trial_info_with_actors_and_latest_observation_and_several_ids(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log, actor_impls={"slow": slow_actor({2: 30.0})})
    controller = orchestrator.controller()
    params = trial_params(endpoint, [("p1", "player", endpoint, "slow")], properties={"k": "v"})
    ids = [await controller.start_trial(trial_params=params) for _ in range(2)]

    async def both_wait_at_tick_2():
        return [t.tick_id for t in (await engine_info(orchestrator, ids)).trial] == [2, 2]

    await await_condition(both_wait_at_tick_2, 10, "both trials waiting for the slow actor at tick 2")
    reply = await engine_info(orchestrator, ids)
    assert [t.trial_id for t in reply.trial] == ids
    for info in reply.trial:
        assert info.state == common_pb2.RUNNING and info.env_name == "env" and dict(info.properties) == {"k": "v"}
        assert [(a.name, a.actor_class) for a in info.actors_in_trial] == [("p1", "player")]
        assert info.tick_id == 2
        value = Obs()
        value.ParseFromString(info.latest_observation.observations[0])
        assert value.value == 2.0
    everything = await engine_info(orchestrator, [])
    assert set(ids) <= {t.trial_id for t in everything.trial}
    await controller.terminate_trial(ids, hard=True)
    for trial_id in ids:
        await wait_state(controller, trial_id, cogment.TrialState.ENDED)


async def test_datalog_samples_carry_rewards_messages_and_exclusions(orchestrator, sdk):
    samples: list = []
    logged = asyncio.Event()
    params_seen: list = []

    async def chatty(session):
        session.start()
        async for event in session.all_events():
            if event.observation is not None and event.type == ACTIVE:
                if event.observation.tick_id == 0:
                    session.send_message(wrappers_pb2.StringValue(value="hello"), ["env"])
                session.do_action(Act(value=2))

    async def env(session):
        session.start([("*", Obs(value=0.0))])
        async for event in session.all_events():
            if event.actions:
                session.add_reward(0.5, 1.0, ["player.*"])
                if event.actions[0].tick_id >= 1:
                    session.end([("*", Obs(value=1.0))])
                else:
                    session.produce_observations([("*", Obs(value=1.0))])

    services = sdk()
    services.context.register_environment(env, "env")
    services.context.register_actor(chatty, "actor", ["player"])
    services.context.register_datalog(recording_datalog(samples, logged, params_seen))
    endpoint = await services.serve()
    params = trial_params(endpoint, [("p1", "player", endpoint, "actor")], datalog_endpoint=endpoint)
    params._raw_params.datalog.exclude_fields.append("Observations")
    trial_id = await orchestrator.controller().start_trial(trial_params=params)
    await asyncio.wait_for(logged.wait(), 15)
    assert list(params_seen[0].datalog_exclude_fields) == ["Observations"]
    assert [s.info.tick_id for s in samples] == [0, 1, 2]
    assert all(not s.HasField("observations") for s in samples)
    assert [len(s.rewards) for s in samples] == [1, 1, 0]
    reward = samples[0].rewards[0]
    assert reward.receiver_name == "player.*" and reward.sources[0].sender_name == "env"
    message = samples[0].messages[0]
    assert (message.sender_name, message.receiver_name) == ("p1", "env")
    assert [a.content for a in samples[0].actions] == [Act(value=2).SerializeToString()]
    assert samples[-1].info.state == common_pb2.ENDED
    assert trial_id
