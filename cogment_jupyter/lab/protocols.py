"""Which protocol each part of a trial speaks, and the config each part gets in its own language.

A service named with ``lab.serve_remote(..., protocol="cogment_lab")`` is a Cogment Lab 0.1.5
environment or actor: a trial it takes part in runs in Lab's payload format
(``adapters.lab_format``), it gets Lab's ``EnvironmentConfig`` / ``AgentConfig``, and every
other component gets ours, naming that format, so all of them make and read the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cogment_jupyter.adapters.base import AgentSpec, Environment
from cogment_jupyter.adapters.frame_size import FrameSize
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig

__all__ = ["COGMENT", "COGMENT_LAB", "actor_config", "check_protocol", "environment_config", "remote_agents"]

#: Our services, the official SDK's, anything speaking Cogment with our messages
COGMENT = "cogment"
#: Cogment Lab 0.1.5's services (its ``cogment_lab`` messages, its ``player`` actor class)
COGMENT_LAB = "cogment_lab"


def check_protocol(protocol: str) -> str:
    if protocol not in (COGMENT, COGMENT_LAB):
        raise ValueError(
            f"protocol must be {COGMENT!r} (ours, the official SDK's) or {COGMENT_LAB!r} (a Cogment Lab "
            f"service), got {protocol!r}"
        )
    return protocol


def remote_agents(agents: Any, protocol: str) -> dict[str, AgentSpec]:
    """The agents of a remote environment, from ``{agent: AgentSpec | (observation space, action
    space)}`` or an environment object (its ``agent_specs``), checked for the protocol's format."""
    if isinstance(agents, Environment):
        agents = agents.agent_specs
    if not isinstance(agents, Mapping) or not agents:
        raise TypeError(
            "agents= takes {agent: (observation_space, action_space)} or an environment whose agents match "
            f"(e.g. envs.Gymnasium('CartPole-v1')), got {agents!r}"
        )
    specs = {}
    for name, spec in agents.items():
        if not isinstance(spec, AgentSpec):
            try:
                observation_space, action_space = spec
            except (TypeError, ValueError):
                raise TypeError(
                    f"agent {name!r}: give (observation_space, action_space) or an AgentSpec, got {spec!r}"
                ) from None
            spec = AgentSpec(observation_space, action_space)
        specs[str(name)] = spec
    if protocol == COGMENT_LAB:
        from cogment_jupyter.adapters.lab_format import space_to_lab

        for spec in specs.values():  # an unsupported space is said now, not at the first trial
            space_to_lab(spec.observation_space)
            space_to_lab(spec.action_space)
    return specs


def environment_config(
    payload_format: str,
    lab_service: bool,
    seed: int | None,
    render: bool,
    size: FrameSize | None,
    reset_options: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None,
) -> bytes:
    """The environment's config: Lab's ``EnvironmentConfig`` for a Lab environment (whose
    ``render_width`` caps a frame's longest side), ours otherwise."""
    if lab_service:
        from cogment_jupyter.adapters.lab_format import environment_config as lab_environment_config

        if config:
            raise ValueError(
                "a Cogment Lab environment takes no config= (Lab's EnvironmentConfig carries render, "
                "render_width, seed and reset_options)"
            )
        longest = max(size.width, size.height) if size is not None else 0
        return lab_environment_config(seed, render, longest, reset_options)
    return EnvConfig(
        seed,
        render,
        dict(reset_options) if reset_options else None,
        dict(config or {}),
        size.width if size else 0,
        size.height if size else 0,
        payload_format,
    ).to_bytes()


def actor_config(
    payload_format: str,
    lab_service: bool,
    spec: AgentSpec,
    seed: int | None,
    config: Mapping[str, Any] | None,
    render: bool,
) -> bytes:
    """An actor's config: Lab's ``AgentConfig`` (its spaces, its seed) for a Lab actor, ours otherwise."""
    if lab_service:
        from cogment_jupyter.adapters.lab_format import agent_config

        if config:
            raise ValueError("a Cogment Lab actor takes no actor_configs= (Lab's AgentConfig carries its spaces)")
        return agent_config(spec, seed)
    return ActorConfig(spec, seed, dict(config or {}), render, payload_format).to_bytes()
