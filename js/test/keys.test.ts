import { describe, expect, it } from "vitest";
import { keyLabel, normalizeKey, PressedKeys } from "../src/keys";

describe("normalizeKey", () => {
  it("lower-cases single letters so Shift and Caps Lock do not change the key", () => {
    expect(normalizeKey("A")).toBe("a");
    expect(normalizeKey("a")).toBe("a");
  });
  it("keeps standard names and maps legacy spellings", () => {
    expect(normalizeKey("ArrowLeft")).toBe("ArrowLeft");
    expect(normalizeKey("Left")).toBe("ArrowLeft");
    expect(normalizeKey("Spacebar")).toBe(" ");
    expect(normalizeKey("Esc")).toBe("Escape");
    expect(normalizeKey(" ")).toBe(" ");
  });
});

describe("PressedKeys", () => {
  it("tracks the set of held keys in press order", () => {
    const k = new PressedKeys();
    expect(k.down("ArrowUp", "ArrowUp")).toBe(true);
    expect(k.down("ArrowLeft", "ArrowLeft")).toBe(true);
    expect(k.pressed).toEqual(["ArrowUp", "ArrowLeft"]);
    expect(k.up("ArrowUp", "ArrowUp")).toBe(true);
    expect(k.pressed).toEqual(["ArrowLeft"]);
  });

  it("ignores auto-repeat and repeated downs of a held key", () => {
    const k = new PressedKeys();
    expect(k.down("KeyA", "a")).toBe(true);
    expect(k.down("KeyA", "a", true)).toBe(false);
    expect(k.down("KeyA", "a")).toBe(false);
    expect(k.pressed).toEqual(["a"]);
  });

  it("releases by physical key even when the modifier state changed in between", () => {
    const k = new PressedKeys();
    k.down("KeyA", "a");
    k.down("ShiftLeft", "Shift");
    expect(k.up("KeyA", "A")).toBe(true);
    expect(k.pressed).toEqual(["Shift"]);
  });

  it("reports one name for both Shift keys and keeps it until both are up", () => {
    const k = new PressedKeys();
    k.down("ShiftLeft", "Shift");
    expect(k.down("ShiftRight", "Shift")).toBe(false); // the set of names did not change
    expect(k.up("ShiftLeft", "Shift")).toBe(false);
    expect(k.pressed).toEqual(["Shift"]);
    expect(k.up("ShiftRight", "Shift")).toBe(true);
    expect(k.pressed).toEqual([]);
  });

  it("releases a key it never saw go down by name (pressed before focus)", () => {
    const k = new PressedKeys();
    k.down("", "x");
    expect(k.up("KeyX", "x")).toBe(true);
    expect(k.size).toBe(0);
    expect(k.up("KeyY", "y")).toBe(false);
  });

  it("releaseAll empties the set and says whether anything was held", () => {
    const k = new PressedKeys();
    expect(k.releaseAll()).toBe(false);
    k.down("KeyW", "w");
    k.down("KeyD", "d");
    expect(k.releaseAll()).toBe(true);
    expect(k.pressed).toEqual([]);
  });
});

describe("keyLabel", () => {
  it("shows arrows and Space readably", () => {
    expect(keyLabel("ArrowLeft")).toBe("←");
    expect(keyLabel(" ")).toBe("Space");
    expect(keyLabel("w")).toBe("W");
    expect(keyLabel("Enter")).toBe("Enter");
  });
});
