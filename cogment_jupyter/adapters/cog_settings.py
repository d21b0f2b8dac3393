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

Only SDK users need it (the lab itself never imports it), so it needs the SDK: importing it
without the SDK raises an error saying how to install it.
"""

from types import SimpleNamespace

from cogment_jupyter.adapters import wire as wire_pb
from cogment_jupyter.adapters.wire import PLAYER, SPECTATOR
from cogment_jupyter.official_sdk import require_sdk

_cog = require_sdk("cogment_jupyter.adapters.cog_settings")

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
