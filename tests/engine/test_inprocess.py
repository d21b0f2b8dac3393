"""Trials on in-process components: Python objects, no gRPC between them."""

from __future__ import annotations

import asyncio

import numpy as np
from cogment.api import common_pb2

from cogment_jupyter.adapters.actors import Policy, Random
from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import codec_for
from cogment_jupyter.adapters.gymnasium_env import Gymnasium
from cogment_jupyter.adapters.payloads import decode_action, decode_observation
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.engine.records import TrialState
from cogment_jupyter.lab.servers import fused_ticks_default
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.inprocess import InProcessServices
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig
from tests.sdk_components import recording_datalog

LOCAL = "127.0.0.1:1"  # an address nobody listens on: only the in-process path can serve it


def cartpole_params(seed: int, datalog: str | None = None, max_steps: int = 0) -> common_pb2.TrialParams:
    env = Gymnasium("CartPole-v1")
    spec = env.agent_specs["gym"]
    params = common_pb2.TrialParams(max_steps=max_steps)
    params.environment.endpoint = f"grpc://{LOCAL}"
    params.environment.implementation = "cartpole"
    params.environment.config.content = EnvConfig(seed=seed).to_bytes()
    actor = params.actors.add(name="gym", actor_class="player", endpoint=f"grpc://{LOCAL}", implementation="random")
    actor.config.content = ActorConfig(spec=AgentSpec(spec.observation_space, spec.action_space), seed=seed).to_bytes()
    if datalog:
        params.datalog.endpoint = datalog
    return params


async def test_inprocess_trial_logs_to_an_sdk_datalog_over_grpc(sdk):
    services = InProcessServices(environments={"cartpole": Gymnasium("CartPole-v1")}, actors={"random": Random()})
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}), fused_ticks=fused_ticks_default())
    samples: list = []
    done = asyncio.Event()
    datalog = sdk()
    datalog.context.register_datalog(recording_datalog(samples, done))
    endpoint = await datalog.serve()
    trial_id = await orchestrator.start_trial(params=cartpole_params(7, endpoint))
    trial = orchestrator.trials[trial_id]
    await asyncio.wait_for(trial.wait_ended(), 10)
    await asyncio.wait_for(done.wait(), 10)
    assert trial.errors == []
    assert [s.info.tick_id for s in samples] == list(range(len(samples)))
    assert samples[-1].info.state == common_pb2.ENDED
    assert list(samples[-1].info.special_events) == ["Evironment ended trial"]
    spec = Gymnasium("CartPole-v1").agent_specs["gym"]
    obs_codec, act_codec = codec_for(spec.observation_space), codec_for(spec.action_space)
    first = decode_observation(samples[0].observations.observations[0], obs_codec)
    assert first.value.shape == (4,) and first.info["seed"] == 7
    actions = [decode_action(s.actions[0].content, act_codec).value for s in samples[:-1]]
    assert set(actions) <= {0, 1}
    rewards = [sum(r.value for r in s.rewards) for s in samples]
    assert rewards[:-1] == [1.0] * (len(samples) - 1)
    last = decode_observation(samples[-1].observations.observations[0], obs_codec)
    assert last.terminated or last.truncated
    await orchestrator.shutdown()


async def test_same_seed_same_trajectory_and_max_steps():
    services = InProcessServices(environments={"cartpole": Gymnasium("CartPole-v1")}, actors={"random": Random()})
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}), fused_ticks=fused_ticks_default())
    ids = [await orchestrator.start_trial(params=cartpole_params(3, max_steps=5)) for _ in range(2)]
    for trial_id in ids:
        await asyncio.wait_for(orchestrator.trials[trial_id].wait_ended(), 10)
    first, second = (orchestrator.trials[i] for i in ids)
    assert first.tick_id == second.tick_id == 6  # max_steps=5: final observations are tick 6 (§7.1.3)
    assert np.array_equal(
        first.latest_observations.observations[0].value, second.latest_observations.observations[0].value
    )
    assert first.state == TrialState.ENDED
    await orchestrator.shutdown()


async def test_an_action_outside_the_space_ends_the_trial_with_the_error():
    services = InProcessServices(
        environments={"cartpole": Gymnasium("CartPole-v1")}, actors={"random": Policy(lambda observation: 5)}
    )
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}), fused_ticks=fused_ticks_default())
    trial_id = await orchestrator.start_trial(params=cartpole_params(1))
    trial = orchestrator.trials[trial_id]
    await asyncio.wait_for(trial.wait_ended(), 10)
    assert trial.end_details.startswith("Actor [gym] acted outside its action space at tick [0]: action 5")
    assert trial.errors == [trial.end_details[0].lower() + trial.end_details[1:]]
    await orchestrator.shutdown()
