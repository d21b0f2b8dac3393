"""Our Cogment Lab messages are byte for byte what Lab 0.1.5 itself writes (spaces, values, flags)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import codec_for
from cogment_jupyter.adapters.lab_format import (
    CogmentLabAction,
    CogmentLabObservation,
    agent_config,
    decode_lab_action,
    decode_lab_observation,
)
from cogment_jupyter.proto.cogment_lab import data_pb2

#: Building Cogment Lab's venv (first run only: pip, ~80 s, more on a busy machine) is fixture
#: set-up; the 120 s limit holds for each test's own body.
pytestmark = pytest.mark.timeout(120, func_only=True)

CASES = [
    ["discrete", "Discrete(3, start=1)", 2],
    ["box", "Box(-1.0, 1.0, (2, 3), np.float32)", [[0.5, -0.25, 1.0], [0.0, 0.125, -1.0]]],
    ["pixels", "Box(0, 255, (4,), np.uint8)", [0, 7, 200, 255]],
    ["int64 box", "Box(-5, 5, (2,), np.int64)", [-5, 4]],
    ["multibinary", "MultiBinary(4)", [1, 0, 1, 1]],
    ["multidiscrete", "MultiDiscrete([2, 3])", [1, 2]],
    ["dict", "Dict({'a': Discrete(2), 'b': Box(-1.0, 1.0, (2,), np.float32)})", {"a": 1, "b": [0.5, -0.5]}],
    ["text", "Text(5, min_length=1, charset='abc')", "cab"],
]
LAB_BYTES = Path(__file__).with_name("lab_bytes.py")


def space_of(text: str) -> gym.Space:
    return eval(text, {"np": np, **vars(gym.spaces)})


def value_of(space: gym.Space, value):
    if isinstance(space, gym.spaces.Dict):
        return {k: np.asarray(v, dtype=space[k].dtype) if isinstance(v, list) else v for k, v in value.items()}
    return np.asarray(value, dtype=space.dtype) if isinstance(value, list) else value


@pytest.fixture(scope="module")
def labs_bytes(lab_python):
    done = subprocess.run(
        [str(lab_python), str(LAB_BYTES), json.dumps(CASES)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize(("name", "text", "value"), CASES, ids=[c[0] for c in CASES])
def test_our_bytes_are_labs(labs_bytes, name, text, value):
    space = space_of(text)
    value = value_of(space, value)
    codec = codec_for(space)
    lab = labs_bytes[name]
    config = data_pb2.AgentConfig.FromString(agent_config(AgentSpec(space, space), None))
    assert config.agent_specs.SerializeToString().hex() == lab["specs"]
    assert CogmentLabAction(value, codec).to_bytes().hex() == lab["action"]
    assert CogmentLabObservation(value, codec, dead=True).to_bytes().hex() == lab["observation"]
    # and we read Lab's bytes back to the value
    read = decode_lab_action(bytes.fromhex(lab["action"]), codec).value
    assert codec.encode(codec.validate(read)) == codec.encode(value)
    observed = decode_lab_observation(bytes.fromhex(lab["observation"]), codec)
    assert observed.dead and not observed.inactive and codec.encode(observed.value) == codec.encode(value)
