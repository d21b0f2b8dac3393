/**
 * PlayWidget front end (anywidget ES module): shows frames streamed from the kernel, captures
 * the keyboard while focused, and sends held keys (gamepad buttons among them), pointer, gamepad
 * and slider readings, acks and button presses back.
 * This module only wires the model to the view, the painter, the keyboard and the analog inputs.
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import { captureAnalog, type Analog } from "./analog";
import { captureKeyboard } from "./keyboard";
import { watchKernel, type KernelLike } from "./liveness";
import { FramePainter } from "./painter";
import {
  isFrameMessage,
  type FrameMessage,
  type InputsSpec,
  type KeyEventKind,
  type PlayModel,
  type ViewMessage,
} from "./protocol";
import { PaintStats } from "./stats";
import { exposeToBenchmark, Tracing } from "./tracing";
import { NEXT_ROUND_KEYS, PlayView } from "./view";
import "./play.css";

type Model = AnyModel<PlayModel>;
/** At most this often (ms) the status line and data-* attributes follow the painted frames. */
const DOM_EVERY_MS = 100;
const STATUS_TRAITS = [
  "tick",
  "episode_return",
  "state",
  "message",
  "paused",
  "fps",
  "key_hints",
  "title",
  "notice",
] as const;

function render({ model, el }: RenderProps<PlayModel>): () => void {
  const view = new PlayView();
  const viewId = Math.random().toString(36).slice(2, 10);
  const stats = new PaintStats();
  const tracing = new Tracing(performance.timeOrigin);
  // nothing is sent once the kernel is gone; a send that fails says it is
  let kernelGone: (reason: string) => void = () => {};
  const send = (msg: ViewMessage) => {
    if (view.isKernelGone) return;
    try {
      model.send(msg);
    } catch {
      kernelGone("the kernel is gone");
    }
  };
  const cleanups: (() => void)[] = [];
  // anywidget types handlers loosely (EventHandler = (...args: any[]) => void)
  const onModel = (event: string, fn: (...args: any[]) => void) => {
    model.on(event, fn);
    cleanups.push(() => model.off(event as "msg:custom", fn));
  };
  let frameSize = { width: 600, height: 400 };

  // ---- status from the synced traits
  const showStatus = () =>
    view.showStatus({
      tick: model.get("tick"),
      episode_return: model.get("episode_return"),
      state: model.get("state"),
      message: model.get("message"),
      paused: model.get("paused"),
      fps: model.get("fps"),
      key_hints: model.get("key_hints"),
      title: model.get("title"),
      notice: model.get("notice"),
    });
  for (const name of STATUS_TRAITS) onModel(`change:${name}`, showStatus);
  const applyZoom = () => view.setZoom(model.get("zoom"), frameSize.width, frameSize.height);
  onModel("change:zoom", applyZoom);

  // ---- frames: one decode at a time, the newest frame wins; then acknowledge (cumulatively)
  const painter = new FramePainter(view.canvas, (width, height) => {
    frameSize = { width, height };
    applyZoom();
  });
  // the status line and data-* attributes follow the frames at most every DOM_EVERY_MS (each
  // change costs the page a style and layout pass; the canvas itself is painted every frame)
  let domAt = -Infinity;
  let domTimer: ReturnType<typeof setTimeout> | undefined;
  let domUpdate: (() => void) | null = null;
  const flushDom = () => {
    domTimer = undefined;
    domAt = performance.now();
    const update = domUpdate;
    domUpdate = null;
    update?.();
  };
  const showPainted = (update: () => void) => {
    domUpdate = update;
    const since = performance.now() - domAt;
    if (since >= DOM_EVERY_MS) flushDom();
    else domTimer ??= setTimeout(flushDom, DOM_EVERY_MS - since);
  };
  cleanups.push(() => clearTimeout(domTimer));
  const origin = performance.timeOrigin;
  let waiting: { msg: FrameMessage; buffer: DataView | undefined; recvMs: number } | null = null;
  let busy = false;
  let ackOwed = false;
  const done = (msg: FrameMessage, recvMs: number) => {
    // the kernel asks for acks on some frames only; an ack covers every frame up to its seq
    if (msg.ack !== false) ackOwed = true;
    if (ackOwed) {
      ackOwed = false;
      send({ type: "ack", seq: msg.seq, view: viewId, recv_ms: recvMs, ack_ms: origin + performance.now() });
    }
  };
  const paintOne = async (msg: FrameMessage, buffer: DataView | undefined, recvMs: number) => {
    try {
      const r = await painter.paint(msg, buffer);
      if (r.painted) {
        const paintedAt = performance.now();
        const keySeq = msg.key_view === viewId ? msg.key_seq : undefined;
        const answered = stats.framePainted(paintedAt, r.decodeMs, r.bytes, keySeq);
        tracing.framePainted(msg, recvMs, r.decodedAt, paintedAt, answered);
        const { seq, tick, episode_return } = msg;
        showPainted(() => {
          if (tick !== undefined || episode_return !== undefined) {
            view.showProgress(tick ?? model.get("tick"), episode_return ?? model.get("episode_return"));
          }
          view.framePainted(seq, stats.painted);
        });
      } else {
        stats.dropped += 1;
      }
    } catch (err) {
      view.showError(`frame ${msg.seq} could not be shown: ${err}`);
    }
  };
  const onFrame = async (msg: unknown, buffers: DataView[]) => {
    if (!isFrameMessage(msg)) return;
    const recvMs = origin + performance.now();
    if (waiting !== null) {
      // a newer frame arrived before the one waiting could be decoded: skip the older one
      stats.dropped += 1;
      if (waiting.msg.ack !== false) ackOwed = true;
    }
    waiting = { msg, buffer: buffers[0], recvMs };
    if (busy) return;
    busy = true;
    try {
      while (waiting !== null) {
        const next: { msg: FrameMessage; buffer: DataView | undefined; recvMs: number } = waiting;
        waiting = null;
        await paintOne(next.msg, next.buffer, next.recvMs);
        done(next.msg, next.recvMs);
      }
    } finally {
      busy = false;
    }
  };
  onModel("msg:custom", (msg: unknown, buffers: DataView[]) => void onFrame(msg, buffers));
  const fpsTimer = setInterval(() => view.showFps(stats.fps(performance.now()), model.get("fps")), 250);
  cleanups.push(() => clearInterval(fpsTimer));

  // ---- keyboard (and gamepad buttons, which play as keys: one held set for both)
  let keySeq = 0;
  let keyboardHeld: string[] = [];
  let padHeld: string[] = [];
  const sendKeys = (event: KeyEventKind, key: string | null, timeStamp: number, handlerAt: number) => {
    const pressed = [...keyboardHeld, ...padHeld];
    keySeq += 1;
    send({ type: "keys", view: viewId, seq: keySeq, event, key, pressed, t_ms: performance.timeOrigin + timeStamp });
    if (event === "down") {
      stats.keyDown(keySeq, timeStamp);
      tracing.keySentAt(keySeq, handlerAt, performance.now());
    }
    view.keysSent(keySeq, pressed);
  };
  const keyboard = captureKeyboard(view.sink, view.stage, {
    keys(event, key, pressed, timeStamp) {
      const handlerAt = performance.now();
      keyboardHeld = pressed;
      sendKeys(event, key, timeStamp, handlerAt);
    },
    focus(focused) {
      view.setFocused(focused);
      if (model.get("focused") !== focused && !view.isKernelGone) {
        model.set("focused", focused);
        model.save_changes();
      }
    },
    command(key) {
      // the end screen: Enter or Space starts the next round
      if (model.get("state") !== "ended" || !NEXT_ROUND_KEYS.includes(key)) return false;
      send({ type: "control", action: "play_again" });
      return true;
    },
  });
  cleanups.push(keyboard.dispose);

  // ---- pointer, gamepad, sliders (what the inputs trait names)
  let analog: Analog | null = null;
  const captureInputs = () => {
    analog?.dispose();
    analog = captureAnalog(view, (model.get("inputs") ?? {}) as InputsSpec, () => view.root.dataset.focused === "true", {
      analog(source, values, buttons, timeStamp) {
        send({ type: "analog", view: viewId, source, values, buttons, t_ms: performance.timeOrigin + timeStamp });
        view.analogSent(source, values);
      },
      padKeys(pressed, timeStamp) {
        const down = pressed.find((k) => !padHeld.includes(k));
        const up = padHeld.find((k) => !pressed.includes(k));
        padHeld = pressed;
        sendKeys(down ? "down" : "up", down ?? up ?? null, timeStamp, performance.now());
      },
    });
  };
  captureInputs();
  onModel("change:inputs", captureInputs);
  cleanups.push(() => analog?.dispose());

  // ---- the kernel behind the widget
  kernelGone = (reason: string) => {
    if (view.isKernelGone) return;
    view.showKernelGone(reason);
    view.sink.blur(); // the keyboard stays captured when clicked (keys swallowed, nothing sent)
  };
  const manager = (model as unknown as { widget_manager?: { kernel?: KernelLike | null } }).widget_manager;
  cleanups.push(watchKernel(manager?.kernel, el, onModel, kernelGone));

  // ---- buttons
  for (const [button, action] of view.controls()) {
    const press = (e: Event) => {
      e.stopPropagation();
      send({ type: "control", action });
      if (action !== "pause") keyboard.focus();
    };
    const keepFocus = (e: Event) => e.preventDefault();
    button.addEventListener("mousedown", keepFocus);
    button.addEventListener("click", press);
    cleanups.push(() => {
      button.removeEventListener("mousedown", keepFocus);
      button.removeEventListener("click", press);
    });
  }

  exposeToBenchmark(view.root, stats, tracing, viewId);
  view.root.dataset.view = viewId;
  showStatus();
  applyZoom();
  el.append(view.root);
  // a new view (re-display, page reload) asks for the latest frame
  send({ type: "hello", view: viewId });

  return () => {
    for (const c of cleanups) c();
    view.root.remove();
  };
}

export default { render };
