from __future__ import annotations

import contextlib
import enum
import json
import zlib
from collections import OrderedDict

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter.adapters import wire
from cogment_jupyter.adapters.codec import ValueOutsideSpaceError, codec_for
from cogment_jupyter.adapters.frame_codec import FrameFormatError, decode_frame, encode_frame
from cogment_jupyter.adapters.payloads import (
    LabAction,
    LabObservation,
    checked_envelope_encoder,
    decode_action,
    decode_observation,
    envelope_encoder,
    info_to_json,
    mask_from_bytes,
    mask_to_bytes,
    value_envelope,
)

BOX = codec_for(gym.spaces.Box(-1, 1, (3,), dtype=np.float32))
DISCRETE = codec_for(gym.spaces.Discrete(4))


def test_building_an_observation_encodes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> bytes:
        raise AssertionError("encoded on the in-process path")

    monkeypatch.setattr(type(BOX), "encode", boom)
    obs = LabObservation(np.zeros(3, np.float32), BOX, None, False, False, True, False, {"a": 1}, None)
    assert obs.terminated and obs.info == {"a": 1}
    assert "terminated" in repr(obs)
    LabAction(1, DISCRETE)


def test_observation_round_trip_every_field() -> None:
    value = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    frame = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    info = {"seed": 7, "arr": np.array([1, 2]), "x": np.float32(0.5), "nested": {"t": (1, 2)}}
    obs = LabObservation(value, BOX, frame, True, True, True, True, info, np.array([1, 0, 1, 1]))
    data = obs.to_bytes()
    assert obs.to_bytes() is data  # cached
    back = decode_observation(data, BOX, DISCRETE)
    np.testing.assert_array_equal(back.value, value)
    np.testing.assert_array_equal(back.frame, frame)
    assert (back.inactive, back.dead, back.terminated, back.truncated) == (True, True, True, True)
    assert back.info == {"seed": 7, "arr": [1, 2], "x": 0.5, "nested": {"t": [1, 2]}}
    np.testing.assert_array_equal(back.action_mask, [1, 0, 1, 1])
    assert back.action_mask.dtype == np.int8
    assert decode_observation(obs, BOX) is obs  # in-process objects pass through
    assert decode_observation(wire.Observation.FromString(data), BOX).terminated


def test_observation_without_value_or_codec() -> None:
    empty = LabObservation(None, None, inactive=True)
    back = decode_observation(empty.to_bytes(), BOX)
    assert back.value is None and back.inactive and back.frame is None and back.info == {}
    assert back.action_mask is None
    assert decode_observation(None, BOX).value is None
    with pytest.raises(ValueError, match="needs the observation space's codec"):
        LabObservation(np.zeros(3), None).to_bytes()
    with pytest.raises(ValueError, match="codec"):
        decode_observation(LabObservation(np.zeros(3, np.float32), BOX).to_bytes(), None)
    with pytest.raises(TypeError, match="expected bytes"):
        decode_observation(3.5, BOX)


def test_text_empty_value_is_not_no_value() -> None:
    text = codec_for(gym.spaces.Text(3, min_length=0))
    assert decode_observation(LabObservation("", text).to_bytes(), text).value == ""
    assert decode_observation(LabObservation(None, text).to_bytes(), text).value is None


def test_action_round_trip() -> None:
    assert decode_action(LabAction(3, DISCRETE).to_bytes(), DISCRETE).value == 3
    assert LabAction(None, DISCRETE).to_bytes() == b""
    assert decode_action(b"", DISCRETE).value is None
    assert decode_action(None, DISCRETE).value is None
    action = LabAction(1, DISCRETE)
    assert decode_action(action, DISCRETE) is action
    assert decode_action(wire.Action(value=b"\x02"), DISCRETE).value == 2
    with pytest.raises(ValueError, match="outside Discrete"):
        LabAction(9, DISCRETE).to_bytes()
    with pytest.raises(ValueError, match="action space's codec"):
        LabAction(1).to_bytes()
    assert repr(LabAction(1)) == "LabAction(1)"


def test_info_json_is_standard_and_robust() -> None:
    assert info_to_json({}) == "" and info_to_json(None) == ""
    text = info_to_json({1: "int key", (1, 2): "tuple key", "nan": float("nan"), "obj": object()})
    parsed = json.loads(text)  # strict JSON
    assert parsed["1"] == "int key" and parsed["(1, 2)"] == "tuple key" and parsed["nan"] == "nan"
    assert parsed["obj"].startswith("<object")


class _Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    "info",
    [
        {"seed": 123456789},
        {"seed": -5},
        {"seed": 2**70},
        {"seed": True},
        {"seed": 1.5},
        {"seed": None},
        {"seed": np.int64(7)},
        {"seed": _Level.HIGH},
        {'clé \u2603\n"': 3},
        {"seed": 1, "lives": 3},
        {"nested": {"seed": 1}},
        OrderedDict(seed=4),
    ],
)
def test_info_json_is_what_json_dumps_writes(info: dict) -> None:
    """Every trial's reset info is encoded by a fast path: the same text as json.dumps."""
    from cogment_jupyter.adapters.payloads import _json_default

    expected = json.dumps(info, default=_json_default, separators=(",", ":"), allow_nan=False)
    assert info_to_json(info) == expected


def test_masks() -> None:
    assert mask_to_bytes(None) == b"" and mask_from_bytes(b"") is None
    assert mask_to_bytes([True, False, 3]) == b"\x01\x00\x01"
    multi = codec_for(gym.spaces.MultiDiscrete([2, 3]))
    masks = mask_from_bytes(mask_to_bytes((np.array([1, 0]), np.array([0, 1, 1]))), multi)
    assert [m.tolist() for m in masks] == [[1, 0], [0, 1, 1]]
    binary = codec_for(gym.spaces.MultiBinary([2, 2]))
    assert mask_from_bytes(b"\x01\x00\x00\x01", binary).shape == (2, 2)


def test_frames_are_zlib_of_raw_pixels() -> None:
    frame = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    data, fmt = encode_frame(frame)
    assert fmt == "zlib:40x60x3"
    assert zlib.decompress(data) == frame.tobytes()
    np.testing.assert_array_equal(decode_frame(data, fmt), frame)
    np.testing.assert_array_equal(decode_frame(frame.tobytes(), "raw:40x60x3"), frame)
    gray = np.full((4, 4), 0.5)
    data, fmt = encode_frame(gray)  # floats in [0, 1] are scaled
    assert fmt == "zlib:4x4" and decode_frame(data, fmt)[0, 0] == 127
    with pytest.raises(FrameFormatError, match="HxWx3"):
        encode_frame(np.zeros(3))
    with pytest.raises(FrameFormatError, match="unknown frame format"):
        decode_frame(b"", "gif")
    with pytest.raises(FrameFormatError, match="bad frame shape"):
        decode_frame(b"", "raw:axb")


def test_png_frames_are_read() -> None:
    pil = pytest.importorskip("PIL.Image")
    import io

    frame = np.random.default_rng(1).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    buf = io.BytesIO()
    pil.fromarray(frame).save(buf, format="PNG")
    np.testing.assert_array_equal(decode_frame(buf.getvalue(), "png"), frame)


VALUE_CASES = {
    "box": (gym.spaces.Box(-1, 1, (4,), np.float32), lambda rng: rng.uniform(-1, 1, 4).astype(np.float32)),
    "image": (gym.spaces.Box(0, 255, (6, 5, 3), np.uint8), lambda rng: rng.integers(0, 256, (6, 5, 3), np.uint8)),
    "discrete with start": (gym.spaces.Discrete(300, start=-100), lambda rng: int(rng.integers(-100, 200))),
    "multibinary": (gym.spaces.MultiBinary(3), lambda rng: rng.integers(0, 2, 3).astype(np.int8)),
}


@pytest.mark.parametrize("case", list(VALUE_CASES))
def test_values_of_the_exact_type_take_the_short_path_to_the_same_bytes(case: str) -> None:
    space, draw = VALUE_CASES[case]
    codec = codec_for(space)
    rng = np.random.default_rng(7)
    for value in (draw(rng) for _ in range(20)):
        assert codec.exact_bytes(value) is not None  # no conversion, no checks beyond the type
        envelope = value_envelope(codec, value)
        assert envelope == wire.encode_action(codec.encode(value))
        assert envelope == LabObservation(value, codec).to_bytes()  # value-only: the same bytes
    if isinstance(space, gym.spaces.Box):
        image = draw(rng)
        view = image[::-1]  # not contiguous: still C order
        assert value_envelope(codec, view) == wire.encode_action(codec.encode(np.ascontiguousarray(view)))


@pytest.mark.parametrize("case", [*VALUE_CASES, "text", "large discrete"])
def test_an_answer_is_checked_and_enveloped_in_one_call_or_left_to_the_codecs_check(case: str) -> None:
    """``checked_envelope_encoder`` (the lean runner's action): the envelope of a value the
    codec's ``validate`` returns as it is; None for any other value (converted or refused)."""
    if case == "text":
        space, draw = gym.spaces.Text(4), lambda rng: "ab"
    elif case == "large discrete":
        space, draw = gym.spaces.Discrete(5000, start=-3), lambda rng: int(rng.integers(-3, 4997))
    else:
        space, draw = VALUE_CASES[case]
    codec = codec_for(space)
    checked, envelope = checked_envelope_encoder(codec), envelope_encoder(codec)
    rng = np.random.default_rng(3)
    for value in (draw(rng) for _ in range(20)):
        found = checked(value)
        assert found is None if case == "text" else found == envelope(value) == value_envelope(codec, value)
    others: list = [None, "x", 1.5, True, np.int64(1), [0], object()]
    if isinstance(space, gym.spaces.Discrete):
        others += [int(space.start) - 1, int(space.start + space.n)]
    if isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary):
        value = draw(rng)
        others += [value.astype(np.float64), value[None], value.tolist()]
        if case != "image":  # (a value of its dtype and shape, outside its bounds)
            others.append(np.full_like(value, 2 if case == "multibinary" else 200))
    for value in others:
        assert checked(value) is None, value
        if case != "text":  # (a codec that finds none leaves every value to its check)
            with contextlib.suppress(ValueOutsideSpaceError):  # (what validate makes of it: converted, or refused)
                assert codec.validate(value) is not value


def test_other_values_are_converted_or_refused_as_before() -> None:
    box = codec_for(gym.spaces.Box(-1, 1, (2,), np.float32))
    for value in (np.zeros(2, np.float64), [0.5, -0.5], np.zeros(2, ">f4")):  # to convert
        assert box.exact_bytes(value) is None
        assert value_envelope(box, value) == wire.encode_action(np.asarray(value, "<f4").tobytes())
    discrete = codec_for(gym.spaces.Discrete(2))
    assert discrete.exact_bytes(np.int64(1)) is None and discrete.exact_bytes(True) is None
    assert value_envelope(discrete, np.int64(1)) == wire.encode_action(b"\x01")
    assert value_envelope(discrete, None) == b""  # no action
    assert discrete.exact_bytes(7) is None
    with pytest.raises(ValueOutsideSpaceError, match=r"outside Discrete\(2\)"):
        value_envelope(discrete, 7)
    with pytest.raises(ValueOutsideSpaceError, match="shape"):
        value_envelope(box, np.zeros(3, np.float32))


def test_a_snapshot_records_values_as_they_were() -> None:
    array = np.zeros(3, np.float32)
    frame = np.zeros((2, 2, 3), np.uint8)
    observation = LabObservation(array, BOX, frame)
    observation.snapshot()
    array[:] = 1
    frame[:] = 255  # the environment reuses its buffers at the next step
    back = decode_observation(observation.to_bytes(), BOX)
    assert back.value.tolist() == [0, 0, 0] and back.frame.max() == 0
    space = gym.spaces.Dict({"x": gym.spaces.Box(-1, 1, (2,), np.float32)})
    inner = np.zeros(2, np.float32)
    nested = LabObservation({"x": inner}, codec_for(space))
    nested.snapshot()  # a container is encoded at once
    inner[:] = 1
    assert decode_observation(nested.to_bytes(), codec_for(space)).value["x"].tolist() == [0, 0]
    action_array = np.zeros(3, np.float32)
    action = LabAction(action_array, BOX)
    action.snapshot()
    action_array[:] = 1
    assert decode_action(action.to_bytes(), BOX).value.tolist() == [0, 0, 0]
