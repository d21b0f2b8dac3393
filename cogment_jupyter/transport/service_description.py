"""What our environment services say about themselves through Cogment's ``Status``: the
environments they serve and each one's agents with their spaces. A lab elsewhere needs the
spaces to build a trial's codec and its actors' configs, without the environment's code
(``lab.serve_remote`` of a ``cogment-jupyter serve env`` service, or of a lab's services)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import grpc

from cogment_jupyter.adapters.base import AgentSpec, Environment
from cogment_jupyter.proto import common_pb2, environment_pb2_grpc
from cogment_jupyter.transport.lab_config import space_from_text, space_text

#: The ``StatusRequest`` name answered with the description (other services answer nothing).
ENVIRONMENTS = "cogment_jupyter.environments"


def describe(environments: Mapping[str, Environment]) -> str:
    """JSON ``{implementation: {agent: [observation space, action space]}}``."""
    return json.dumps(
        {
            name: {
                agent: [space_text(spec.observation_space), space_text(spec.action_space)]
                for agent, spec in environment.agent_specs.items()
            }
            for name, environment in environments.items()
        }
    )


def parse(text: str) -> dict[str, dict[str, AgentSpec]]:
    return {
        name: {agent: AgentSpec(space_from_text(obs), space_from_text(act)) for agent, (obs, act) in agents.items()}
        for name, agents in json.loads(text).items()
    }


async def served_environments(channel: grpc.aio.Channel, timeout: float) -> dict[str, dict[str, AgentSpec]] | None:
    """The environments the ``EnvironmentSP`` service on ``channel`` describes; None when it is
    not ours (it answers no description) or cannot be reached within ``timeout`` seconds."""
    stub = environment_pb2_grpc.EnvironmentSPStub(channel)
    try:
        reply = await stub.Status(common_pb2.StatusRequest(names=[ENVIRONMENTS]), timeout=timeout)
    except grpc.aio.AioRpcError:
        return None
    text = reply.statuses.get(ENVIRONMENTS)
    return parse(text) if text else None
