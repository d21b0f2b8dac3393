"""Official-SDK environments, actors and datalogs that record what they see, for the tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import cogment
from google.protobuf import wrappers_pb2

from tests import sdk_cog_settings

Obs = wrappers_pb2.DoubleValue
Act = wrappers_pb2.Int64Value


@dataclass
class Log:
    """Events seen by SDK components, in order, and a signal when each one finished."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    finished: dict[str, asyncio.Event] = field(default_factory=dict)

    def add(self, *event: Any) -> None:
        self.events.append(event)

    def done(self, who: str) -> asyncio.Event:
        return self.finished.setdefault(who, asyncio.Event())

    def of(self, who: str) -> list[tuple[Any, ...]]:
        return [e[1:] for e in self.events if e[0] == who]


def counting_environment(log: Log, *, end_after: int | None = None, name: str = "env"):
    """Observation value = tick; ends by itself after ``end_after`` action sets when given."""

    async def impl(session: cogment.EnvironmentSession) -> None:
        steps = 0
        session.start([("*", Obs(value=0.0))])
        async for event in session.all_events():
            for message in event.messages:
                log.add(name, "message", message.sender_name, message.receiver_name, _unpack(message.payload))
            if not event.actions:
                if event.type == cogment.EventType.FINAL:
                    log.add(name, "final")
                continue
            actions = [(a.status, a.action.value if a.action is not None else None) for a in event.actions]
            log.add(name, event.type, event.actions[0].tick_id, actions)
            steps += 1
            observation = [("*", Obs(value=float(steps)))]
            if event.type == cogment.EventType.ENDING or (end_after is not None and steps >= end_after):
                session.end(observation)
            else:
                session.produce_observations(observation)
        log.add(name, "done")
        log.done(name).set()

    return impl


def acting_actor(log: Log, *, action: int = 1, reward_each_tick: float | None = None):
    """Acts ``action`` on every active observation and records every event it receives."""

    async def impl(session: cogment.ActorSession) -> None:
        name = session.name
        session.start()
        async for event in session.all_events():
            for reward in event.rewards:
                sources = [(s.sender_name, s.value, s.confidence) for s in reward.all_sources()]
                log.add(name, "reward", reward.tick_id, reward.value, sources)
            for message in event.messages:
                log.add(name, "message", message.sender_name, message.receiver_name, _unpack(message.payload))
            if event.observation is not None:
                log.add(name, event.type, event.observation.tick_id, event.observation.observation.value)
                if event.type == cogment.EventType.ACTIVE:
                    session.do_action(Act(value=action))
                    if reward_each_tick is not None:
                        session.add_reward(value=reward_each_tick, confidence=1.0, to=["*"])
            elif event.type == cogment.EventType.FINAL:
                log.add(name, "final")
        log.add(name, "done")
        log.done(name).set()

    return impl


def _unpack(payload: Any) -> str | None:
    if payload is None or not payload.type_url:
        return None
    value = wrappers_pb2.StringValue()
    payload.Unpack(value)
    return value.value


def trial_params(
    env_endpoint: str,
    actors: list[tuple[str, str, str, str]],
    *,
    max_steps: int = 0,
    datalog_endpoint: str | None = None,
    **kwargs: Any,
) -> cogment.TrialParameters:
    """``actors`` are (name, class, endpoint, implementation)."""
    params = cogment.TrialParameters(
        sdk_cog_settings,
        environment_name="env",
        environment_endpoint=env_endpoint,
        environment_implementation="env",
        max_steps=max_steps,
        actors=[
            cogment.ActorParameters(sdk_cog_settings, name=name, class_name=cls, endpoint=endpoint, implementation=impl)
            for name, cls, endpoint, impl in actors
        ],
        **kwargs,
    )
    if datalog_endpoint is not None:
        params.datalog_endpoint = datalog_endpoint
    return params


def recording_datalog(samples: list, done: asyncio.Event, params_seen: list | None = None):
    """An SDK datalog keeping every raw ``DatalogSample`` it receives."""

    async def impl(session) -> None:
        if params_seen is not None:
            params_seen.append(session.trial_parameters)
        session.start()
        async for sample in session.all_samples():
            samples.append(sample._raw_sample)
        done.set()

    return impl


async def wait_state(controller: cogment.Controller, trial_id: str, state: cogment.TrialState, timeout=10.0):
    async def poll():
        while True:
            infos = await controller.get_trial_info(trial_id)
            if infos and infos[0].state == state:
                return infos[0]
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout)


async def serve_basic(sdk, log: Log, *, end_after=None, actor_impls=None, datalog=None) -> str:
    services = sdk()
    services.context.register_environment(counting_environment(log, end_after=end_after), "env")
    for impl_name, impl in (actor_impls or {"actor": acting_actor(log)}).items():
        services.context.register_actor(impl, impl_name, ["player", "coach"])
    if datalog is not None:
        services.context.register_datalog(datalog)
    return await services.serve()
