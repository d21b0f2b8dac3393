import { describe, expect, it } from "vitest";
import type { FrameMessage } from "../src/protocol";
import { PaintStats } from "../src/stats";
import { Tracing } from "../src/tracing";

const frame = (seq: number, trace?: Record<string, unknown>): FrameMessage => ({
  type: "frame",
  seq,
  format: "rgb",
  width: 1,
  height: 1,
  key_seq: 1,
  trace,
});

describe("Tracing", () => {
  it("keeps nothing of frames the kernel does not trace", () => {
    const t = new Tracing(1000);
    t.keySentAt(1, 5, 6);
    t.framePainted(frame(1), 1010, 8, 9, [[1, 4]]);
    const traces = t.traces(new PaintStats().snapshot(10));
    expect(traces.frames).toEqual([]);
    expect(traces.keys).toEqual([]);
  });

  it("adds the page's marks to a traced frame and to the key presses it answers", () => {
    const stats = new PaintStats();
    const t = new Tracing(1000);
    stats.keyDown(1, 4);
    t.keySentAt(1, 5, 6);
    const answered = stats.framePainted(9, 1, 10, 1);
    t.framePainted(frame(1, { act: 1001 }), 1007, 8, 9, answered);
    const traces = t.traces(stats.snapshot(10));
    expect(traces.frames).toEqual([{ act: 1001, seq: 1, recv: 1007, dec: 1008, paint: 1009 }]);
    expect(traces.keys).toEqual([{ seq: 1, down: 1004, handler: 1005, sent: 1006, frame: traces.frames[0] }]);
    expect(traces.latency_ms).toEqual([5]);
    t.reset();
    expect(t.traces(stats.snapshot(10)).frames).toEqual([]);
  });
});
