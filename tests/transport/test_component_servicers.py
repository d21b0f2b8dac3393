"""Our ``EnvironmentSP`` / ``ServiceActorSP`` servicers, driven message by message as an orchestrator
drives them (``cogment-protocol`` §5, §6.1, §6.3), over real gRPC on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter import actors, envs
from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import codec_for
from cogment_jupyter.adapters.payloads import LabAction, decode_action, decode_observation
from cogment_jupyter.proto import agent_pb2_grpc, common_pb2, environment_pb2, environment_pb2_grpc
from cogment_jupyter.transport.component_host import ComponentHost
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig

NORMAL, HEARTBEAT, LAST, LAST_ACK, END = (
    common_pb2.NORMAL,
    common_pb2.HEARTBEAT,
    common_pb2.LAST,
    common_pb2.LAST_ACK,
    common_pb2.END,
)
CARTPOLE = gym.make("CartPole-v1")
SPEC = AgentSpec(CARTPOLE.observation_space, CARTPOLE.action_space)
OBSERVATION = codec_for(SPEC.observation_space)
ACTION = codec_for(SPEC.action_space)


class _Exploding(actors.Actor):
    def act(self, observation, frame=None):
        raise ValueError("no policy here")


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    host = ComponentHost()
    host.add_environment("cartpole", envs.Gymnasium("CartPole-v1"))
    host.add_actor("one", actors.Constant(1))
    host.add_actor("exploding", _Exploding())
    server = grpc.aio.server()
    host.add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop(0.2)


def _env_init(impl_name: str, seed: int = 1) -> environment_pb2.EnvRunTrialInput:
    init = environment_pb2.EnvInitialInput(
        name="env", impl_name=impl_name, actors_in_trial=[common_pb2.TrialActor(name="gym", actor_class="player")]
    )
    init.config.content = EnvConfig(seed=seed).to_bytes()
    return environment_pb2.EnvRunTrialInput(state=NORMAL, init_input=init)


def _actor_init(impl_name: str) -> common_pb2.ActorRunTrialInput:
    init = common_pb2.ActorInitialInput(actor_name="p", actor_class="player", impl_name=impl_name, env_name="env")
    init.config.content = ActorConfig(SPEC).to_bytes()
    return common_pb2.ActorRunTrialInput(state=NORMAL, init_input=init)


async def _read(call) -> object:
    return await asyncio.wait_for(call.read(), 10)


async def _end_and_close(call, message: object) -> None:
    """Send ``END`` (``message``), half-close, and see the servicer end the stream with OK."""
    await call.write(message)
    await call.done_writing()
    assert await _read(call) is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_environment_stream_from_init_to_a_soft_end(channel):
    call = environment_pb2_grpc.EnvironmentSPStub(channel).RunTrial(metadata=(("trial-id", "t1"),))
    await call.write(environment_pb2.EnvRunTrialInput(state=HEARTBEAT))
    assert (await _read(call)).state == HEARTBEAT  # answered in kind before init
    await call.write(_env_init("cartpole"))
    first = await _read(call)
    assert first.state == NORMAL and first.WhichOneof("data") == "init_output"
    reset = await _read(call)
    assert reset.WhichOneof("data") == "observation_set" and reset.observation_set.tick_id == -1
    assert list(reset.observation_set.actors_map) == [0]
    start = decode_observation(reset.observation_set.observations[0], OBSERVATION).value
    assert start.shape == (4,)

    action = LabAction(1, ACTION).to_bytes()
    await call.write(
        environment_pb2.EnvRunTrialInput(
            state=NORMAL, action_set=environment_pb2.ActionSet(tick_id=0, actions=[action])
        )
    )
    reward = await _read(call)
    assert reward.WhichOneof("data") == "reward" and reward.reward.receiver_name == "gym" and reward.reward.value == 1.0
    step = await _read(call)
    assert step.WhichOneof("data") == "observation_set"
    assert not np.array_equal(decode_observation(step.observation_set.observations[0], OBSERVATION).value, start)

    # orchestrator-initiated end: LAST, the last action set; the env answers its final observations and LAST_ACK
    await call.write(environment_pb2.EnvRunTrialInput(state=LAST))
    await call.write(
        environment_pb2.EnvRunTrialInput(
            state=NORMAL, action_set=environment_pb2.ActionSet(tick_id=1, actions=[action])
        )
    )
    kinds = []
    while True:
        message = await _read(call)
        kinds.append((message.state, message.WhichOneof("data")))
        if message.state == LAST_ACK:
            break
    assert kinds == [(NORMAL, "reward"), (NORMAL, "observation_set"), (LAST_ACK, None)]
    await _end_and_close(call, environment_pb2.EnvRunTrialInput(state=END))


async def test_environment_ending_before_init_acknowledges_last(channel):
    call = environment_pb2_grpc.EnvironmentSPStub(channel).RunTrial(metadata=(("trial-id", "t2"),))
    await call.write(environment_pb2.EnvRunTrialInput(state=LAST))
    assert (await _read(call)).state == LAST_ACK
    await _end_and_close(call, environment_pb2.EnvRunTrialInput(state=END, details="never mind"))


async def test_unknown_implementations_fail_the_stream_naming_what_is_served(channel):
    call = environment_pb2_grpc.EnvironmentSPStub(channel).RunTrial(metadata=(("trial-id", "t3"),))
    await call.write(_env_init("pong"))
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await _read(call)
    assert failure.value.code() == grpc.StatusCode.UNKNOWN
    assert "Unknown environment implementation [pong]" in failure.value.details()
    assert "cartpole" in failure.value.details()

    call = agent_pb2_grpc.ServiceActorSPStub(channel).RunTrial(metadata=(("trial-id", "t3"),))
    await call.write(_actor_init("nobody"))
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await _read(call)
    assert "Unknown actor implementation [nobody]" in failure.value.details() and "'one'" in failure.value.details()


async def test_actor_stream_acts_takes_rewards_and_acknowledges_the_end(channel):
    call = agent_pb2_grpc.ServiceActorSPStub(channel).RunTrial(metadata=(("trial-id", "t4"),))
    await call.write(_actor_init("one"))
    first = await _read(call)
    assert first.state == NORMAL and first.WhichOneof("data") == "init_output"
    observation = common_pb2.Observation(tick_id=0, timestamp=5, content=_observation_bytes())
    await call.write(common_pb2.ActorRunTrialInput(state=NORMAL, observation=observation))
    action = await _read(call)
    assert action.WhichOneof("data") == "action" and action.action.tick_id == 0
    assert decode_action(action.action.content, ACTION).value == 1
    await call.write(common_pb2.ActorRunTrialInput(state=HEARTBEAT))
    assert (await _read(call)).state == HEARTBEAT

    reward = common_pb2.Reward(
        tick_id=0,
        receiver_name="p",
        value=2.0,
        sources=[common_pb2.RewardSource(sender_name="env", value=2.0, confidence=1.0)],
    )
    await call.write(common_pb2.ActorRunTrialInput(state=NORMAL, reward=reward))
    await call.write(common_pb2.ActorRunTrialInput(state=LAST))
    observation.tick_id = 1
    await call.write(common_pb2.ActorRunTrialInput(state=NORMAL, observation=observation))
    assert (await _read(call)).state == LAST_ACK
    await _end_and_close(call, common_pb2.ActorRunTrialInput(state=END))


async def test_an_actor_that_raises_fails_its_stream_with_the_error(channel):
    call = agent_pb2_grpc.ServiceActorSPStub(channel).RunTrial(metadata=(("trial-id", "t5"),))
    await call.write(_actor_init("exploding"))
    assert (await _read(call)).WhichOneof("data") == "init_output"
    await call.write(
        common_pb2.ActorRunTrialInput(
            state=NORMAL, observation=common_pb2.Observation(tick_id=0, content=_observation_bytes())
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        while True:
            await _read(call)
    assert failure.value.code() == grpc.StatusCode.UNKNOWN
    assert "actor [p] failed: ValueError: no policy here" in failure.value.details()


def _observation_bytes() -> bytes:
    from cogment_jupyter.adapters.payloads import LabObservation

    return LabObservation(np.array([0.0, 0.1, 0.2, 0.3], np.float32), OBSERVATION).to_bytes()
