from __future__ import annotations

import gymnasium as gym
import numpy as np
import pyarrow as pa
import pytest

from cogment_jupyter.adapters.codec import (
    BoxCodec,
    Codec,
    DecodeError,
    DictCodec,
    DiscreteCodec,
    TextCodec,
    TupleCodec,
    ValueOutsideSpaceError,
    codec_for,
    read_varint,
    write_varint,
)
from cogment_jupyter.adapters.spaces import SpaceFormatError

from .spaces_cases import BOX_DTYPES, SPACES, assert_value_equal, box, samples


def edge_values(space: gym.Space) -> list:
    """Bounds and special floats, on top of random samples."""
    if isinstance(space, gym.spaces.Box) and space.shape:
        out = [space.low.copy(), space.high.copy()]
        if space.dtype.kind == "f":
            special = np.zeros(space.shape, dtype=space.dtype)
            special.flat[: min(3, special.size)] = [np.nan, np.inf, -np.inf][: min(3, special.size)]
            out.append(special)
        return out
    if isinstance(space, gym.spaces.Discrete):
        return [int(space.start), int(space.start + space.n - 1)]
    if isinstance(space, gym.spaces.Text) and space.min_length == 0:
        return [""]
    return []


@pytest.mark.parametrize("name", list(SPACES))
def test_round_trip_every_space(name: str) -> None:
    space = SPACES[name]
    codec = codec_for(space)
    sampled = samples(space)
    for value in sampled + edge_values(space):  # edge values include NaN/inf outside the bounds
        data = codec.encode(value)
        assert isinstance(data, bytes)
        if codec.size is not None:
            assert len(data) == codec.size
        back = codec.decode(data)
        assert_value_equal(back, value)
        if any(value is s for s in sampled):
            assert space.contains(back)


@pytest.mark.parametrize("dtype", BOX_DTYPES, ids=lambda d: np.dtype(d).name)
def test_box_is_raw_c_order_bytes_in_the_space_dtype(dtype: type) -> None:
    space = box(dtype, (3, 2))
    value = space.sample()
    codec = codec_for(space)
    assert codec.encode(value) == np.ascontiguousarray(value, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    assert codec.size == 6 * np.dtype(dtype).itemsize
    fortran = np.asfortranarray(value)
    assert codec.encode(fortran) == codec.encode(value)  # C order whatever the memory layout


def test_discrete_is_a_narrow_little_endian_int_not_one_hot() -> None:
    assert codec_for(gym.spaces.Discrete(2)).encode(1) == b"\x01"
    assert codec_for(gym.spaces.Discrete(300)).encode(258) == b"\x02\x01"
    assert codec_for(gym.spaces.Discrete(5, start=-2)).encode(-2) == b"\xfe"
    assert codec_for(gym.spaces.Discrete(70_000, start=-1)).size == 4
    assert codec_for(gym.spaces.Discrete(2**40, start=2**41)).size == 8
    assert codec_for(gym.spaces.Discrete(128)).size == 1 and codec_for(gym.spaces.Discrete(129)).size == 2
    value = codec_for(gym.spaces.Discrete(3)).decode(b"\x02")
    assert value == 2 and type(value) is int


def test_text_is_utf8() -> None:
    codec = codec_for(SPACES["text_charset"])
    assert codec.encode("é€ z") == "é€ z".encode()
    assert codec.decode("é€".encode()) == "é€"
    assert codec.size is None


def test_container_layouts() -> None:
    fixed = codec_for(SPACES["dict_fixed"])  # keys sorted by gymnasium: id, pos
    assert isinstance(fixed, DictCodec) and fixed.size == 1 + 8
    pos = np.array([0.5, -0.25], dtype=np.float32)
    assert fixed.encode({"pos": pos, "id": 3}) == b"\x03" + pos.tobytes()
    tup = codec_for(gym.spaces.Tuple([gym.spaces.Text(4), gym.spaces.Discrete(3), gym.spaces.Text(4, min_length=0)]))
    assert isinstance(tup, TupleCodec) and tup.size is None
    assert tup.encode(("ab", 2, "")) == b"\x02ab" + b"\x02" + b"\x00"
    assert tup.decode(b"\x02ab\x02\x00") == ("ab", 2, "")


def test_varint() -> None:
    for n in (0, 1, 127, 128, 300, 2**21, 2**35):
        data = write_varint(n)
        assert read_varint(data + b"xyz", 0) == (n, len(data))
    with pytest.raises(DecodeError):
        read_varint(b"\x80\x80", 0)


# -- validation and errors ---------------------------------------------------------------------


def test_action_outside_discrete_names_space_value_and_fix() -> None:
    codec = codec_for(gym.spaces.Discrete(2))
    with pytest.raises(ValueOutsideSpaceError) as err:
        codec.validate(5, "action")
    msg = str(err.value)
    assert "action 5" in msg and "Discrete(2)" in msg and "[0, 1]" in msg and "Return" in msg
    for bad in (True, 1.0, "1", [1], np.array([1]), None):
        with pytest.raises(ValueOutsideSpaceError):
            codec.validate(bad)
    assert codec.validate(np.int64(1)) == 1 and type(codec.validate(np.int64(1))) is int
    assert codec.validate(np.array(0)) == 0
    with pytest.raises(ValueOutsideSpaceError):
        codec.encode(2)


def test_box_validation_messages() -> None:
    codec = codec_for(gym.spaces.Box(0.0, 1.0, (2,), dtype=np.float32))
    assert codec.validate([0.5, 1.0]).dtype == np.float32
    with pytest.raises(ValueOutsideSpaceError, match=r"element \(1,\) = 3.0 is outside \[0.0, 1.0\]; clip"):
        codec.validate([0.5, 3.0], "action")
    with pytest.raises(ValueOutsideSpaceError, match=r"shape \(3,\); reshape it to \(2,\)"):
        codec.validate([0.5, 0.5, 0.5])
    ints = codec_for(gym.spaces.Box(0, 255, (2,), dtype=np.uint8))
    with pytest.raises(ValueOutsideSpaceError, match="float64 does not convert to uint8"):
        ints.validate(np.array([0.5, 1.0]))
    with pytest.raises(ValueOutsideSpaceError, match="does not convert to uint8"):
        ints.encode([256, 0])  # would wrap around silently with astype
    assert ints.encode([255, 0]) == b"\xff\x00"
    with pytest.raises(ValueOutsideSpaceError, match="0s and 1s"):
        codec_for(gym.spaces.MultiBinary(2)).validate([0, 2])
    with pytest.raises(ValueOutsideSpaceError, match="start <= x < start \\+ nvec"):
        codec_for(gym.spaces.MultiDiscrete([2, 2])).validate([0, 2])


def test_container_and_text_validation() -> None:
    codec = codec_for(SPACES["dict_fixed"])
    with pytest.raises(ValueOutsideSpaceError, match=r"keys \['id', 'pos'\].*add the missing"):
        codec.validate({"pos": [0, 0]}, "action")
    with pytest.raises(ValueOutsideSpaceError, match=r"action\['id'\] 9 is outside Discrete\(4\)"):
        codec.validate({"pos": [0, 0], "id": 9}, "action")
    with pytest.raises(ValueOutsideSpaceError, match="tuple of 2"):
        codec_for(SPACES["tuple"]).validate((1,))
    text = codec_for(gym.spaces.Text(3, charset="ab"))
    assert text.validate(np.str_("ab")) == "ab"
    with pytest.raises(ValueOutsideSpaceError, match="charset"):
        text.validate("abc!")
    with pytest.raises(ValueOutsideSpaceError, match="a str"):
        text.encode(3)


def test_decode_errors() -> None:
    with pytest.raises(DecodeError, match="takes 16 bytes, got 3"):
        codec_for(gym.spaces.Box(0, 1, (4,))).decode(b"abc")
    with pytest.raises(DecodeError, match="UTF-8"):
        codec_for(gym.spaces.Text(4)).decode(b"\xff\xfe")
    with pytest.raises(DecodeError, match="trailing"):
        codec_for(SPACES["tuple_text"]).decode(b"\x01a\x05\x00\x00\x00x")
    with pytest.raises(DecodeError, match="truncated"):
        codec_for(SPACES["tuple_text"]).decode(b"\x05a")


def test_unsupported_space() -> None:
    with pytest.raises(SpaceFormatError, match="no codec for Sequence"):
        codec_for(gym.spaces.Sequence(gym.spaces.Discrete(2)))


def test_codec_classes() -> None:
    assert isinstance(codec_for(SPACES["discrete"]), DiscreteCodec)
    for name in ("box_float32", "multibinary", "multidiscrete"):
        assert isinstance(codec_for(SPACES[name]), BoxCodec)
    assert isinstance(codec_for(SPACES["text"]), TextCodec)
    assert "Discrete(2)" in repr(codec_for(SPACES["discrete"]))


# -- column decoding ---------------------------------------------------------------------------


def assert_row(codec: Codec, got, value) -> None:
    """An Arrow row (as_py) equals the per-value decoding."""
    if isinstance(codec, DiscreteCodec | TextCodec):
        assert got == value
    elif isinstance(codec, BoxCodec):
        np.testing.assert_array_equal(np.asarray(got, dtype=codec.dtype).reshape(codec.shape), value)
    elif isinstance(codec, DictCodec):
        assert list(got) == codec.names
        for k, c in zip(codec.keys, codec.children, strict=True):
            assert_row(c, got[str(k)], value[k])
    else:
        assert isinstance(codec, TupleCodec)
        for i, c in enumerate(codec.children):
            assert_row(c, got[str(i)], value[i])


def check_column(codec: Codec, encoded: list[bytes | None], column: pa.Array) -> None:
    assert len(column) == len(encoded)
    assert column.type == codec.arrow_type
    for i, data in enumerate(encoded):
        if data is None:
            assert not column[i].is_valid
        else:
            assert column[i].is_valid
            assert_row(codec, column[i].as_py(), codec.decode(data))


@pytest.mark.parametrize("name", list(SPACES))
def test_decode_column_equals_per_value_decoding(name: str) -> None:
    space = SPACES[name]
    codec = codec_for(space)
    encoded: list[bytes | None] = [codec.encode(v) for v in samples(space, 12) + edge_values(space)]
    check_column(codec, encoded, codec.decode_column(pa.array(encoded, type=pa.binary())))
    with_nulls = [None, *encoded[:3], None, *encoded[3:], None]
    check_column(codec, with_nulls, codec.decode_column(pa.array(with_nulls, type=pa.binary())))
    large = pa.array(with_nulls, type=pa.large_binary())
    check_column(codec, with_nulls, codec.decode_column(large))
    sliced = pa.array(with_nulls, type=pa.binary()).slice(2, 5)
    check_column(codec, with_nulls[2:7], codec.decode_column(sliced))
    chunked = pa.chunked_array([pa.array(with_nulls[:4], pa.binary()), pa.array(with_nulls[4:], pa.binary())])
    check_column(codec, with_nulls, codec.decode_column(chunked))
    assert len(codec.decode_column(pa.array([], type=pa.binary()))) == 0


@pytest.mark.parametrize("name", [n for n, s in SPACES.items() if codec_for(s).size is not None])
def test_fixed_size_columns_decode_without_per_row_python(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    codec = codec_for(SPACES[name])
    encoded = [codec.encode(v) for v in samples(codec.space, 50)]
    expected = [codec.decode(b) for b in encoded]

    def no_per_row_decode(*_: object) -> None:
        raise AssertionError("decode() called per row")

    for c in [codec, *getattr(codec, "children", [])]:
        monkeypatch.setattr(type(c), "decode", no_per_row_decode)
    column = codec.decode_column(pa.array(encoded, type=pa.binary()))
    monkeypatch.undo()
    for i, value in enumerate(expected):
        assert_row(codec, column[i].as_py(), value)


def test_box_column_types_and_numpy_views() -> None:
    image = codec_for(gym.spaces.Box(0, 255, (64, 64, 3), dtype=np.uint8))
    values = samples(image.space, 400)  # larger than one gather chunk (bounded index matrix)
    rows = [image.encode(v) for v in values]
    column = image.decode_column(pa.array(rows))
    assert isinstance(column.type, pa.FixedShapeTensorType) and column.type.shape == [64, 64, 3]
    np.testing.assert_array_equal(column.to_numpy_ndarray(), np.stack(values))
    # envelopes of unequal size: the rows are gathered, not viewed
    padded = [b"#" * (i % 7) + r for i, r in enumerate(rows)]
    data, starts, lengths, present = _spans(padded, [i % 7 for i in range(len(rows))])
    gathered = image.decode_spans(data, starts, lengths, present)
    np.testing.assert_array_equal(gathered.to_numpy_ndarray(), np.stack(values))
    # equally spaced rows (a constant-size prefix): one strided view
    data, starts, lengths, present = _spans([b"##" + r for r in rows], [2] * len(rows))
    np.testing.assert_array_equal(
        image.decode_spans(data, starts, lengths, present).to_numpy_ndarray(), np.stack(values)
    )
    flat = codec_for(gym.spaces.Box(-1, 1, (4,), dtype=np.float32)).decode_column(pa.array([b"\x00" * 16] * 3))
    assert flat.type == pa.list_(pa.float32(), 4)
    assert codec_for(SPACES["discrete"]).arrow_type == pa.int64()
    assert codec_for(SPACES["text"]).arrow_type == pa.string()
    assert pa.types.is_struct(codec_for(SPACES["dict_fixed"]).arrow_type)


def _spans(rows: list[bytes], prefix: list[int]):
    arr = pa.array(rows, type=pa.binary())
    from cogment_jupyter.adapters.codec import binary_layout

    data, starts, lengths, present = binary_layout(arr)
    p = np.asarray(prefix, dtype=np.int64)
    return data, starts + p, lengths - p, present


def test_column_of_wrong_size_values_is_a_clear_error() -> None:
    codec = codec_for(gym.spaces.Box(0, 1, (4,)))
    with pytest.raises(DecodeError, match=r"row 1 holds 3 bytes but a Box.* takes 16"):
        codec.decode_column(pa.array([b"\x00" * 16, b"abc"]))
    with pytest.raises(DecodeError, match="not UTF-8"):
        codec_for(gym.spaces.Text(4)).decode_column(pa.array([b"ok", b"\xff"]))
    with pytest.raises(TypeError, match="binary Arrow array"):
        codec.decode_column(pa.array([1, 2]))


def test_a_codec_checks_as_another_only_when_their_spaces_hold_the_same_values() -> None:
    """``checks_as``: a value one codec checked needs no check by the other (the lean runner
    skips the environment's check of its actor's answers on that)."""
    alike = [
        (gym.spaces.Discrete(2), gym.spaces.Discrete(2)),
        (gym.spaces.Discrete(3, start=-1), gym.spaces.Discrete(3, start=-1)),
        (gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(-1, 1, (3,), np.float32)),
        (gym.spaces.MultiBinary(4), gym.spaces.MultiBinary(4)),
        (gym.spaces.MultiDiscrete([2, 3]), gym.spaces.MultiDiscrete([2, 3])),
    ]
    other = [
        (gym.spaces.Discrete(2), gym.spaces.Discrete(3)),
        (gym.spaces.Discrete(2), gym.spaces.Discrete(2, start=1)),
        (gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(-1, 2, (3,), np.float32)),
        (gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(-1, 1, (3,), np.float64)),
        (gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(-1, 1, (1, 3), np.float32)),
        (gym.spaces.MultiDiscrete([2, 3]), gym.spaces.MultiDiscrete([2, 4])),
        (gym.spaces.MultiBinary(4), gym.spaces.Box(0, 1, (4,), np.int8)),
        (gym.spaces.Discrete(2), gym.spaces.MultiBinary(1)),
        (gym.spaces.Dict({"a": gym.spaces.Discrete(2)}), gym.spaces.Dict({"a": gym.spaces.Discrete(2)})),
    ]
    for first, second in alike:
        a, b = codec_for(first), codec_for(second)
        assert a is not b and a.checks_as(b) and b.checks_as(a), (first, second)
    for first, second in other:
        a, b = codec_for(first), codec_for(second)
        assert not a.checks_as(b) and not b.checks_as(a), (first, second)
    for space in (first for first, _ in alike + other):
        assert codec_for(space).checks_as(codec_for(space))  # (any codec: itself)
