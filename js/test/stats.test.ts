import { describe, expect, it } from "vitest";
import { PaintStats, percentile } from "../src/stats";

describe("percentile", () => {
  it("uses the nearest-rank definition", () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([5], 95)).toBe(5);
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 95)).toBe(95);
  });
});

describe("PaintStats", () => {
  it("measures keydown to the first painted frame that reflects the key", () => {
    const s = new PaintStats();
    s.keyDown(1, 100);
    s.framePainted(110, 1, 1000, 0); // made before the key arrived
    s.framePainted(125, 1, 1000, 1); // reflects key 1
    s.framePainted(140, 1, 1000, 1); // same key: counted once
    expect(s.snapshot(140).latency_ms).toEqual([25]);
  });

  it("counts every key a frame covers (a frame may answer two quick presses)", () => {
    const s = new PaintStats();
    s.keyDown(3, 0);
    s.keyDown(5, 10);
    s.framePainted(30, 1, 10, 6);
    expect(s.snapshot(30).latency_ms).toEqual([30, 20]);
  });

  it("reports painted frames per second over the last window", () => {
    const s = new PaintStats(1000);
    for (let t = 0; t < 2000; t += 20) s.framePainted(t, 1, 10);
    expect(s.fps(1990)).toBe(50); // frames at 1000..1980
    expect(s.fps(5000)).toBe(0); // frames stopped
    expect(s.painted).toBe(100);
  });

  it("resetLatency starts a fresh measurement", () => {
    const s = new PaintStats();
    s.keyDown(1, 0);
    s.framePainted(5, 1, 10, 1);
    s.resetLatency();
    expect(s.snapshot(10).latency_ms).toEqual([]);
  });
});
