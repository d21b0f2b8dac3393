import { describe, expect, it } from "vitest";
import { changed, clamp01, pointerPosition } from "../src/analog";

describe("pointerPosition", () => {
  const rect = { left: 100, top: 50, width: 600, height: 400 };
  it("is 0..1 from the frame's top left", () => {
    expect(pointerPosition(100, 50, rect)).toEqual([0, 0]);
    expect(pointerPosition(400, 250, rect)).toEqual([0.5, 0.5]);
    expect(pointerPosition(700, 450, rect)).toEqual([1, 1]);
  });
  it("clamps a drag that leaves the frame to its edge", () => {
    expect(pointerPosition(-300, 900, rect)).toEqual([0, 1]);
  });
  it("never divides by a zero-sized frame", () => {
    expect(pointerPosition(5, 5, { left: 0, top: 0, width: 0, height: 0 }).every(Number.isFinite)).toBe(true);
  });
});

describe("changed", () => {
  it("sends a first reading and readings that moved", () => {
    expect(changed(null, [0], 0.004)).toBe(true);
    expect(changed([0, 0], [0, 0.01], 0.004)).toBe(true);
    expect(changed([0, 0], [0, 0.002], 0.004)).toBe(false);
    expect(changed([0], [0, 0], 0.004)).toBe(true);
  });
});

describe("clamp01", () => {
  it("keeps values in 0..1 and NaN out", () => {
    expect(clamp01(-1)).toBe(0);
    expect(clamp01(2)).toBe(1);
    expect(clamp01(Number.NaN)).toBe(0);
  });
});
