"""Engine records <-> Cogment protobuf messages, used only at the gRPC edge."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import any_pb2, struct_pb2
from google.protobuf.message import Message as ProtoMessage

from cogment_jupyter.engine.records import (
    NO_DATA_TICK,
    Action,
    ActionSet,
    ActorInit,
    EnvInit,
    Message,
    Observation,
    ObservationSet,
    Reward,
    RewardSource,
    Sample,
    TrialActor,
    as_bytes,
    config_content,
)
from cogment_jupyter.proto import common_pb2 as common
from cogment_jupyter.proto import datalog_pb2 as datalog
from cogment_jupyter.proto import environment_pb2 as environment


def to_any(value: Any) -> any_pb2.Any | None:
    """Protobuf ``Any`` for a payload: an Any as-is, a message packed, other values as JSON ``Value``."""
    if value is None:
        return None
    if isinstance(value, any_pb2.Any):
        return value
    packed = any_pb2.Any()
    if isinstance(value, ProtoMessage):
        packed.Pack(value)
    else:
        packed.Pack(struct_pb2.Value(string_value=json.dumps(value)) if isinstance(value, str) else _json_value(value))
    return packed


def _json_value(value: Any) -> struct_pb2.Value:
    proto = struct_pb2.Value()
    from google.protobuf import json_format

    json_format.Parse(json.dumps(value, default=str), proto)
    return proto


# ----------------------------------------------------------------- records -> protobuf


def reward_to_proto(reward: Reward) -> common.Reward:
    return common.Reward(
        tick_id=reward.tick_id,
        receiver_name=reward.receiver_name,
        value=reward.value,
        sources=[
            common.RewardSource(
                sender_name=s.sender_name,
                value=s.value,
                confidence=s.confidence,
                user_data=to_any(s.user_data),
            )
            for s in reward.sources
        ],
    )


def message_to_proto(message: Message) -> common.Message:
    return common.Message(
        tick_id=message.tick_id,
        sender_name=message.sender_name,
        receiver_name=message.receiver_name,
        payload=to_any(message.payload),
    )


def observation_to_proto(observation: Observation) -> common.Observation:
    return common.Observation(
        tick_id=observation.tick_id, timestamp=observation.timestamp, content=as_bytes(observation.content)
    )


def action_to_proto(action: Action) -> common.Action:
    return common.Action(tick_id=action.tick_id, timestamp=action.timestamp, content=as_bytes(action.content))


def action_set_to_proto(action_set: ActionSet) -> environment.ActionSet:
    return environment.ActionSet(
        tick_id=action_set.tick_id,
        timestamp=action_set.timestamp,
        actions=[as_bytes(a) for a in action_set.actions],
        unavailable_actors=action_set.unavailable_actors,
    )


def observation_set_to_proto(observation_set: ObservationSet) -> environment.ObservationSet:
    return environment.ObservationSet(
        tick_id=observation_set.tick_id,
        timestamp=observation_set.timestamp,
        observations=[as_bytes(o) for o in observation_set.observations],
        actors_map=observation_set.actors_map,
    )


def env_init_to_proto(init: EnvInit) -> environment.EnvInitialInput:
    proto = environment.EnvInitialInput(
        name=init.name,
        impl_name=init.impl_name,
        tick_id=init.tick_id,
        actors_in_trial=[common.TrialActor(name=a.name, actor_class=a.actor_class) for a in init.actors_in_trial],
    )
    if init.config is not None:
        proto.config.content = init.config
    return proto


def actor_init_to_proto(init: ActorInit) -> common.ActorInitialInput:
    proto = common.ActorInitialInput(
        actor_name=init.actor_name,
        actor_class=init.actor_class,
        impl_name=init.impl_name,
        env_name=init.env_name,
    )
    if init.config is not None:
        proto.config.content = init.config
    return proto


_PLACEHOLDER = common.Action(tick_id=NO_DATA_TICK)


def sample_to_proto(sample: Sample, exclude_info: bool = False) -> datalog.DatalogSample:
    """``DatalogSample`` as §10 describes it (placeholders for actors that did not act)."""
    proto = datalog.DatalogSample(
        actions=[_PLACEHOLDER if a is None else action_to_proto(a) for a in sample.actions],
        rewards=[reward_to_proto(r) for r in sample.rewards],
        messages=[message_to_proto(m) for m in sample.messages],
        default_actors=sample.default_actors,
        unavailable_actors=sample.unavailable_actors,
    )
    if not exclude_info:
        info = proto.info
        info.tick_id = sample.tick_id
        info.timestamp = sample.timestamp
        info.state = int(sample.state)
        info.out_of_sync = sample.out_of_sync
        info.special_events.extend(sample.special_events)
    if sample.observations is not None:
        proto.observations.CopyFrom(observation_set_to_proto(sample.observations))
    return proto


# ----------------------------------------------------------------- protobuf -> records


def reward_from_proto(proto: common.Reward) -> Reward:
    return Reward(
        proto.tick_id,
        proto.receiver_name,
        proto.value,
        [
            RewardSource(s.sender_name, s.value, s.confidence, s.user_data if s.HasField("user_data") else None)
            for s in proto.sources
        ],
    )


def message_from_proto(proto: common.Message) -> Message:
    return Message(
        proto.tick_id,
        proto.sender_name,
        proto.receiver_name,
        proto.payload if proto.HasField("payload") else None,
    )


def observation_set_from_proto(proto: environment.ObservationSet) -> ObservationSet:
    return ObservationSet(list(proto.observations), list(proto.actors_map), proto.tick_id, proto.timestamp)


def action_from_proto(proto: common.Action) -> Action:
    return Action(proto.tick_id, proto.content, proto.timestamp)


def action_set_from_proto(proto: environment.ActionSet) -> ActionSet:
    return ActionSet(proto.tick_id, list(proto.actions), list(proto.unavailable_actors), proto.timestamp)


def observation_from_proto(proto: common.Observation) -> Observation:
    return Observation(proto.tick_id, proto.timestamp, proto.content)


def env_init_from_proto(proto: environment.EnvInitialInput) -> EnvInit:
    return EnvInit(
        proto.name,
        proto.impl_name,
        proto.tick_id,
        [TrialActor(a.name, a.actor_class) for a in proto.actors_in_trial],
        config_content(proto),
    )


def actor_init_from_proto(proto: common.ActorInitialInput) -> ActorInit:
    return ActorInit(
        proto.actor_name,
        proto.actor_class,
        proto.impl_name,
        proto.env_name,
        config_content(proto),
    )
