/**
 * Which keys are held. Games need the *set* of held keys (combos such as up+left), not a stream
 * of key presses, and they must never see a key stuck down after the widget loses focus.
 */

/** Old or alternative `KeyboardEvent.key` spellings mapped to the standard ones. */
const ALIASES: Record<string, string> = {
  Spacebar: " ",
  Esc: "Escape",
  Left: "ArrowLeft",
  Right: "ArrowRight",
  Up: "ArrowUp",
  Down: "ArrowDown",
  Del: "Delete",
  OS: "Meta",
};

/**
 * The name a key is reported under: the `KeyboardEvent.key` value, with single letters in lower
 * case so that Shift or Caps Lock do not turn "a" into a different key than the map expects.
 */
export function normalizeKey(key: string): string {
  if (key in ALIASES) return ALIASES[key];
  if (key.length === 1) return key.toLowerCase();
  return key;
}

/**
 * The held keys, in the order they were pressed.
 *
 * Keys are tracked by physical `code` so a key released with a different modifier state
 * ("a" down, Shift down, "A" up) is still released.
 */
export class PressedKeys {
  private readonly held = new Map<string, string>();

  /** Record a keydown; returns true when the set of pressed names changed. */
  down(code: string, key: string, repeat = false): boolean {
    if (repeat) return false;
    const id = code || key;
    if (this.held.has(id)) return false;
    const before = this.signature();
    this.held.set(id, normalizeKey(key));
    return this.signature() !== before;
  }

  /** Record a keyup; returns true when the set of pressed names changed. */
  up(code: string, key: string): boolean {
    const before = this.signature();
    const id = code || key;
    if (!this.held.delete(id)) {
      // a key pressed before we had focus, or a code we did not see: release by name
      const name = normalizeKey(key);
      for (const [k, v] of this.held) if (v === name) this.held.delete(k);
    }
    return this.signature() !== before;
  }

  /** Forget every held key (focus lost, tab hidden); returns true if any was held. */
  releaseAll(): boolean {
    const had = this.held.size > 0;
    this.held.clear();
    return had;
  }

  /** Distinct pressed key names in press order. */
  get pressed(): string[] {
    return [...new Set(this.held.values())];
  }

  get size(): number {
    return this.held.size;
  }

  private signature(): string {
    return this.pressed.join("\u0000");
  }
}

/** Human-readable label of a key name for the hint line. */
export function keyLabel(key: string): string {
  const arrows: Record<string, string> = {
    ArrowLeft: "←",
    ArrowRight: "→",
    ArrowUp: "↑",
    ArrowDown: "↓",
    " ": "Space",
  };
  return arrows[key] ?? (key.length === 1 ? key.toUpperCase() : key);
}
