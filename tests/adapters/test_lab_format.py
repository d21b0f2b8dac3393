"""Cogment Lab's wire format on its own (against Lab itself: tests/cogment_lab)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import codec_for
from cogment_jupyter.adapters.lab_format import (
    CogmentLabAction,
    CogmentLabObservation,
    CogmentLabTrialCodec,
    LabFormatError,
    decode_lab_action,
    decode_lab_observation,
    environment_config,
    space_from_lab,
    space_to_lab,
)
from cogment_jupyter.adapters.payload_formats import OURS, payload_format
from cogment_jupyter.adapters.payloads import decode_observation
from cogment_jupyter.proto.cogment_lab import data_pb2

SPACES = [
    gym.spaces.Discrete(4, start=-1),
    gym.spaces.Box(-2.0, 2.0, (3,), np.float64),
    gym.spaces.Box(0, 255, (2, 2, 3), np.uint8),
    gym.spaces.MultiBinary(5),
    gym.spaces.MultiDiscrete([3, 2, 4]),
    gym.spaces.Dict({"x": gym.spaces.Discrete(2), "y": gym.spaces.Box(0.0, 1.0, (2,), np.float32)}),
    gym.spaces.Text(6, charset="xyz"),
]


@pytest.mark.parametrize("space", SPACES, ids=lambda s: type(s).__name__)
def test_spaces_and_values_come_back_as_they_went(space):
    assert space_from_lab(space_to_lab(space)) == space
    codec = codec_for(space)
    value = space.sample()
    action = decode_lab_action(CogmentLabAction(value, codec).to_bytes(), codec)
    assert codec.encode(action.value) == codec.encode(value)
    frame = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    observation = decode_lab_observation(CogmentLabObservation(value, codec, frame, inactive=True).to_bytes(), codec)
    assert observation.inactive and not observation.dead and np.array_equal(observation.frame, frame)
    assert codec.encode(observation.value) == codec.encode(value)


def test_dtypes_lab_lacks_travel_widened_and_come_back_in_the_space_dtype():
    space = gym.spaces.Box(-100, 100, (3,), np.int16)
    codec = codec_for(space)
    sent = data_pb2.PlayerAction.FromString(CogmentLabAction(np.array([-7, 0, 99], np.int16), codec).to_bytes())
    assert np.frombuffer(sent.value.raw_data, np.int32).tolist() == [-7, 0, 99]
    back = decode_lab_action(sent.SerializeToString(), codec).value
    assert back.dtype == np.int16 and back.tolist() == [-7, 0, 99]
    with pytest.raises(LabFormatError, match="no dtype uint64"):
        CogmentLabAction(np.array([1], np.uint64), codec_for(gym.spaces.Box(0, 9, (1,), np.uint64))).to_bytes()


def test_no_value_is_no_action_and_what_lab_cannot_carry_is_refused():
    codec = codec_for(gym.spaces.Discrete(2))
    assert CogmentLabAction(None, codec).to_bytes() == b""
    assert decode_lab_action(b"", codec).value is None
    with pytest.raises(LabFormatError, match="no Tuple spaces"):
        space_to_lab(gym.spaces.Tuple((gym.spaces.Discrete(2),)))
    with pytest.raises(LabFormatError, match="reset_args carry strings"):
        environment_config(1, False, 0, {"level": [1, 2]})


def test_the_environment_config_is_labs():
    config = data_pb2.EnvironmentConfig.FromString(
        environment_config(2**32 + 9, True, 160, {"name": "x", "n": 3, "f": 0.5})
    )
    assert (config.seed, config.render, config.render_width) == (9, True, 160)  # Lab's seeds are uint32
    assert config.reset_args["name"].string_value == "x" and config.reset_args["n"].int_value == 3
    assert config.reset_args["f"].float_value == 0.5


def test_recorded_lab_messages_read_as_our_envelopes():
    import pyarrow as pa

    space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    codec = CogmentLabTrialCodec.from_specs({"gym": AgentSpec(space, space)})
    value = np.array([0.5, -0.5], np.float32)
    stored = pa.array([CogmentLabObservation(value, codec_for(space), dead=True).to_bytes(), None], pa.binary())
    envelopes = codec.observation_envelopes("gym", stored)
    read = decode_observation(envelopes[0].as_py(), codec_for(space))
    assert read.dead and read.value.tolist() == [0.5, -0.5] and envelopes[1].as_py() is None
    assert codec.decode_observations(0, stored.drop_null()).to_pylist() == [[0.5, -0.5]]


def test_formats_by_name():
    assert payload_format("") is OURS
    assert payload_format("cogment_lab").observation is CogmentLabObservation
    with pytest.raises(ValueError, match="unknown payload format 'lab'"):
        payload_format("lab")
