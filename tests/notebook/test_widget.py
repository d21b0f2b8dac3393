"""PlayWidget's Python side: messages from views, callbacks, threads, frames and status."""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any

import numpy as np
import pytest

from cogment_jupyter.notebook import widget as widget_module
from cogment_jupyter.notebook.widget import PlayWidget


class RecordingPlayWidget(PlayWidget):
    """PlayWidget that also keeps what it sends to views (no kernel in unit tests)."""

    def __init__(self, **kw: Any) -> None:
        self.outbox: list[tuple[dict[str, Any], list[bytes]]] = []
        super().__init__(**kw)

    def send(self, content: Any, buffers: Any = None) -> None:
        self.outbox.append((content, list(buffers or [])))
        super().send(content, buffers)

    def from_view(self, **content: Any) -> None:
        """Deliver a message as the comm does."""
        self._handle_message(self, content, [])

    @property
    def frames(self) -> list[dict[str, Any]]:
        return [c for c, _ in self.outbox if c.get("type") == "frame"]


def rgb(v: int = 0) -> np.ndarray:
    return np.full((40, 60, 3), v, np.uint8)


def test_bundle_is_shipped_and_no_trait_shadows_widget_api() -> None:
    w = PlayWidget()
    assert "render" in w._esm and ".cj-play" in w._css  # the bundle's contents, loaded from static/
    assert widget_module.STATIC.joinpath("play.js").is_file()
    assert widget_module.STATIC.joinpath("play.css").is_file()
    assert isinstance(w.keys, list) and "tick" in w.keys  # `keys` is ipywidgets' list of synced names
    for name in ("tick", "episode_return", "state", "message", "paused", "fps", "key_hints", "focused", "zoom"):
        assert w.trait_metadata(name, "sync"), name


def test_keys_messages_update_the_held_set_and_reach_callbacks_in_order() -> None:
    w = RecordingPlayWidget()
    seen: list[tuple[frozenset[str], float]] = []
    w.on_keys(lambda pressed, t_ms: seen.append((pressed, t_ms)))
    w.from_view(type="keys", view="v", seq=1, event="down", key="ArrowLeft", pressed=["ArrowLeft"], t_ms=10.0)
    w.from_view(type="keys", view="v", seq=2, event="down", key="a", pressed=["ArrowLeft", "a"], t_ms=11.5)
    assert w.pressed == {"ArrowLeft", "a"} and w.pressed_in_order == ("ArrowLeft", "a") and w.key_seq == 2
    w.from_view(type="keys", view="v", seq=3, event="release", key=None, pressed=[], t_ms=12.0)
    assert seen == [(frozenset({"ArrowLeft"}), 10.0), (frozenset({"ArrowLeft", "a"}), 11.5), (frozenset(), 12.0)]
    assert w.pressed == frozenset()


def test_keys_held_in_a_vanished_view_are_released_when_a_new_view_appears() -> None:
    w = RecordingPlayWidget()
    seen: list[frozenset[str]] = []
    w.on_keys(lambda pressed, t_ms: seen.append(pressed))
    w.from_view(type="keys", view="old", seq=1, event="down", key="ArrowLeft", pressed=["ArrowLeft"], t_ms=1)
    w.from_view(type="hello", view="new")  # the page was reloaded while ArrowLeft was down
    assert w.pressed == frozenset() and seen == [frozenset({"ArrowLeft"}), frozenset()]
    w.from_view(type="hello", view="newer")  # nothing held: no spurious event
    assert len(seen) == 2


def test_a_failing_callback_neither_stops_others_nor_the_widget(caplog: pytest.LogCaptureFixture) -> None:
    w = RecordingPlayWidget()
    calls: list[str] = []

    def broken(action: str) -> None:
        raise RuntimeError("boom")

    w.on_control(broken)
    w.on_control(calls.append)
    w.from_view(type="control", action="restart")
    assert calls == ["restart"]
    assert "callback" in caplog.text and "boom" in caplog.text
    w.on_control(calls.append, remove=True)
    w.from_view(type="control", action="restart")
    assert calls == ["restart"]


def test_pause_and_resume_buttons_set_paused_and_notify() -> None:
    w = RecordingPlayWidget()
    actions: list[str] = []
    w.on_control(actions.append)
    w.from_view(type="control", action="pause")
    assert w.paused
    w.from_view(type="control", action="resume")
    assert not w.paused
    w.from_view(type="control", action="pause")
    w.from_view(type="control", action="play_again")
    assert not w.paused
    w.from_view(type="control", action="explode")  # unknown: ignored
    assert actions == ["pause", "resume", "pause", "play_again"]


def test_json_actions_from_a_custom_front_end() -> None:
    w = RecordingPlayWidget()
    got: list[Any] = []
    w.on_action(lambda value, t_ms: got.append((value, t_ms)))
    w.from_view(type="action", value={"steer": -0.3}, t_ms=5)
    assert got == [({"steer": -0.3}, 5.0)]


def test_malformed_messages_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    w = RecordingPlayWidget()
    w.from_view(type="ack")  # no seq
    w._handle_message(w, "not a dict", [])
    w.from_view(type="who-knows")
    assert "malformed" in caplog.text


def test_frames_go_out_as_binary_with_back_pressure_and_latency_stamp() -> None:
    w = RecordingPlayWidget(max_in_flight=2)
    w.from_view(type="keys", view="v9", seq=4, event="down", key="a", pressed=["a"], t_ms=1)
    for v in range(4):
        w.show_frame(rgb(v))
    assert [f["seq"] for f in w.frames] == [1, 2]  # two in flight, the rest wait
    header, buffers = w.outbox[-1]
    assert header["format"] == "rgb-deflate" and (header["width"], header["height"]) == (60, 40)
    assert header["key_seq"] == 4 and header["key_view"] == "v9"
    assert isinstance(buffers[0], bytes) and zlib.decompress(buffers[0]) == rgb(1).tobytes()
    w.from_view(type="ack", seq=1, view="v9", recv_ms=time.time() * 1000, ack_ms=time.time() * 1000)
    assert zlib.decompress(w.outbox[-1][1][0]) == rgb(3).tobytes()  # newest, 2 was dropped
    stats = w.frame_stats()
    assert stats["dropped"] == 1 and stats["in_flight"] == 2


def test_a_new_view_gets_the_latest_frame() -> None:
    w = RecordingPlayWidget(frame_format="rgb")
    w.show_frame(rgb(8), tick=12, episode_return=3.5)
    w.from_view(type="ack", seq=1, view="a")
    w.from_view(type="hello", view="b")
    header, buffers = w.outbox[-1]
    assert header["seq"] == 2 and header["tick"] == 12 and buffers[0] == rgb(8).tobytes()
    assert w.last_frame is not None and w.last_frame.format == "rgb"


def test_status_travels_with_frames_and_reaches_traits_throttled() -> None:
    w = RecordingPlayWidget()
    w.show_frame(rgb(), tick=1, episode_return=1.0)
    assert (w.tick, w.episode_return) == (1, 1.0)  # first one syncs at once
    w.show_frame(rgb(), tick=2, episode_return=2.0)
    assert w.tick == 1  # throttled: the frame header carries it
    w.set_status(tick=5, episode_return=4.0, state="ended", message="pole fell")
    assert (w.tick, w.episode_return, w.state, w.message) == (5, 4.0, "ended", "pole fell")


def test_frame_format_can_change_and_is_checked() -> None:
    w = RecordingPlayWidget()
    w.frame_format = "png"
    w.show_frame(rgb())
    assert w.frames[-1]["format"] == "png"
    with pytest.raises(ValueError, match="unknown frame format"):
        w.frame_format = "bmp"  # type: ignore[assignment]


def test_show_frame_from_a_thread_while_acks_arrive_on_another() -> None:
    w = RecordingPlayWidget(frame_format="rgb")
    done = threading.Event()

    def pump() -> None:
        for i in range(300):
            w.show_frame(rgb(i % 256), tick=i)
        done.set()

    t = threading.Thread(target=pump)
    t.start()
    acked = 0
    while not done.is_set() or acked < len(w.frames):
        if acked < len(w.frames):
            acked += 1
            w.from_view(type="ack", seq=acked, view="v")
    t.join()
    seqs = [f["seq"] for f in w.frames]
    assert seqs == list(range(1, len(seqs) + 1))
    assert w.frame_stats()["in_flight"] == 0


def test_a_producer_outliving_the_widget_does_not_crash() -> None:
    w = PlayWidget()
    w.close()  # the user closed the output while a trial still streams
    w.show_frame(rgb(1), tick=1, episode_return=0.0)
    w.set_status(state="ended")
    # nothing reaches a front end any more, and the kernel side still follows the trial
    assert w.comm is None and (w.tick, w.state) == (1, "ended")


def test_analog_messages_reach_callbacks_and_observations_ride_with_frames() -> None:
    w = RecordingPlayWidget()
    seen: list[tuple[str, list[float], list[float], float | None]] = []
    w.on_analog(lambda source, values, buttons, t_ms: seen.append((source, values, buttons, t_ms)))
    w.from_view(type="analog", view="v", source="pointer", values=[0.25, 0.5], t_ms=3.0)
    w.from_view(type="analog", view="v", source="gamepad", values=[-1, 0], buttons=[0, 1], t_ms=4.0)
    w.from_view(type="analog", view="v", values=[1.0])  # no source: logged as malformed, not delivered
    assert seen == [("pointer", [0.25, 0.5], [], 3.0), ("gamepad", [-1.0, 0.0], [0.0, 1.0], 4.0)]

    w.show_frame(rgb(), observation=np.array([0.5, np.inf], np.float32))
    assert "observation" not in w.frames[-1]  # only front ends that ask get observations
    w.send_observations = True
    w.show_frame(rgb(1), observation={"pos": np.array([0.5, -1.0], np.float32), "lives": np.int64(3)})
    assert w.frames[-1]["observation"] == {"pos": [0.5, -1.0], "lives": 3}
    for trait in ("inputs", "action_space", "send_observations"):
        assert w.trait_metadata(trait, "sync"), trait
