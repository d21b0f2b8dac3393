"""The envelope: schema, hand-written encoding, column reading, and the official SDK's view."""

from __future__ import annotations

import itertools
import re
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pyarrow as pa
import pytest

from cogment_jupyter.adapters import wire
from cogment_jupyter.adapters.codec import DecodeError, codec_for
from cogment_jupyter.adapters.payloads import LabAction, LabObservation, decode_action, decode_observation


def test_schema_matches_proto_source() -> None:
    """PROTO_SOURCE (for other languages) says exactly what the descriptor says."""
    declared = {}
    for message, body in re.findall(r"message (\w+) \{(.*?)\n\}", wire.PROTO_SOURCE, re.S):
        fields = re.findall(r"^\s*(optional )?(\w+) (\w+) = (\d+);", body, re.M)
        declared[message] = [(name, int(num), typ, bool(opt)) for opt, typ, name, num in fields]
    built = {}
    for message in wire.file_descriptor().message_type:
        built[message.name] = [
            (
                f.name,
                f.number,
                {9: "string", 12: "bytes", 8: "bool", 3: "int64"}[f.type],
                f.proto3_optional,
            )
            for f in message.field
        ]
    assert declared == built
    assert wire.file_descriptor().package == "cogment_jupyter"
    assert wire.Observation.DESCRIPTOR.full_name == "cogment_jupyter.Observation"
    assert wire.Observation.DESCRIPTOR.fields_by_name["value"].number == 1
    with pytest.raises(AttributeError):
        wire.NoSuchMessage  # noqa: B018


FLAGS = ["inactive", "dead", "terminated", "truncated"]


@pytest.mark.parametrize("value", [None, b"", b"\x01", bytes(range(200)) * 3])
def test_hand_encoding_is_byte_identical_to_protobuf(value: bytes | None) -> None:
    extras = [
        {},
        {"frame": b"\x00" * 300, "frame_format": "zlib:2x2x3"},
        {"info_json": '{"a":1}', "action_mask": b"\x01\x00\x01"},
    ]
    for flags, extra in itertools.product(itertools.product([False, True], repeat=4), extras):
        kwargs = dict(zip(FLAGS, flags, strict=True)) | extra
        mine = wire.encode_observation(value, **kwargs)
        message = wire.Observation(**kwargs)
        if value is not None:
            message.value = value
        assert mine == message.SerializeToString()
        parsed = wire.Observation.FromString(mine)
        assert parsed.HasField("value") == (value is not None)
    action = wire.Action()
    if value is not None:
        action.value = value
    assert wire.encode_action(value) == action.SerializeToString()


def test_value_serialises_first() -> None:
    data = wire.Observation(terminated=True, info_json="{}", value=b"abc").SerializeToString()
    assert data.startswith(b"\x0a\x03abc")


def test_envelope_spans_fast_and_slow_paths() -> None:
    codec = codec_for(gym.spaces.Box(-1, 1, (3,), dtype=np.float32))
    values = [np.full(3, i / 10, dtype=np.float32) for i in range(6)]
    out_of_order = wire.Observation(terminated=True).SerializeToString() + b"\x0a\x0c" + values[4].tobytes()
    rows = [
        LabObservation(values[0], codec).to_bytes(),
        LabObservation(values[1], codec, terminated=True, info={"k": [1, 2]}).to_bytes(),
        None,
        LabObservation(None, codec, inactive=True).to_bytes(),  # no value
        out_of_order,  # a writer that put the value last
        b"",  # empty envelope
        LabObservation(values[5], codec, frame=np.zeros((2, 2, 3), np.uint8)).to_bytes(),
    ]
    column = codec.decode_spans(*wire.envelope_value_spans(pa.array(rows, type=pa.binary())))
    got = column.to_pylist()
    assert [g is None for g in got] == [False, False, True, True, False, True, False]
    for row, i in ((0, 0), (1, 1), (4, 4), (6, 5)):
        np.testing.assert_array_equal(np.asarray(got[row], dtype=np.float32), values[i])


def test_envelope_spans_with_long_varint_lengths() -> None:
    codec = codec_for(gym.spaces.Text(5000, min_length=0, charset="ab"))
    texts = ["a" * 200, "", "b" * 4999, "ab"]
    rows = [LabObservation(t, codec).to_bytes() for t in texts]
    assert rows[2][1] & 0x80  # two-byte varint
    column = codec.decode_spans(*wire.envelope_value_spans(pa.array(rows)))
    assert column.to_pylist() == texts  # "" stays "" (explicit presence), not null


def test_envelope_columns_read_every_field_as_protobuf_does() -> None:
    """Random envelopes, some written as several concatenated messages (any field order,
    repeated fields: the last one wins), read column-wise, equal protobuf's own parse."""
    rng = np.random.default_rng(7)
    parts = {
        "value": lambda: rng.bytes(int(rng.choice([0, 3, 200]))),
        "inactive": lambda: True,
        "dead": lambda: True,
        "frame": lambda: rng.bytes(int(rng.choice([1, 300]))),
        "frame_format": lambda: "zlib:2x2x3",
        "terminated": lambda: bool(rng.integers(2)),
        "truncated": lambda: True,
        "info_json": lambda: '{"k":' + str(int(rng.integers(1000))) + "}",
        "action_mask": lambda: bytes([1, 0, 1]),
    }
    rows: list[bytes | None] = []
    for _ in range(300):
        if rng.random() < 0.05:
            rows.append(None)
            continue
        names = [n for n in parts if rng.random() < 0.4]
        messages = [wire.Observation(**{n: parts[n]()}).SerializeToString() for n in names]
        order = rng.permutation(len(messages))
        rows.append(b"".join(messages[i] for i in order) if rng.random() < 0.5 else b"".join(messages))
    column = wire.EnvelopeColumn(pa.array(rows, type=pa.binary()))
    data, starts, lengths, has = column.span(wire.VALUE)
    infos = column.text(wire.INFO_JSON).to_pylist()
    for i, row in enumerate(rows):
        if row is None:
            assert not has[i] and infos[i] is None
            continue
        parsed = wire.Observation.FromString(row)
        assert has[i] == parsed.HasField("value")
        if has[i]:
            assert data[starts[i] : starts[i] + lengths[i]].tobytes() == parsed.value
        assert infos[i] == (parsed.info_json or None)
        for number, name in (
            (wire.INACTIVE, "inactive"),
            (wire.TERMINATED, "terminated"),
            (wire.TRUNCATED, "truncated"),
        ):
            assert column.flag(number)[i] == getattr(parsed, name)
        frame = column.span(wire.FRAME)
        assert data[frame[1][i] : frame[1][i] + frame[2][i]].tobytes() == parsed.frame


def test_malformed_envelopes_are_a_clear_error() -> None:
    with pytest.raises(DecodeError, match="row 1: not a well-formed envelope"):
        wire.EnvelopeColumn(pa.array([b"\x0a\x01a", b"\x0a\x05ab"]))


# -- the official SDK parses our envelopes with our cog_settings ------------------------------


def test_cog_settings_shape() -> None:
    from cogment_jupyter.adapters import cog_settings

    player = cog_settings.actor_classes.player
    assert cog_settings.PLAYER == "player" and player.name == "player"
    assert player.observation_space is wire.Observation and player.action_space is wire.Action
    assert player.config_type is wire.ActorConfig
    assert cog_settings.environment.config_type is wire.EnvironmentConfig
    assert cog_settings.trial.config_type is None
    assert "player" in cog_settings.actor_classes and cog_settings.actor_classes.get_class_by_index(0) is player


def test_sdk_actor_receives_our_observation() -> None:
    """The SDK's ServiceActorSP input processing, fed an observation our env produced."""
    from cogment import agent_service
    from cogment.api import common_pb2

    from cogment_jupyter.adapters import cog_settings

    space = gym.spaces.Dict({"pos": gym.spaces.Box(-1, 1, (2,)), "name": gym.spaces.Text(4)})
    codec = codec_for(space)
    value = {"name": "ab", "pos": np.array([0.5, -0.5], dtype=np.float32)}
    ours = LabObservation(value, codec, terminated=True, info={"seed": 3}, action_mask=[1, 0, 1])
    data = common_pb2.ActorRunTrialInput()
    data.observation.tick_id = 7
    data.observation.content = ours.to_bytes()
    events: list = []
    session = SimpleNamespace(
        _trial=SimpleNamespace(ending=False, tick_id=0, id="t"),
        _auto_ack=True,
        _actor_class_spec=cog_settings.actor_classes.player,
        _post_incoming_event=events.append,
        _post_outgoing_data=events.append,
        name="a",
        impl_name="i",
    )
    agent_service._process_normal_data(data, session)
    (tick, event) = events[0]
    message = event.observation.observation  # what an SDK actor implementation reads
    assert tick == 7 and isinstance(message, wire.Observation) and message.terminated
    back = decode_observation(message, codec, codec_for(gym.spaces.Discrete(3)))
    assert back.value["name"] == "ab" and back.info == {"seed": 3} and back.terminated
    np.testing.assert_array_equal(back.value["pos"], value["pos"])
    np.testing.assert_array_equal(back.action_mask, [1, 0, 1])


def test_sdk_environment_sends_actions_we_decode_and_observations() -> None:
    """An SDK environment parses our actions and packs observations we can decode."""
    from cogment import env_service
    from cogment.api import environment_pb2
    from cogment.environment import EnvironmentSession

    from cogment_jupyter.adapters import cog_settings

    action_codec = codec_for(gym.spaces.Discrete(4))
    obs_codec = codec_for(gym.spaces.Box(0, 255, (2, 2), dtype=np.uint8))
    player = cog_settings.actor_classes.player
    actors = [SimpleNamespace(name=n, actor_class_spec=player) for n in ("p0", "p1")]
    data = environment_pb2.EnvRunTrialInput()
    data.action_set.tick_id = 3
    data.action_set.actions.extend([LabAction(2, action_codec).to_bytes(), LabAction(None, action_codec).to_bytes()])
    events: list = []
    session = SimpleNamespace(
        _trial=SimpleNamespace(ending=False, tick_id=0, id="t", actors=actors),
        _post_incoming_event=events.append,
        name="env",
        impl_name="i",
    )
    env_service._process_normal_data(data, session)
    _, event = events[0]
    sdk_actions = [a.action for a in event.actions]
    assert decode_action(sdk_actions[0], action_codec).value == 2
    assert decode_action(sdk_actions[1], action_codec).value is None
    # and the observation an SDK env builds with our message class
    frame = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    sdk_obs = wire.Observation(value=obs_codec.encode(np.eye(2, dtype=np.uint8)), truncated=True)
    packed = EnvironmentSession._pack_observations(session, [("*", sdk_obs)], 5)
    mine = decode_observation(packed.observations[packed.actors_map[1]], obs_codec)
    np.testing.assert_array_equal(mine.value, np.eye(2, dtype=np.uint8))
    assert mine.truncated and not mine.terminated and mine.frame is None
    framed = LabObservation(None, obs_codec, frame=frame).to_bytes()
    np.testing.assert_array_equal(decode_observation(framed, obs_codec).frame, frame)
