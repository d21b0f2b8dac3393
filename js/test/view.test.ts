import { describe, expect, it } from "vitest";
import { formatReturn, fpsLabel } from "../src/view";

describe("fpsLabel", () => {
  it("never shows more frames per second than the target", () => {
    expect(fpsLabel(23.4, 20)).toBe("20 / 20 fps");
    expect(fpsLabel(17.6, 20)).toBe("18 / 20 fps");
    expect(fpsLabel(31.2, 0)).toBe("31 fps");
  });
});

describe("formatReturn", () => {
  it("shows every return in one format: one decimal for whole numbers, two otherwise", () => {
    expect(formatReturn(8)).toBe("8.0");
    expect(formatReturn(-3)).toBe("-3.0");
    expect(formatReturn(4.256)).toBe("4.26");
    expect(formatReturn(-0.5)).toBe("-0.50");
    expect(formatReturn(123.456)).toBe("123.5");
    expect(formatReturn(Number.NaN)).toBe("NaN");
  });
});
