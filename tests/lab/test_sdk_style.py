"""Official-SDK session-style environments and actors served by the lab, beside in-process ones."""

from __future__ import annotations

import cogment
import gymnasium as gym
import numpy as np

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters import wire
from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import codec_for
from cogment_jupyter.adapters.payloads import decode_action, decode_observation
from cogment_jupyter.adapters.spaces import space_from_str

COUNTER = AgentSpec(gym.spaces.Box(0, 100, (1,), np.float32), gym.spaces.Discrete(3))


async def counter_env(session):
    """Adds each action to a counter; ends at 10 or more."""
    observation_codec = codec_for(COUNTER.observation_space)
    action_codec = codec_for(COUNTER.action_space)

    def observe(total):
        return [("*", wire.Observation(value=observation_codec.encode(np.array([total], np.float32))))]

    total = 0
    session.start(observe(total))
    async for event in session.all_events():
        if event.actions:
            total += decode_action(event.actions[0].action, action_codec).value
            session.add_reward(1.0, 1.0, ["*"])
            if total >= 10 or event.type == cogment.EventType.ENDING:
                session.end(observe(total))
            else:
                session.produce_observations(observe(total))


async def sdk_lean(session):
    observation_codec = codec_for(space_from_str(session.config.observation_space_json))
    action_codec = codec_for(space_from_str(session.config.action_space_json))
    session.start()
    async for event in session.all_events():
        if event.observation is not None and event.type == cogment.EventType.ACTIVE:
            value = decode_observation(event.observation.observation, observation_codec).value
            session.do_action(wire.Action(value=action_codec.encode(int(value[2] > 0))))


def test_sdk_style_environment_and_actor(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_sdk_env("counter", counter_env, {"player": COUNTER})
        lab.serve_actor("two", actors.Constant(2))
        handle = lab.start_trial("counter", "two").wait(30)
        assert handle.errors == [] and handle.tick == 5
        steps = lab.steps(handle.id)
        assert [float(np.asarray(o)[0]) for o in steps["observation"]] == [0, 2, 4, 6, 8, 10]
        assert steps["reward"].iloc[:-1].tolist() == [1.0] * 5

        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_sdk_actor("sdk-lean", sdk_lean)
        assert "gRPC" in lab.services["sdk-lean"]
        handle = lab.start_trial("cartpole", "sdk-lean", seed=2).wait(30)
        data = lab.get_trial_data(handle.id)["gym"]
        assert handle.errors == []
        assert np.array_equal(data.actions, (data.observations[:, 2] > 0).astype(np.int64))
