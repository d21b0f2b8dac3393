/**
 * The widget's DOM: canvas, overlays, buttons, status and key hints.
 *
 * Only builds elements and reflects state into them; event wiring lives in play.ts.
 * Every piece of state a test or a person needs is also written to `data-*` attributes.
 */
import { keyLabel } from "./keys";
import type { ControlAction } from "./protocol";

export interface StatusView {
  tick: number;
  episode_return: number;
  state: string;
  message: string;
  paused: boolean;
  fps: number;
  key_hints: Record<string, string>;
  title: string;
  notice: string;
}

/** Keys that start the next round from the end screen. */
export const NEXT_ROUND_KEYS = ["Enter", " "];

/** The painted rate shown beside its target: never above it (a key press may step a game early). */
export function fpsLabel(fps: number, target: number): string {
  return target > 0 ? `${Math.min(fps, target).toFixed(0)} / ${target} fps` : `${fps.toFixed(0)} fps`;
}

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls: string,
  text = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text) e.textContent = text;
  return e;
}

export function formatReturn(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? v.toFixed(1) : v.toFixed(Math.abs(v) >= 100 ? 1 : 2);
}

export function hintLabel(keys: string): string {
  if (keys === "+" || !keys.includes("+")) return keyLabel(keys);
  return keys.split("+").map(keyLabel).join("+");
}

export class PlayView {
  readonly root = h("div", "cj-play");
  readonly title = h("div", "cj-play-title");
  readonly stage = h("div", "cj-play-stage");
  readonly canvas = h("canvas", "cj-play-canvas");
  /** Off-screen text input that holds keyboard focus, so hosts treat keys as typing. */
  readonly sink = h("input", "cj-play-sink");
  readonly waiting = h("div", "cj-play-waiting", "waiting for the first frame…");
  readonly cover = h("div", "cj-play-cover");
  readonly badge = h("div", "cj-play-badge", "● playing · Esc releases the keyboard");
  readonly pausedNote = h("div", "cj-play-paused", "paused");
  readonly end = h("div", "cj-play-end");
  readonly endReturn = h("div", "cj-play-end-return");
  readonly playAgain = h("button", "cj-play-btn cj-play-again", "Play again");
  readonly playAgainKeys = h("div", "cj-play-end-keys", "or press Enter / Space");
  /** Shown for good once the kernel behind the widget is gone. */
  readonly gone = h("div", "cj-play-gone");
  readonly bar = h("div", "cj-play-bar");
  readonly buttons: Record<"pause" | "resume" | "restart", HTMLButtonElement> = {
    pause: h("button", "cj-play-btn cj-play-pause", "Pause"),
    resume: h("button", "cj-play-btn cj-play-resume", "Resume"),
    restart: h("button", "cj-play-btn cj-play-restart", "Restart"),
  };
  readonly status = h("span", "cj-play-status");
  readonly message = h("span", "cj-play-message");
  readonly fps = h("span", "cj-play-fps");
  readonly hints = h("div", "cj-play-hints");
  /** On-screen sliders of a game played with them (filled by analog.ts). */
  readonly sliders = h("div", "cj-play-sliders");
  readonly error = h("div", "cj-play-error");
  readonly notice = h("div", "cj-play-notice");
  private stateLabel = "idle";
  private kernelGone = false;

  constructor() {
    const r = this.root;
    // JupyterLab (Lumino) skips its shortcuts for events from inside this region
    r.setAttribute("data-lm-suppress-shortcuts", "true");
    r.dataset.focused = "false";
    r.dataset.state = "idle";
    r.dataset.framesPainted = "0";

    const s = this.sink;
    s.type = "text";
    s.readOnly = true;
    s.tabIndex = -1;
    s.autocomplete = "off";
    s.spellcheck = false;
    s.setAttribute("autocapitalize", "off");
    s.setAttribute("aria-label", "game keyboard: arrow keys and letters are sent to the environment");
    s.setAttribute("data-lm-suppress-shortcuts", "true");

    this.canvas.width = 600;
    this.canvas.height = 400;
    this.canvas.setAttribute("aria-label", "environment frame");

    const coverText = h("div", "cj-play-cover-text", "▶ Click to play");
    this.cover.append(coverText);
    this.end.append(h("div", "cj-play-end-title", "Episode over"), this.endReturn, this.playAgain, this.playAgainKeys);
    this.gone.hidden = true;
    this.stage.append(
      this.canvas,
      this.waiting,
      this.cover,
      this.pausedNote,
      this.end,
      this.gone,
      this.badge,
      this.sink,
    );

    for (const b of [...Object.values(this.buttons), this.playAgain]) {
      b.type = "button";
      b.tabIndex = -1; // a click must not move keyboard focus away from the game
    }
    this.bar.append(
      this.buttons.pause,
      this.buttons.resume,
      this.buttons.restart,
      this.status,
      this.message,
      this.fps,
    );
    this.sliders.hidden = true;
    r.append(this.title, this.stage, this.sliders, this.bar, this.hints, this.notice, this.error);
    this.showError("");
    r.dataset.kernel = "alive";
  }

  /** Which control each button sends. */
  controls(): [HTMLButtonElement, ControlAction][] {
    return [
      [this.buttons.pause, "pause"],
      [this.buttons.resume, "resume"],
      [this.buttons.restart, "restart"],
      [this.playAgain, "play_again"],
    ];
  }

  setFocused(focused: boolean): void {
    this.root.dataset.focused = String(focused);
    this.root.classList.toggle("cj-mod-focused", focused);
  }

  setZoom(zoom: number, width: number, height: number): void {
    const z = zoom > 0 ? zoom : Math.max(1, Math.floor(480 / Math.max(width, 1)));
    this.canvas.style.width = `${width * z}px`;
    this.canvas.style.aspectRatio = `${width} / ${height}`;
    this.root.classList.toggle("cj-mod-pixelated", z >= 2);
  }

  showStatus(s: StatusView): void {
    if (this.kernelGone) return; // a late trait change of a widget whose kernel is gone changes nothing
    const ended = s.state === "ended";
    const paused = s.paused || s.state === "paused";
    this.root.dataset.state = s.state;
    this.root.dataset.paused = String(paused);
    this.stateLabel = paused && !ended ? "paused" : s.state;
    this.title.textContent = s.title;
    this.title.hidden = !s.title;
    this.message.textContent = s.message;
    this.message.hidden = !s.message;
    this.notice.textContent = s.notice ?? "";
    this.notice.hidden = !s.notice;
    // a replay only shows frames: no keyboard to take, nothing to pause or restart here
    const passive = s.state === "replay";
    this.root.classList.toggle("cj-mod-passive", passive);
    this.buttons.pause.hidden = ended || paused || passive;
    this.buttons.resume.hidden = ended || !paused || passive;
    this.buttons.restart.hidden = ended || passive;
    this.pausedNote.hidden = ended || !paused;
    this.end.hidden = !ended;
    this.showProgress(s.tick, s.episode_return);
    this.showHints(s.key_hints);
  }

  /** Tick and return, from the synced traits or from the header of the frame just painted. */
  showProgress(tick: number, episodeReturn: number): void {
    this.root.dataset.tick = String(tick);
    this.root.dataset.return = String(episodeReturn);
    this.status.textContent = `tick ${tick} · return ${formatReturn(episodeReturn)} · ${this.stateLabel}`;
    this.endReturn.textContent = `return ${formatReturn(episodeReturn)} in ${tick} ticks`;
  }

  /** A frame was painted: record it where tests and people can see it. */
  framePainted(seq: number, painted: number): void {
    if (!this.waiting.hidden) this.waiting.hidden = true;
    this.root.dataset.framesPainted = String(painted);
    this.root.dataset.lastSeq = String(seq);
    if (!this.error.hidden) this.showError("");
  }

  keysSent(seq: number, pressed: string[]): void {
    this.root.dataset.keySeq = String(seq);
    this.root.dataset.pressed = pressed.join(" ");
  }

  /** A continuous input's reading went to the kernel (tests wait on it). */
  analogSent(source: string, values: number[]): void {
    this.root.dataset.analogSent = String(Number(this.root.dataset.analogSent ?? 0) + 1);
    this.root.dataset[`analog${source[0].toUpperCase()}${source.slice(1)}`] = values.map((v) => v.toFixed(3)).join(" ");
  }

  /** Painted frames per second beside the target, while frames are expected. */
  showFps(fps: number, target: number): void {
    this.root.dataset.fps = String(fps);
    const live = this.stateLabel === "running" && !this.kernelGone;
    this.fps.hidden = !live;
    this.fps.textContent = fpsLabel(fps, target);
  }

  /** The kernel lost this widget: say so, and leave nothing to press. */
  showKernelGone(reason: string): void {
    this.kernelGone = true;
    this.root.dataset.kernel = "gone";
    this.root.classList.add("cj-mod-gone");
    this.gone.replaceChildren(
      h("div", "cj-play-gone-title", `This game stopped: ${reason}.`),
      h("div", "", "Run the cell again to play."),
    );
    this.gone.hidden = false;
    this.end.hidden = true;
    this.fps.hidden = true;
    for (const [button] of this.controls()) button.disabled = true;
    this.stateLabel = "stopped";
    this.showProgress(Number(this.root.dataset.tick ?? 0), Number(this.root.dataset.return ?? 0));
    this.message.textContent = `${reason}: run the cell again to play`;
    this.message.hidden = false;
  }

  get isKernelGone(): boolean {
    return this.kernelGone;
  }

  showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  private showHints(hints: Record<string, string>): void {
    const entries = Object.entries(hints ?? {});
    const sig = JSON.stringify(entries);
    if (this.hints.dataset.sig === sig) return;
    this.hints.dataset.sig = sig;
    this.hints.replaceChildren(
      ...entries.map(([keys, what]) => {
        const chip = h("span", "cj-play-hint");
        chip.append(h("kbd", "", hintLabel(keys)), document.createTextNode(` ${what}`));
        return chip;
      }),
    );
    this.hints.hidden = entries.length === 0;
  }
}
