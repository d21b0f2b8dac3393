/**
 * PlayWidget front end (anywidget ES module): shows frames streamed from the kernel, captures
 * the keyboard while focused, and sends held keys, acks and button presses back.
 * This module only wires the model to the view, the painter and the keyboard.
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import { captureKeyboard } from "./keyboard";
import { FramePainter } from "./painter";
import { isFrameMessage, type PlayModel, type ViewMessage } from "./protocol";
import { PaintStats, type FrameTrace } from "./stats";
import { PlayView } from "./view";
import "./play.css";

type Model = AnyModel<PlayModel>;
const STATUS_TRAITS = ["tick", "episode_return", "state", "message", "paused", "fps", "key_hints", "title"] as const;

function render({ model, el }: RenderProps<PlayModel>): () => void {
  const view = new PlayView();
  const viewId = Math.random().toString(36).slice(2, 10);
  const stats = new PaintStats();
  stats.origin = performance.timeOrigin;
  const send = (msg: ViewMessage) => model.send(msg);
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
    });
  for (const name of STATUS_TRAITS) onModel(`change:${name}`, showStatus);
  const applyZoom = () => view.setZoom(model.get("zoom"), frameSize.width, frameSize.height);
  onModel("change:zoom", applyZoom);

  // ---- frames: paint, then acknowledge (the kernel keeps at most two unacknowledged)
  const painter = new FramePainter(view.canvas, (width, height) => {
    frameSize = { width, height };
    applyZoom();
  });
  const onFrame = async (msg: unknown, buffers: DataView[]) => {
    if (!isFrameMessage(msg)) return;
    const origin = performance.timeOrigin;
    const recvMs = origin + performance.now();
    try {
      const r = await painter.paint(msg, buffers[0]);
      if (r.painted) {
        const paintedAt = performance.now();
        let trace: FrameTrace | undefined;
        if (msg.trace) {
          const t: FrameTrace = { ...msg.trace, seq: msg.seq, recv: recvMs, dec: origin + r.decodedAt };
          t.paint = origin + paintedAt;
          requestAnimationFrame(() => (t.present = performance.timeOrigin + performance.now()));
          trace = t;
        }
        const keySeq = msg.key_view === viewId ? msg.key_seq : undefined;
        stats.framePainted(paintedAt, r.decodeMs, r.bytes, keySeq, trace);
        if (msg.tick !== undefined || msg.episode_return !== undefined) {
          view.showProgress(msg.tick ?? model.get("tick"), msg.episode_return ?? model.get("episode_return"));
        }
        view.framePainted(msg.seq, stats.painted);
      } else {
        stats.dropped += 1;
      }
    } catch (err) {
      view.showError(`frame ${msg.seq} could not be shown: ${err}`);
    } finally {
      send({ type: "ack", seq: msg.seq, view: viewId, recv_ms: recvMs, ack_ms: performance.timeOrigin + performance.now() });
    }
  };
  onModel("msg:custom", (msg: unknown, buffers: DataView[]) => void onFrame(msg, buffers));
  const fpsTimer = setInterval(() => view.showFps(stats.fps(performance.now()), model.get("fps")), 250);
  cleanups.push(() => clearInterval(fpsTimer));

  // ---- keyboard
  let keySeq = 0;
  const keyboard = captureKeyboard(view.sink, view.stage, {
    keys(event, key, pressed, timeStamp) {
      keySeq += 1;
      send({ type: "keys", view: viewId, seq: keySeq, event, key, pressed, t_ms: performance.timeOrigin + timeStamp });
      if (event === "down") stats.keyDown(keySeq, timeStamp, performance.now());
      view.keysSent(keySeq, pressed);
    },
    focus(focused) {
      view.setFocused(focused);
      if (model.get("focused") !== focused) {
        model.set("focused", focused);
        model.save_changes();
      }
    },
  });
  cleanups.push(keyboard.dispose);

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

  // diagnostics for tests and the benchmark
  (view.root as HTMLElement & { cjPlay?: unknown }).cjPlay = {
    stats: () => stats.snapshot(performance.now()),
    traces: () => stats.traces(performance.now()),
    resetLatency: () => stats.resetLatency(),
    viewId,
  };
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
