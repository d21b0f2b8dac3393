"""The benchmark's trace marks (``notebook.tracing``): absent unless switched on, complete when on."""

from __future__ import annotations

from cogment_jupyter.notebook.tracing import TRACING_OFF, Tracing
from tests.notebook.test_widget import RecordingPlayWidget, rgb


def test_frames_carry_no_trace_unless_a_benchmark_switches_it_on():
    w = RecordingPlayWidget()
    assert w.tracing is TRACING_OFF
    w.from_view(type="keys", view="v", seq=1, event="down", key="ArrowLeft", pressed=["ArrowLeft"], t_ms=1.0)
    w.show_frame(rgb(1))
    assert "trace" not in w.frames[-1]


def test_a_traced_frame_carries_its_marks_and_those_of_the_key_it_answers():
    w = RecordingPlayWidget()
    w.tracing = Tracing()
    w.from_view(type="keys", view="v", seq=1, event="down", key="ArrowLeft", pressed=["ArrowLeft"], t_ms=1.0)
    w.tracing.mark_key("loop")
    w.tracing.mark_frame(act=None)
    w.tracing.mark_frame(step=None, env_step=5.0)
    w.show_frame(rgb(1), key_seq=1)
    trace = w.frames[-1]["trace"]
    assert {"act", "step", "submit", "enc0", "send", "in_flight"} <= set(trace) and trace["env_step"] == 5.0
    assert trace["act"] <= trace["step"] <= trace["submit"] <= trace["enc0"] <= trace["send"]
    assert trace["key"]["seq"] == 1 and trace["key"]["recv"] <= trace["key"]["loop"]
    w.show_frame(rgb(2), key_seq=1)  # the next frame's own marks start afresh
    assert "act" not in w.frames[-1]["trace"] and w.frames[-1]["trace"]["key"]["seq"] == 1
