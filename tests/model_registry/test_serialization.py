"""The serialization rule, both ways, whatever the chunk boundaries (no registry involved)."""

from __future__ import annotations

import numpy as np
import pytest

from cogment_jupyter.model_registry.serialization import encode, receiver


def round_trip(value, piece: int, tmp_path):
    encoded = encode(value, tmp_path)
    data = b"".join(bytes(chunk) for chunk in encoded.chunks())
    encoded.cleanup()
    assert len(data) == encoded.size
    sink = receiver(encoded.format, encoded.size, tmp_path)
    try:
        for start in range(0, len(data), piece):
            sink.write(data[start : start + piece])
        return encoded.format, sink.finish()
    finally:
        sink.close()


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 22])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.int64).reshape(2, 3, 4),
        np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.arange(30, dtype=np.float32).reshape(5, 6)[::2, 1::2],  # strided: copied once
        np.zeros((0, 3), dtype=np.uint8),
        np.array(3.5),
        np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
    ],
    ids=["c", "fortran", "strided", "empty", "scalar", "structured"],
)
def test_arrays_come_back_equal(array, piece, tmp_path) -> None:
    format, back = round_trip(array, piece, tmp_path)
    assert format == "npy"
    assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)


def test_bytes_and_dicts_of_arrays(tmp_path) -> None:
    assert round_trip(b"abc" * 1000, 5, tmp_path) == ("bytes", b"abc" * 1000)
    assert round_trip(bytearray(b"xy"), 1, tmp_path)[1] == b"xy"
    assert (
        round_trip(memoryview(np.arange(4, dtype=np.int16)), 3, tmp_path)[1] == np.arange(4, dtype=np.int16).tobytes()
    )
    format, back = round_trip({"w": np.ones((2, 2)), "b": np.arange(3)}, 11, tmp_path)
    assert format == "npz" and set(back) == {"w", "b"} and np.array_equal(back["b"], np.arange(3))
    assert not list(tmp_path.iterdir())  # spool files are removed


def test_damaged_arrays_are_refused(tmp_path) -> None:
    sink = receiver("npy", 10)
    with pytest.raises(ValueError, match=r"not a \.npy array"):
        sink.write(b"not an npy header at all")
    encoded = encode(np.arange(10), tmp_path)
    data = b"".join(bytes(c) for c in encoded.chunks())
    short = receiver("npy", len(data))
    short.write(data[:-8])
    with pytest.raises(ValueError, match="ended before its data did"):
        short.finish()
    long = receiver("npy", len(data))
    with pytest.raises(ValueError, match="longer than its header says"):
        long.write(data + b"extra")
    with pytest.raises(ValueError, match="unknown model format"):
        receiver("pickle", 3, tmp_path)
