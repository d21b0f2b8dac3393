"""Frames for the play widget: encoding, and delivery with acknowledgement-based back-pressure.

Why back-pressure: a kernel that sends frames faster than the browser paints them queues
megabytes on the websocket and the player sees the past. The front end acknowledges the frames
it has painted (or skipped for a newer one); at most ``window`` frames (and about ``max_bytes``)
are unacknowledged, and a frame submitted while the window is full replaces the one waiting
(drop-oldest), so nothing ever queues in the kernel. Acks are cumulative and asked for about
every ``ack_interval_s`` (and by the frame that fills the window): every message from the page
is a shell message the kernel answers with a busy and an idle status, and one ack per frame
cost more than everything else on the frame path.

Why ``rgb-deflate`` by default (zlib level 1 of the raw pixels): it painted the most frames per
second, for small and large frames, with among the lowest latencies; it is lossless, needs only
the standard library (Pillow is optional, for png/jpeg/webp), and is the format
:mod:`cogment_jupyter.adapters.frame_codec` stores, so a frame the datalog already compressed
is not compressed again (:func:`cogment_jupyter.adapters.frame_codec.deflate`). Raw RGB is
cheapest to make but costs the server and the page more than inflating does.

The measurements behind both choices: ``docs/decisions/play-widget.md``.
"""

from __future__ import annotations

import io
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cogment_jupyter.adapters.frame_codec import deflate
from cogment_jupyter.notebook.protocol import FORMATS, FrameFormat, FrameMessage
from cogment_jupyter.notebook.tracing import stamp

DEFAULT_FORMAT: FrameFormat = "rgb-deflate"
PILLOW_FORMATS = ("png", "jpeg", "webp")

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "EncodedFrame",
    "FrameFormat",
    "FrameStats",
    "FrameStream",
    "as_rgb",
    "encode_frame",
]


@dataclass(frozen=True)
class EncodedFrame:
    """A frame ready for the wire: one binary buffer plus what the browser needs to decode it."""

    format: FrameFormat
    width: int
    height: int
    data: bytes

    @classmethod
    def from_zlib(cls, data: bytes, width: int, height: int) -> EncodedFrame:
        """Wrap zlib-compressed HxWx3 pixels (as the adapters store frames) without re-encoding."""
        return cls("rgb-deflate", width, height, bytes(data))


def as_rgb(frame: Any) -> np.ndarray:
    """The frame as a C-contiguous ``HxWx3`` uint8 array; RGBA loses alpha, grey gains channels."""
    a = np.asarray(frame)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"a frame must be an HxWx3 RGB image array, got shape {a.shape}: "
            "use env.render() of an env made with render_mode='rgb_array'"
        )
    if a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype != np.uint8:
        if a.dtype.kind not in "uif":
            raise TypeError(f"a frame must hold numbers, got dtype {a.dtype}")
        if a.dtype.kind == "f" and a.size and float(np.nanmax(a)) <= 1.0:
            a = a * 255.0
        a = np.clip(a, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def encode_frame(frame: Any, fmt: FrameFormat = DEFAULT_FORMAT, *, quality: int = 80) -> EncodedFrame:
    """Encode one RGB frame; ``quality`` applies to the lossy jpeg and webp."""
    rgb = as_rgb(frame)
    h, w = rgb.shape[:2]
    if fmt == "rgb":
        return EncodedFrame("rgb", w, h, rgb.tobytes())
    if fmt == "rgb-deflate":  # the adapters' encoding: a frame already recorded is not compressed again
        return EncodedFrame("rgb-deflate", w, h, deflate(rgb))
    if fmt in PILLOW_FORMATS:
        return EncodedFrame(fmt, w, h, _pillow_encode(rgb, fmt, quality))
    raise ValueError(f"unknown frame format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _require_pillow(fmt: str) -> Any:
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(f"frame format {fmt!r} needs Pillow (pip install pillow); 'rgb-deflate' does not") from e
    return Image


def _pillow_encode(rgb: np.ndarray, fmt: str, quality: int) -> bytes:
    pil_image = _require_pillow(fmt)
    buf = io.BytesIO()
    image = pil_image.fromarray(rgb)
    if fmt == "png":
        image.save(buf, "PNG", compress_level=1)
    elif fmt == "jpeg":
        image.save(buf, "JPEG", quality=quality)
    else:
        image.save(buf, "WEBP", quality=quality, method=0)
    return buf.getvalue()


@dataclass
class FrameStats:
    """Counters of one stream; ``dropped`` frames were replaced before they could be sent."""

    submitted: int = 0
    sent: int = 0
    dropped: int = 0
    acked: int = 0
    timeouts: int = 0
    bytes_sent: int = 0
    encode_s: float = 0.0
    rtt_s_last: float = 0.0
    #: (kernel -> browser, decode + paint, browser -> kernel) in ms, from the acks' timestamps
    legs_ms: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=512))

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = {k: v for k, v in self.__dict__.items() if k != "legs_ms"}
        if self.legs_ms:
            for i, name in enumerate(("to_browser_ms", "paint_ms", "ack_back_ms")):
                out[name] = round(statistics.median(leg[i] for leg in self.legs_ms), 2)
        return out


SendFn = Callable[[dict[str, Any], list[bytes]], None]


class FrameStream:
    """Sends frames to the browser with at most ``window`` of them unacknowledged.

    Thread-safe: ``submit`` may be called from any thread (a background trial loop), ``ack``
    and ``hello`` from whichever thread the kernel delivers widget messages on. ``submit`` never
    blocks on the browser: when the window is full the frame waits, replacing any frame already
    waiting, and goes out when an ack arrives. Frames unacknowledged for ``ack_timeout_s`` (a
    closed tab, a reloaded page) are written off so the stream cannot wedge.
    """

    def __init__(
        self,
        send: SendFn,
        *,
        fmt: FrameFormat = DEFAULT_FORMAT,
        window: int = 2,
        max_bytes: int = 1_000_000,
        ack_interval_s: float = 0.1,
        ack_timeout_s: float = 2.0,
        quality: int = 80,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown frame format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if fmt in PILLOW_FORMATS:
            _require_pillow(fmt)
        if window < 1:
            raise ValueError("window must be at least 1 frame")
        self._send = send
        self.format: FrameFormat = fmt
        self.window = window
        #: bytes unacknowledged at most (beyond one frame): big frames on a slow link get a small window
        self.max_bytes = max_bytes
        #: a frame asks to be acknowledged when the last one that asked is this old, or when it
        #: fills the window; the acks of the others are implied (acks are cumulative). Each ack is
        #: a shell message the kernel answers with two status messages, which JupyterLab reflects
        #: in its busy indicator and favicon (costly for the page: docs/decisions/play-widget.md).
        self.ack_interval_s = ack_interval_s
        self._ack_asked_at = -float("inf")
        self.ack_timeout_s = ack_timeout_s
        self.quality = quality
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = 0
        self._in_flight: dict[int, tuple[float, float, int]] = {}  # seq -> (monotonic, wall) send time, bytes
        self._pending: tuple[np.ndarray | EncodedFrame, dict[str, Any]] | None = None
        self._last: tuple[EncodedFrame, dict[str, Any]] | None = None
        self.stats = FrameStats()

    def set_format(self, fmt: FrameFormat) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown frame format {fmt!r}; choose one of {', '.join(FORMATS)}")
        with self._lock:
            self.format = fmt

    # ---- producer side
    def submit(self, frame: np.ndarray | EncodedFrame, **meta: Any) -> bool:
        """Offer a frame; True if it went out now, False if it waits for an ack (replacing older)."""
        if not isinstance(frame, EncodedFrame):
            frame = as_rgb(frame)
        with self._lock:
            self.stats.submitted += 1
            self._expire_locked()
            if self._full_locked():
                if self._pending is not None:
                    self.stats.dropped += 1
                # the caller may reuse its buffer before the frame goes out
                self._pending = (frame if isinstance(frame, EncodedFrame) else frame.copy(), meta)
                return False
            self._send_locked(frame, meta)
            return True

    # ---- browser side
    def ack(self, seq: int, recv_ms: float | None = None, ack_ms: float | None = None) -> None:
        """A view is done with (painted or skipped) every frame up to ``seq``: open the window.

        Acks are cumulative, so a view acks only the frames sent with ``ack`` not false (see
        ``ack_interval_s``). ``recv_ms``/``ack_ms`` (browser wall clock at arrival and after painting)
        split the round trip into its legs for :class:`FrameStats`; meaningful when browser and
        kernel share a clock.
        """
        with self._lock:
            done = [s for s in self._in_flight if s <= seq]
            if not done:
                return  # a second view acking the same frames, or frames already written off
            sent = self._in_flight[max(done)] if seq in self._in_flight else None
            for s in done:
                del self._in_flight[s]
            self.stats.acked += len(done)
            if sent is None:
                self._flush_locked()
                return
            self.stats.rtt_s_last = self._clock() - sent[0]
            if recv_ms is not None and ack_ms is not None:
                now_ms = time.time() * 1000
                self.stats.legs_ms.append((recv_ms - sent[1] * 1000, ack_ms - recv_ms, now_ms - ack_ms))
            self._flush_locked()

    def hello(self) -> None:
        """A new view appeared: forget what the old ones never acked and show it the latest frame."""
        with self._lock:
            self._in_flight.clear()
            self._ack_asked_at = -float("inf")  # the new view acks the first frame it gets
            if self._pending is not None:
                self._flush_locked()
            elif self._last is not None:
                self._send_locked(*self._last)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    @property
    def waiting(self) -> bool:
        """Whether a frame waits for the window to open."""
        with self._lock:
            return self._pending is not None

    @property
    def last_frame(self) -> EncodedFrame | None:
        with self._lock:
            return self._last[0] if self._last else None

    # ---- internals (lock held)
    def _full_locked(self) -> bool:
        if len(self._in_flight) >= self.window:
            return True
        return len(self._in_flight) > 1 and sum(size for _, _, size in self._in_flight.values()) >= self.max_bytes

    def _flush_locked(self) -> None:
        self._expire_locked()
        if self._pending is not None and not self._full_locked():
            frame, meta = self._pending
            self._pending = None
            self._send_locked(frame, meta)

    def _expire_locked(self) -> None:
        if not self._in_flight:
            return
        now = self._clock()
        for seq, (sent_at, _wall, _size) in list(self._in_flight.items()):
            if now - sent_at > self.ack_timeout_s:
                del self._in_flight[seq]
                self.stats.timeouts += 1

    def _send_locked(self, frame: np.ndarray | EncodedFrame, meta: dict[str, Any]) -> None:
        if meta.get("trace") is not None:
            meta["trace"] = stamp(meta["trace"], "enc0")
        if isinstance(frame, EncodedFrame):
            encoded = frame
        else:
            t0 = time.perf_counter()
            encoded = encode_frame(frame, self.format, quality=self.quality)
            self.stats.encode_s += time.perf_counter() - t0
        self._seq += 1
        seq = self._seq
        header: FrameMessage = {
            "type": "frame",
            "seq": seq,
            "format": encoded.format,
            "width": encoded.width,
            "height": encoded.height,
            **{k: v for k, v in meta.items() if v is not None},
        }
        now = self._clock()
        in_flight_bytes = sum(size for _, _, size in self._in_flight.values())
        fills = len(self._in_flight) + 1 >= self.window or in_flight_bytes + len(encoded.data) >= self.max_bytes
        if fills or now - self._ack_asked_at >= self.ack_interval_s:
            self._ack_asked_at = now
        else:
            header["ack"] = False  # covered by the cumulative ack of a later frame
        if "trace" in header:
            header["trace"] = stamp(header["trace"], "send", in_flight=len(self._in_flight))
        self._in_flight[seq] = (now, time.time(), len(encoded.data))
        self._last = (encoded, meta)
        self.stats.sent += 1
        self.stats.bytes_sent += len(encoded.data)
        self._send(header, [encoded.data])
