from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pyarrow as pa
import pytest
from cogment.api.common_pb2 import TrialParams

from cogment_jupyter.adapters import AgentSpec, Gymnasium, LabAction, LabObservation
from cogment_jupyter.adapters.spaces import SpaceFormatError
from cogment_jupyter.adapters.trial_codec import PROPERTY_KEY, TrialCodec

SPECS = {
    "gym": AgentSpec(gym.spaces.Box(-1, 1, (4,), dtype=np.float32), gym.spaces.Discrete(2)),
    "teacher": AgentSpec(
        gym.spaces.Dict({"obs": gym.spaces.Box(-1, 1, (4,), dtype=np.float32), "said": gym.spaces.Text(5)}),
        gym.spaces.Dict({"active": gym.spaces.Discrete(2), "action": gym.spaces.Discrete(2)}),
    ),
}


def params_for(codec: TrialCodec, actor_names: list[str]) -> TrialParams:
    params = TrialParams()
    for key, value in codec.properties().items():
        params.properties[key] = value
    for name in actor_names:
        actor = params.actors.add()
        actor.name = name
        actor.actor_class = "player"
    return params


def test_json_document() -> None:
    codec = TrialCodec.from_specs(SPECS)
    doc = json.loads(codec.properties()[PROPERTY_KEY])
    assert doc["version"] == 1 and list(doc["actors"]) == ["gym", "teacher"]
    assert doc["actors"]["gym"]["action"] == {"type": "Discrete", "n": 2, "start": 0, "dtype": "int64"}
    back = TrialCodec.from_json(codec.to_json())
    assert back.observation_codec("teacher").space == SPECS["teacher"].observation_space
    assert back.action_codec(0).space == gym.spaces.Discrete(2)
    assert "gym: Box" in repr(back)


def test_from_params_follows_the_trials_actor_order() -> None:
    codec = TrialCodec.from_specs(SPECS)
    params = params_for(codec, ["teacher", "gym"])  # actor index order differs from the specs
    rebuilt = TrialCodec.from_params(params)
    assert rebuilt is not None and rebuilt.actor_names == ["teacher", "gym"]
    assert rebuilt.action_codec(1).space == gym.spaces.Discrete(2)
    assert TrialCodec.from_params(TrialParams()) is None
    assert TrialCodec.from_params(None) is None
    bad = TrialParams()
    bad.properties[PROPERTY_KEY] = "{not json"
    with pytest.raises(SpaceFormatError, match="not a spaces document"):
        TrialCodec.from_params(bad)
    with pytest.raises(KeyError, match="no recorded spaces"):
        rebuilt["nobody"]


def test_decoder_protocol_on_envelope_columns() -> None:
    codec = TrialCodec.from_params(params_for(TrialCodec.from_specs(SPECS), ["gym", "teacher"]))
    assert codec is not None
    gym_obs = codec.observation_codec("gym")
    values = [np.full(4, i, dtype=np.float32) for i in range(5)]
    rows = [LabObservation(v, gym_obs, terminated=i == 4, info={"i": i}).to_bytes() for i, v in enumerate(values)]
    column = codec.decode_observations(0, pa.array(rows, type=pa.binary()))
    np.testing.assert_array_equal(np.stack(column.to_numpy(zero_copy_only=False)), np.stack(values))
    actions = codec.decode_actions(0, pa.array([LabAction(a, codec.action_codec(0)).to_bytes() for a in (0, 1, 1)]))
    assert actions.type == pa.int64() and actions.to_pylist() == [0, 1, 1]
    teacher_actions = [{"active": 1, "action": 0}, {"active": 0, "action": 1}]
    column = codec.decode_actions(
        1, pa.array([LabAction(a, codec.action_codec(1)).to_bytes() for a in teacher_actions])
    )
    assert column.to_pylist() == teacher_actions
    observations = [{"obs": values[0], "said": "hi"}, {"obs": values[1], "said": ""}]
    column = codec.decode_observations(
        1, pa.array([LabObservation(o, codec.observation_codec(1)).to_bytes() for o in observations])
    )
    assert column.field("said").to_pylist() == ["hi", ""]


def test_a_datastore_decodes_with_the_trial_codec() -> None:
    """What a lab hands its datastore (``decoders=[TrialCodec.from_params]``) reads our trials."""
    decoding = pytest.importorskip("cogment_jupyter.datastore.decoding")

    codec = TrialCodec.from_specs(SPECS)
    decoder = decoding.first_decoder([TrialCodec.from_params], params_for(codec, ["gym", "teacher"]))
    assert isinstance(decoder, TrialCodec)
    assert isinstance(decoder, decoding.TrialDecoder)
    assert decoding.first_decoder([TrialCodec.from_params], TrialParams()) is None


def test_gymnasium_specs_make_a_codec() -> None:
    codec = TrialCodec.from_specs(Gymnasium("MountainCar-v0").agent_specs)
    assert codec.actor_names == ["gym"] and codec.action_codec("gym").size == 1
