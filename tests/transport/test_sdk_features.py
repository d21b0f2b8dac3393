"""Client actors, rewards, messages, optional actors, failures and hooks with the official SDK."""

from __future__ import annotations

import asyncio

import cogment
from google.protobuf import wrappers_pb2

from tests.sdk_components import (
    Act,
    Log,
    Obs,
    acting_actor,
    counting_environment,
    serve_basic,
    trial_params,
    wait_state,
)

ACTIVE = cogment.EventType.ACTIVE
ENDING = cogment.EventType.ENDING


async def test_client_actors_join_by_name_and_by_class(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log, end_after=2)
    controller = orchestrator.controller()
    actors = [("named", "player", "cogment://client", ""), ("classy", "coach", "client", "")]
    trial_id = await controller.start_trial(trial_params=trial_params(endpoint, actors))
    await wait_state(controller, trial_id, cogment.TrialState.PENDING)
    client = cogment.Context(
        user_id="client", cog_settings=orchestrator.context._cog_settings, prometheus_registry=None
    )
    client.register_actor(acting_actor(log, action=7), "human", ["player"])
    client.register_actor(acting_actor(log, action=7), "coach_impl", ["coach"])  # joins by its class
    lifecycle = cogment.Endpoint(orchestrator.endpoint)
    joins = [
        asyncio.create_task(client.join_trial(trial_id, lifecycle, "human", actor_name="named")),
        asyncio.create_task(client.join_trial(trial_id, lifecycle, "coach_impl")),
    ]
    await asyncio.wait_for(asyncio.gather(*joins), 10)
    assert [e[:2] for e in log.of("named")] == [(ACTIVE, 0), (ACTIVE, 1), (ENDING, 2), ("final",), ("done",)]
    assert [e[:2] for e in log.of("classy")] == [(ACTIVE, 0), (ACTIVE, 1), (ENDING, 2), ("final",), ("done",)]
    assert log.of("env")[0][2] == [(cogment.ActorStatus.ACTIVE, 7), (cogment.ActorStatus.ACTIVE, 7)]


async def test_rewards_collate_by_confidence_with_user_data(orchestrator, sdk):
    log = Log()
    received: list = []

    async def env(session):
        session.start([("*", Obs(value=0.0))])
        async for event in session.all_events():
            if event.actions:
                tick = event.actions[0].tick_id
                session.add_reward(21.0, 1.0, ["p1"], user_data=wrappers_pb2.StringValue(value=f"t{tick}"))
                session.add_reward(30.0, 0.5, ["p1"])
                if tick >= 2 or event.type == ENDING:
                    session.end([("*", Obs(value=1.0))])
                else:
                    session.produce_observations([("*", Obs(value=1.0))])
        log.done("env").set()

    async def actor(session):
        session.start()
        async for event in session.all_events():
            for reward in event.rewards:
                sources = []
                for s in reward.all_sources():
                    data = wrappers_pb2.StringValue()
                    if s.user_data is not None and s.user_data.type_url:
                        s.user_data.Unpack(data)
                    sources.append((s.sender_name, s.value, s.confidence, data.value))
                received.append((reward.tick_id, reward.value, sources))
            if event.observation is not None and event.type == ACTIVE:
                session.do_action(Act(value=0))
        log.done("p1").set()

    services = sdk()
    services.context.register_environment(env, "env")
    services.context.register_actor(actor, "actor", ["player"])
    endpoint = await services.serve()
    await orchestrator.controller().start_trial(
        trial_params=trial_params(endpoint, [("p1", "player", endpoint, "actor")])
    )
    await asyncio.wait_for(log.done("p1").wait(), 10)
    assert [r[:2] for r in received] == [(0, 24.0), (1, 24.0), (2, 24.0)]
    assert received[1][2] == [("env", 21.0, 1.0, "t1"), ("env", 30.0, 0.5, "")]


async def test_messages_reach_names_wildcards_classes_and_the_environment(orchestrator, sdk):
    log = Log()

    def sender(session_log: Log):
        async def impl(session):
            session.start()
            sent = False
            async for event in session.all_events():
                for message in event.messages:
                    payload = wrappers_pb2.StringValue()
                    message.payload.Unpack(payload)
                    session_log.add(session.name, "message", message.sender_name, payload.value)
                if event.observation is not None and event.type == ACTIVE:
                    if session.name == "p1" and not sent:
                        sent = True
                        for text, to in (
                            ("direct", ["p2"]),
                            ("all", ["*"]),
                            ("coaches", ["coach.*"]),
                            ("env", ["env"]),
                            ("named", ["coach.p3"]),
                        ):
                            session.send_message(wrappers_pb2.StringValue(value=text), to)
                    session.do_action(Act(value=0))
            session_log.done(session.name).set()

        return impl

    services = sdk()
    services.context.register_environment(counting_environment(log, end_after=3), "env")
    services.context.register_actor(sender(log), "actor", ["player", "coach"])
    endpoint = await services.serve()
    actors = [
        ("p1", "player", endpoint, "actor"),
        ("p2", "coach", endpoint, "actor"),
        ("p3", "coach", endpoint, "actor"),
    ]
    await orchestrator.controller().start_trial(trial_params=trial_params(endpoint, actors))
    for name in ("env", "p1", "p2", "p3"):
        await asyncio.wait_for(log.done(name).wait(), 10)

    def texts(name):
        return sorted(e[2] for e in log.of(name) if e[0] == "message")

    assert texts("p1") == ["all"]
    assert texts("p2") == ["all", "coaches", "direct"]
    assert texts("p3") == ["all", "coaches", "named"]
    assert [e for e in log.of("env") if e[0] == "message"] == [("message", "p1", "env", "env")]
    assert all(e[1] == "p1" for name in ("p2", "p3") for e in log.of(name) if e[0] == "message")


async def test_unreachable_optional_actor_gets_its_default_action(orchestrator, sdk):
    log = Log()
    endpoint = await serve_basic(sdk, log, end_after=2)
    params = trial_params(
        endpoint, [("p1", "player", endpoint, "actor"), ("ghost", "player", "grpc://127.0.0.1:1", "x")]
    )
    raw = params._raw_params
    raw.actors[1].optional = True
    raw.actors[1].initial_connection_timeout = 0.5
    raw.actors[1].default_action.content = Act(value=42).SerializeToString()
    await orchestrator.controller().start_trial(trial_params=params)
    await asyncio.wait_for(log.done("env").wait(), 10)
    first = log.of("env")[0]
    assert first[2] == [(cogment.ActorStatus.ACTIVE, 1), (cogment.ActorStatus.ACTIVE, 42)]


async def test_required_actor_disconnecting_ends_the_trial(orchestrator, sdk):
    log = Log()

    async def quitter(session):
        session.start()
        async for event in session.all_events():
            if event.observation is not None and event.type == ACTIVE:
                if event.observation.tick_id == 1:
                    raise RuntimeError("the actor crashed")
                session.do_action(Act(value=0))

    endpoint = await serve_basic(sdk, log, actor_impls={"actor": acting_actor(log), "quitter": quitter})
    controller = orchestrator.controller()
    trial_id = await controller.start_trial(
        trial_params=trial_params(endpoint, [("p1", "player", endpoint, "actor"), ("q", "player", endpoint, "quitter")])
    )
    await wait_state(controller, trial_id, cogment.TrialState.ENDED)
    trial = orchestrator.orchestrator.trials[trial_id]
    assert trial.end_details == "Action processing requirement failure [Required actors [q] unavailable at tick [1]]"
    await asyncio.wait_for(log.done("env").wait(), 10)


async def test_environment_raising_ends_the_trial_and_the_next_one_runs(orchestrator, sdk):
    log = Log()
    calls = []

    async def fragile(session):
        calls.append(1)
        session.start([("*", Obs(value=0.0))])
        async for event in session.all_events():
            if event.actions:
                if len(calls) == 1:
                    raise RuntimeError("the environment crashed")
                session.end([("*", Obs(value=1.0))])

    services = sdk()
    services.context.register_environment(fragile, "env")
    services.context.register_actor(acting_actor(log), "actor", ["player"])
    endpoint = await services.serve()
    controller = orchestrator.controller()
    params = trial_params(endpoint, [("p1", "player", endpoint, "actor")])
    first = await controller.start_trial(trial_params=params)
    await wait_state(controller, first, cogment.TrialState.ENDED)
    assert orchestrator.orchestrator.trials[first].end_details == "Environment disconnected"
    second = await controller.start_trial(trial_params=params)
    await wait_state(controller, second, cogment.TrialState.ENDED)
    assert orchestrator.orchestrator.trials[second].end_details is None
