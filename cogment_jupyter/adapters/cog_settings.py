"""``cog_settings`` for the official Cogment SDK, describing our adapters' messages.

Same shape as the module ``cogment generate`` writes from a ``cogment.yaml``: pass it to
``cogment.Context(cog_settings=..., user_id=...)`` and SDK actors / environments exchange
:mod:`.wire` envelopes with our adapters (the SDK parses ``content`` with these classes).
The equivalent spec, for SDKs in other languages::

    import: {proto: [cogment_jupyter/wire.proto]}     # wire.PROTO_SOURCE
    environment: {config_type: cogment_jupyter.EnvironmentConfig}
    actor_classes:
      - name: player
        action: {space: cogment_jupyter.Action}
        observation: {space: cogment_jupyter.Observation}
        config_type: cogment_jupyter.ActorConfig

Kept out of ``adapters/__init__`` because importing the SDK takes ~0.3 s.
"""

from types import SimpleNamespace

import cogment as _cog

from cogment_jupyter.adapters import wire as wire_pb

#: The actor class every agent of our adapters uses.
PLAYER = "player"
#: Participants that are not agents of the environment (people giving feedback, observers).
SPECTATOR = "spectator"

actor_classes = _cog.actor.ActorClassList(
    *(
        _cog.actor.ActorClass(
            name=name,
            config_type=wire_pb.ActorConfig,
            action_space=wire_pb.Action,
            observation_space=wire_pb.Observation,
        )
        for name in (PLAYER, SPECTATOR)
    )
)

trial = SimpleNamespace(config_type=None)

environment = SimpleNamespace(config_type=wire_pb.EnvironmentConfig)
