"""Official-SDK session functions (``async def env(session)``) served beside our own components.

Everything the lab serves goes through our servicers (:mod:`.component_servicers`); session
functions written for the SDK need the SDK anyway (``cogment_jupyter.official_sdk``), so they
run on the SDK's own servicers, created on first use.
"""

from __future__ import annotations

from typing import Any


class SdkSessions:
    """Session functions registered by name, and the SDK servicers that run them."""

    def __init__(self) -> None:
        self.environments: dict[str, Any] = {}
        self.actors: dict[str, Any] = {}
        self._environment_servicer: Any = None
        self._actor_servicer: Any = None

    def add_environment(self, name: str, implementation: Any) -> None:
        self.environments[name] = _implementation(implementation)

    def add_actor(self, name: str, implementation: Any, actor_classes: list[str]) -> None:
        self.actors[name] = _implementation(implementation, actor_classes=actor_classes)

    def environment_servicer(self) -> Any:
        """The SDK's ``EnvironmentSP`` servicer over :attr:`environments`."""
        if self._environment_servicer is None:
            from cogment.env_service import EnvironmentServicer

            from cogment_jupyter.adapters import cog_settings

            self._environment_servicer = EnvironmentServicer(self.environments, cog_settings, None)
        return self._environment_servicer

    def actor_servicer(self) -> Any:
        """The SDK's ``ServiceActorSP`` servicer over :attr:`actors`."""
        if self._actor_servicer is None:
            from cogment.agent_service import AgentServicer

            from cogment_jupyter.adapters import cog_settings

            self._actor_servicer = AgentServicer(self.actors, cog_settings, None)
        return self._actor_servicer


def _implementation(function: Any, **fields: Any) -> Any:
    """What the SDK's servicers keep per implementation (``Context.register_*`` makes the same)."""
    from types import SimpleNamespace

    return SimpleNamespace(impl=function, properties={}, **fields)
