"""Frame encoding and the ack-windowed stream that keeps the kernel from ever queueing frames."""

from __future__ import annotations

import io
import threading
import zlib
from typing import Any

import numpy as np
import pytest

from cogment_jupyter.notebook.frame_stream import EncodedFrame, FrameStream, as_rgb, encode_frame


def frame(value: int = 0, h: int = 4, w: int = 6) -> np.ndarray:
    f = np.zeros((h, w, 3), np.uint8)
    f[..., 0] = value
    f[1, 2] = (value, 200, 7)
    return f


class Recorder:
    """The send function a widget would pass: records what would go to the browser."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []
        self.lock = threading.Lock()

    def __call__(self, header: dict[str, Any], buffers: list[bytes]) -> None:
        with self.lock:
            self.sent.append((header, buffers))

    @property
    def seqs(self) -> list[int]:
        return [h["seq"] for h, _ in self.sent]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class TestEncoding:
    def test_lossless_formats_round_trip(self) -> None:
        Image = pytest.importorskip("PIL.Image", reason="png/jpeg/webp frames need Pillow")
        f = frame(77, 40, 60)
        assert encode_frame(f, "rgb").data == f.tobytes()
        assert zlib.decompress(encode_frame(f, "rgb-deflate").data) == f.tobytes()
        png = encode_frame(f, "png")
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png.data))), f)
        assert (png.width, png.height) == (60, 40)

    def test_lossy_formats_decode_to_the_right_size(self) -> None:
        Image = pytest.importorskip("PIL.Image", reason="png/jpeg/webp frames need Pillow")
        for fmt in ("jpeg", "webp"):
            e = encode_frame(frame(200, 40, 60), fmt)
            assert Image.open(io.BytesIO(e.data)).size == (60, 40)

    def test_deflate_shrinks_a_real_cartpole_frame(self) -> None:
        import gymnasium as gym

        env = gym.make("CartPole-v1", render_mode="rgb_array")
        env.reset(seed=0)
        e = encode_frame(env.render(), "rgb-deflate")
        assert (e.width, e.height) == (600, 400)
        assert len(e.data) < 20_000 < 600 * 400 * 3

    def test_frames_the_adapters_recorded_pass_through_without_re_encoding(self) -> None:
        from cogment_jupyter.adapters.frame_codec import encode_frame as record_frame

        f = frame(9, 40, 60)
        data, fmt = record_frame(f)
        assert fmt == "zlib:40x60x3"
        e = EncodedFrame.from_zlib(data, width=60, height=40)
        assert e.format == "rgb-deflate" and zlib.decompress(e.data) == f.tobytes()

    def test_as_rgb_accepts_grey_rgba_and_unit_floats(self) -> None:
        assert as_rgb(np.zeros((3, 4), np.uint8)).shape == (3, 4, 3)
        assert as_rgb(np.zeros((3, 4, 4), np.uint8)).shape == (3, 4, 3)
        assert as_rgb(np.full((2, 2, 3), 1.0)).max() == 255
        assert as_rgb(np.zeros((2, 2, 3), np.uint8)[:, ::-1]).flags.c_contiguous

    def test_bad_frames_are_refused_with_a_hint(self) -> None:
        with pytest.raises(ValueError, match="rgb_array"):
            as_rgb(np.zeros((3, 4, 5)))
        with pytest.raises(ValueError, match="rgb_array"):
            as_rgb(np.zeros(10))
        with pytest.raises(ValueError, match="unknown frame format"):
            encode_frame(frame(), "gif")  # type: ignore[arg-type]


class TestBackPressure:
    def test_never_more_than_window_in_flight_and_newest_replaces_waiting(self) -> None:
        rec = Recorder()
        s = FrameStream(rec, fmt="rgb", window=2)
        assert s.submit(frame(1)) and s.submit(frame(2))
        assert not s.submit(frame(3))  # waits
        assert not s.submit(frame(4))  # replaces 3
        assert rec.seqs == [1, 2] and s.in_flight == 2
        assert s.stats.dropped == 1
        s.ack(1)
        assert rec.seqs == [1, 2, 3]
        assert rec.sent[-1][1][0] == frame(4).tobytes()  # the newest frame went, not the stale one
        s.ack(2)
        s.ack(3)
        assert s.in_flight == 0 and s.stats.acked == 3

    def test_acks_are_cumulative_and_frames_ask_for_one_every_interval(self) -> None:
        rec, clock = Recorder(), Clock()
        s = FrameStream(rec, fmt="rgb", window=4, ack_interval_s=0.1, clock=clock)
        asks = []
        for i in range(3):
            clock.t = i * 0.04  # 0, 40, 80 ms: only the first asks
            assert s.submit(frame(i))
            asks.append(rec.sent[-1][0].get("ack", True))
        assert asks == [True, False, False]
        clock.t = 0.12
        assert s.submit(frame(3))  # fills the window: asks
        assert rec.sent[-1][0].get("ack", True)
        assert not s.submit(frame(9))  # the window is full
        s.ack(2)  # covers frames 1 and 2: the waiting frame goes out
        assert s.in_flight == 3 and s.stats.acked == 2 and rec.seqs == [1, 2, 3, 4, 5]
        s.ack(5)
        assert s.in_flight == 0 and s.stats.acked == 5

    def test_the_frame_that_fills_the_window_always_asks_for_an_ack(self) -> None:
        rec, clock = Recorder(), Clock()
        s = FrameStream(rec, fmt="rgb", window=3, ack_interval_s=10, clock=clock)
        for i in range(3):
            s.submit(frame(i))
        assert [h.get("ack", True) for h, _ in rec.sent] == [True, False, True]
        s.ack(3)
        s.submit(frame(1))
        assert rec.sent[-1][0].get("ack") is False and s.in_flight == 1

    def test_big_frames_get_a_window_of_bytes(self) -> None:
        rec = Recorder()
        big = np.zeros((400, 600, 3), np.uint8)  # 720 kB raw
        s = FrameStream(rec, fmt="rgb", window=12, max_bytes=1_000_000, ack_interval_s=10)
        assert s.submit(big) and s.submit(big)
        assert not s.submit(big)  # 1.44 MB in flight: waits though only 2 of 12 frames are out
        assert rec.sent[-1][0].get("ack", True)  # and the frame that filled the budget asked for an ack
        s.ack(2)
        assert s.in_flight == 1

    def test_a_second_view_acking_the_same_frame_does_not_widen_the_window(self) -> None:
        rec = Recorder()
        s = FrameStream(rec, fmt="rgb", window=1)
        s.submit(frame(1))
        s.submit(frame(2))
        s.ack(1)
        s.ack(1)
        s.submit(frame(3))
        assert rec.seqs == [1, 2] and s.in_flight == 1

    def test_unacknowledged_frames_are_written_off_after_the_timeout(self) -> None:
        rec, clock = Recorder(), Clock()
        s = FrameStream(rec, fmt="rgb", window=2, ack_timeout_s=2.0, clock=clock)
        s.submit(frame(1))
        s.submit(frame(2))
        assert not s.submit(frame(3))
        clock.t = 2.5  # the tab was closed: no ack will come
        assert s.submit(frame(4))
        assert s.stats.timeouts == 2 and len(rec.sent) == 2 + 1

    def test_hello_shows_a_new_view_the_latest_frame(self) -> None:
        rec = Recorder()
        s = FrameStream(rec, fmt="rgb-deflate", window=2)
        s.submit(frame(5), tick=3)
        s.ack(1)
        s.hello()
        header, buffers = rec.sent[-1]
        assert header["seq"] == 2 and header["tick"] == 3 and header.get("ack", True)
        assert zlib.decompress(buffers[0]) == frame(5).tobytes()
        assert s.stats.sent == 2 and s.stats.submitted == 1  # re-sent, not re-encoded

    def test_hello_sends_a_waiting_frame_first(self) -> None:
        rec = Recorder()
        s = FrameStream(rec, fmt="rgb", window=1)
        s.submit(frame(1))
        s.submit(frame(2))
        s.hello()  # the old view is gone; its frame will never be acked
        assert rec.sent[-1][1][0] == frame(2).tobytes()

    def test_header_carries_meta_but_not_none_values(self) -> None:
        rec = Recorder()
        FrameStream(rec, fmt="rgb").submit(frame(), key_seq=None, key_view="v1", tick=7)
        header = rec.sent[0][0]
        assert header == {"type": "frame", "seq": 1, "format": "rgb", "width": 6, "height": 4,
                          "key_view": "v1", "tick": 7}  # fmt: skip

    def test_the_caller_may_reuse_its_buffer(self) -> None:
        rec = Recorder()
        s = FrameStream(rec, fmt="rgb", window=1)
        buf = frame(1)
        s.submit(buf)
        buf[...] = 9
        s.submit(buf)  # waits, as a copy
        buf[...] = 0
        s.ack(1)
        assert rec.sent[-1][1][0] == np.full((4, 6, 3), 9, np.uint8).tobytes()

    def test_threads_submitting_and_acking_keep_the_invariants(self) -> None:
        rec = Recorder()
        s = FrameStream(rec, fmt="rgb", window=2)
        stop = threading.Event()
        max_in_flight = 0

        def producer() -> None:
            for i in range(2000):
                s.submit(frame(i % 256))
            stop.set()

        def browser() -> None:
            nonlocal max_in_flight
            acked = 0
            while not stop.is_set() or acked < len(rec.seqs):
                max_in_flight = max(max_in_flight, s.in_flight)
                if acked < len(rec.seqs):
                    acked += 1
                    s.ack(acked)

        threads = [threading.Thread(target=producer), threading.Thread(target=browser)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        seqs = rec.seqs
        assert seqs == list(range(1, len(seqs) + 1))
        assert max_in_flight <= 2
        assert s.stats.submitted == 2000 == s.stats.sent + s.stats.dropped + int(s.waiting)

    def test_legs_of_the_round_trip_are_reported_from_ack_timestamps(self) -> None:
        import time

        rec = Recorder()
        s = FrameStream(rec, fmt="rgb")
        s.submit(frame())
        now = time.time() * 1000
        s.ack(1, recv_ms=now + 5, ack_ms=now + 8)
        stats = s.stats.as_dict()
        assert stats["paint_ms"] == pytest.approx(3, abs=0.01)
        assert "to_browser_ms" in stats and "ack_back_ms" in stats

    def test_bad_settings(self) -> None:
        with pytest.raises(ValueError, match="window"):
            FrameStream(Recorder(), window=0)
        with pytest.raises(ValueError, match="unknown frame format"):
            FrameStream(Recorder(), fmt="bmp")  # type: ignore[arg-type]


class TestDeflateCache:
    """A frame compressed for the datalog is not compressed again for the widget (and back)."""

    def test_the_same_frame_is_compressed_once_and_a_redrawn_buffer_again(self) -> None:
        from cogment_jupyter.adapters.frame_codec import encode_frame as record

        f = np.ascontiguousarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8))
        recorded, _ = record(f)
        shown = encode_frame(f, "rgb-deflate").data
        assert shown is recorded  # reused, not recompressed
        f[0, 0] ^= 1  # an env that redraws its buffer in place
        again = encode_frame(f, "rgb-deflate").data
        assert again is not recorded and zlib.decompress(again) == f.tobytes()

    def test_a_frame_decoded_from_zlib_is_forwarded_as_received(self) -> None:
        from cogment_jupyter.adapters.frame_codec import decode_frame

        data = zlib.compress(frame(7).tobytes(), 1)
        decoded = decode_frame(data, "zlib:4x6x3")
        assert encode_frame(decoded, "rgb-deflate").data is not None
        assert encode_frame(decoded, "rgb-deflate").data == data
        assert zlib.decompress(encode_frame(decoded.copy(), "rgb-deflate").data) == frame(7).tobytes()
