/**
 * Keyboard capture for a game view in a notebook.
 *
 * Keys go to an off-screen text input (jupyter_rfb's focus sink): hosts treat a focused input as
 * typing, and the handlers stop every event so no key reaches notebook shortcuts (JupyterLab,
 * Notebook 7, VS Code). Auto-repeat is ignored, and every held key is released when focus or
 * the tab is lost, so the game never sees a key stuck down.
 */
import { PressedKeys } from "./keys";
import type { KeyEventKind } from "./protocol";

export interface KeyboardEvents {
  /** The set of held keys changed; `timeStamp` is the DOM event's (performance.now clock). */
  keys(event: KeyEventKind, key: string | null, pressed: string[], timeStamp: number): void;
  focus(focused: boolean): void;
  /** A key the widget itself handles (not the game's): return true to keep it from the game. */
  command?(key: string): boolean;
}

export interface Keyboard {
  /** Give the keyboard to the game (the view calls it on click). */
  focus(): void;
  dispose(): void;
}

export function captureKeyboard(sink: HTMLInputElement, stage: HTMLElement, on: KeyboardEvents): Keyboard {
  const held = new PressedKeys();
  const disposers: (() => void)[] = [];
  const listen = (target: EventTarget, type: string, fn: (e: Event) => void) => {
    target.addEventListener(type, fn);
    disposers.push(() => target.removeEventListener(type, fn));
  };
  const swallow = (e: Event) => {
    e.stopPropagation();
    e.preventDefault();
  };
  const releaseAll = (e: Event) => {
    if (held.releaseAll()) on.keys("release", null, [], e.timeStamp);
  };
  const focus = () => {
    if (document.activeElement !== sink) sink.focus({ preventScroll: true });
  };

  listen(sink, "keydown", (e) => {
    const k = e as KeyboardEvent;
    swallow(k);
    if (k.key === "Escape") {
      sink.blur(); // the way back to the notebook
      return;
    }
    if (!k.repeat && on.command?.(k.key)) return;
    if (!k.isComposing && held.down(k.code, k.key, k.repeat)) on.keys("down", k.key, held.pressed, k.timeStamp);
  });
  listen(sink, "keyup", (e) => {
    const k = e as KeyboardEvent;
    swallow(k);
    if (held.up(k.code, k.key)) on.keys("up", k.key, held.pressed, k.timeStamp);
  });
  listen(sink, "keypress", swallow);
  listen(sink, "focus", () => on.focus(true));
  listen(sink, "blur", (e) => {
    releaseAll(e);
    on.focus(false);
  });
  listen(document, "visibilitychange", (e) => {
    if (document.visibilityState === "hidden") {
      releaseAll(e);
      sink.blur();
    }
  });
  listen(window, "blur", releaseAll);
  listen(stage, "mousedown", (e) => {
    e.preventDefault(); // keep the notebook from moving focus to the cell; the sink takes it
    focus();
  });
  listen(stage, "click", focus);

  return {
    focus,
    dispose: () => {
      for (const d of disposers) d();
    },
  };
}
