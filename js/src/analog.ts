/**
 * Continuous inputs of a game view: the pointer over the frame, a gamepad, on-screen sliders.
 *
 * Only raw positions leave here (pointer 0..1 from the frame's top left, the gamepad's axes and
 * button values, slider values); the kernel maps them to actions (cogment_jupyter/notebook/analog.py).
 * Pointer and gamepad readings are sent at most once per animation frame, and only when they
 * change; gamepad buttons named in the spec play as keys ("Gamepad0"...).
 */
import type { AnalogSource, InputsSpec, SliderSpec } from "./protocol";

export interface AnalogEvents {
  analog(source: AnalogSource, values: number[], buttons: number[] | undefined, timeStamp: number): void;
  /** The gamepad buttons played as keys that are held now (a change). */
  padKeys(pressed: string[], timeStamp: number): void;
}

export interface AnalogTargets {
  /** Where the pointer is read (the frame and its overlays). */
  stage: HTMLElement;
  /** The frame: pointer positions are relative to it. */
  canvas: HTMLElement;
  /** Where sliders go. */
  sliders: HTMLElement;
}

export interface Analog {
  dispose(): void;
}

/** Gamepad readings closer than this to the last sent ones are not sent again. */
const GAMEPAD_EPSILON = 0.004;

export function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

/** The pointer's position over `rect`, 0..1 from its top left (outside: clamped to the edge). */
export function pointerPosition(clientX: number, clientY: number, rect: DOMRect | { left: number; top: number; width: number; height: number }): number[] {
  return [clamp01((clientX - rect.left) / Math.max(rect.width, 1)), clamp01((clientY - rect.top) / Math.max(rect.height, 1))];
}

/** Whether two readings differ by more than `eps` anywhere. */
export function changed(a: readonly number[] | null, b: readonly number[], eps: number): boolean {
  if (a === null || a.length !== b.length) return true;
  return a.some((v, i) => Math.abs(v - b[i]) > eps);
}

/** The first connected gamepad, if the page has one. */
function firstGamepad(): Gamepad | null {
  const pads = typeof navigator.getGamepads === "function" ? navigator.getGamepads() : [];
  for (const pad of pads ?? []) if (pad && pad.connected !== false) return pad;
  return null;
}

function sliderRow(spec: SliderSpec): { row: HTMLElement; input: HTMLInputElement } {
  const row = document.createElement("label");
  row.className = "cj-play-slider";
  const name = document.createElement("span");
  name.className = "cj-play-slider-label";
  name.textContent = spec.label;
  const input = document.createElement("input");
  input.type = "range";
  input.min = String(spec.min);
  input.max = String(spec.max);
  input.step = String(spec.step);
  input.value = String(spec.value);
  input.setAttribute("aria-label", spec.label);
  input.setAttribute("data-lm-suppress-shortcuts", "true");
  const shown = document.createElement("output");
  shown.className = "cj-play-slider-value";
  const show = () => (shown.textContent = Number(input.value).toFixed(2));
  show();
  input.addEventListener("input", show);
  // keys on a slider move it; they must not reach notebook shortcuts, and a click on it must not
  // let the notebook take the focus back (it would, handling the mousedown as a click on the cell)
  for (const type of ["keydown", "mousedown", "pointerdown"]) row.addEventListener(type, (e) => e.stopPropagation());
  row.append(name, input, shown);
  return { row, input };
}

/**
 * Read the inputs `spec` names. `active()` says whether the game has the person (the view is
 * focused): the gamepad is read only then, so two views never both play one gamepad.
 */
export function captureAnalog(targets: AnalogTargets, spec: InputsSpec, active: () => boolean, on: AnalogEvents): Analog {
  const disposers: (() => void)[] = [];
  const listen = (target: EventTarget, type: string, fn: (e: Event) => void) => {
    target.addEventListener(type, fn);
    disposers.push(() => target.removeEventListener(type, fn));
  };

  // ---- pointer: its position over the frame, also while dragging (the stage keeps the pointer)
  if (spec.pointer) {
    let latest: { values: number[]; t: number } | null = null;
    let frame = 0;
    // where the pointer steers, drawn over the frame (the game's own picture may not show it)
    const aim = document.createElement("div");
    aim.className = "cj-play-aim";
    aim.hidden = true;
    targets.stage.append(aim);
    disposers.push(() => aim.remove());
    const flush = () => {
      frame = 0;
      if (latest === null) return;
      const [x, y] = latest.values;
      aim.hidden = false;
      aim.style.left = `${spec.pointer?.includes("x") ? x * 100 : 50}%`;
      aim.style.top = `${spec.pointer?.includes("y") ? y * 100 : 50}%`;
      on.analog("pointer", latest.values, undefined, latest.t);
      latest = null;
    };
    const read = (e: Event) => {
      const p = e as PointerEvent;
      latest = { values: pointerPosition(p.clientX, p.clientY, targets.canvas.getBoundingClientRect()), t: p.timeStamp };
      frame ||= requestAnimationFrame(flush);
    };
    listen(targets.stage, "pointermove", read);
    listen(targets.stage, "pointerdown", (e) => {
      const p = e as PointerEvent;
      targets.stage.setPointerCapture?.(p.pointerId);
      targets.stage.classList.add("cj-mod-steered"); // the game has its person: no "click to play" over it
      read(e);
    });
    targets.stage.classList.add("cj-mod-pointer");
    disposers.push(() => cancelAnimationFrame(frame));
  }

  // ---- gamepad: polled every animation frame while the game has the person
  const pad = spec.gamepad;
  if (pad && (pad.axes.length || pad.triggers.length || pad.buttons.length)) {
    const analog = pad.axes.length > 0 || pad.triggers.length > 0;
    let sentAxes: number[] | null = null;
    let sentButtons: number[] | null = null;
    let held: string[] = [];
    let frame = 0;
    const release = (t: number) => {
      if (held.length) {
        held = [];
        on.padKeys([], t);
      }
    };
    const poll = (t: number) => {
      frame = requestAnimationFrame(poll);
      if (!active()) return release(t);
      const gamepad = firstGamepad();
      if (gamepad === null) return release(t);
      const axes = Array.from(gamepad.axes, Number);
      const buttons = Array.from(gamepad.buttons, (b) => Number(b.value ?? (b.pressed ? 1 : 0)));
      if (analog && (changed(sentAxes, axes, GAMEPAD_EPSILON) || changed(sentButtons, buttons, GAMEPAD_EPSILON))) {
        sentAxes = axes;
        sentButtons = buttons;
        on.analog("gamepad", axes, buttons, t);
      }
      const pressed = pad.buttons.filter((i) => gamepad.buttons[i]?.pressed).map((i) => `Gamepad${i}`);
      if (pressed.join() !== held.join()) {
        held = pressed;
        on.padKeys(pressed, t);
      }
    };
    frame = requestAnimationFrame(poll);
    disposers.push(() => cancelAnimationFrame(frame));
  }

  // ---- sliders: one per action element, sent whole on every move
  if (spec.sliders?.length) {
    const inputs: HTMLInputElement[] = [];
    const send = (e: Event) => {
      targets.stage.classList.add("cj-mod-steered");
      on.analog("sliders", inputs.map((i) => Number(i.value)), undefined, e.timeStamp);
    };
    const rows = spec.sliders.map((s) => {
      const { row, input } = sliderRow(s);
      inputs.push(input);
      listen(input, "input", send);
      return row;
    });
    targets.sliders.replaceChildren(...rows);
    targets.sliders.hidden = false;
    disposers.push(() => {
      targets.sliders.replaceChildren();
      targets.sliders.hidden = true;
    });
  }

  return {
    dispose: () => {
      for (const d of disposers) d();
      targets.stage.classList.remove("cj-mod-pointer", "cj-mod-steered");
    },
  };
}
