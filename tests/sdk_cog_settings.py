"""A ``cog_settings`` module for official-SDK test services (what ``cogment generate`` writes).

Well-known protobuf wrapper types stand in for project protos: observations are doubles,
actions int64, configs strings.
"""

from types import SimpleNamespace

import cogment as _cog
from google.protobuf import wrappers_pb2

_player_class = _cog.actor.ActorClass(
    name="player",
    config_type=wrappers_pb2.StringValue,
    action_space=wrappers_pb2.Int64Value,
    observation_space=wrappers_pb2.DoubleValue,
)

_coach_class = _cog.actor.ActorClass(
    name="coach",
    config_type=wrappers_pb2.StringValue,
    action_space=wrappers_pb2.Int64Value,
    observation_space=wrappers_pb2.DoubleValue,
)

actor_classes = _cog.actor.ActorClassList(_player_class, _coach_class)

trial = SimpleNamespace(config_type=wrappers_pb2.StringValue)

environment = SimpleNamespace(config_type=wrappers_pb2.StringValue)
