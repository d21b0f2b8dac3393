/**
 * PlayWidget front end (anywidget ES module): shows frames streamed from the kernel, captures
 * the keyboard while focused, and sends held keys, acks and button presses back.
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import { BufferPool, bytesOf, decodeFrame, FrameOrder, inflateNative, type DecodeEnv } from "./frames";
import { PressedKeys } from "./keys";
import { isFrameMessage, type KeyEventKind, type PlayModel, type ViewMessage } from "./protocol";
import { PaintStats } from "./stats";
import { PlayView } from "./view";
import "./play.css";

type Model = AnyModel<PlayModel>;

function browserEnv(): DecodeEnv {
  const images = new BufferPool((w, h) => new ImageData(w, h));
  return {
    createImageData: (w, h) => images.take(w, h),
    createImageBitmap: (blob) => createImageBitmap(blob),
    inflate: inflateNative,
  };
}

function send(model: Model, msg: ViewMessage): void {
  model.send(msg);
}

function render({ model, el }: RenderProps<PlayModel>): () => void {
  const view = new PlayView();
  const viewId = Math.random().toString(36).slice(2, 10);
  const keys = new PressedKeys();
  const order = new FrameOrder();
  const stats = new PaintStats();
  const decodeEnv = browserEnv();
  const ctx = view.canvas.getContext("2d", { alpha: false });
  let keySeq = 0;
  let frameSize = { width: 600, height: 400 };
  const cleanups: (() => void)[] = [];

  const listen = <T extends EventTarget>(target: T, type: string, fn: (e: Event) => void, opts?: AddEventListenerOptions) => {
    target.addEventListener(type, fn, opts);
    cleanups.push(() => target.removeEventListener(type, fn, opts));
  };

  // ---- status from synced traits
  const showStatus = () => {
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
  };
  for (const name of ["tick", "episode_return", "state", "message", "paused", "fps", "key_hints", "title"]) {
    model.on(`change:${name}`, showStatus);
    cleanups.push(() => model.off(`change:${name}` as "change:tick", showStatus));
  }
  const applyZoom = () => view.setZoom(model.get("zoom"), frameSize.width, frameSize.height);
  model.on("change:zoom", applyZoom);
  cleanups.push(() => model.off("change:zoom", applyZoom));

  // ---- frames
  const paint = async (msg: unknown, buffers: DataView[]) => {
    if (!isFrameMessage(msg)) return;
    const t0 = performance.now();
    const recvMs = performance.timeOrigin + t0;
    const payload = bytesOf(buffers[0] ?? new DataView(new ArrayBuffer(0)));
    try {
      const decoded = await decodeFrame(msg, payload, decodeEnv);
      if (ctx && order.claim(msg.seq)) {
        if (view.canvas.width !== msg.width || view.canvas.height !== msg.height) {
          view.canvas.width = msg.width;
          view.canvas.height = msg.height;
          frameSize = { width: msg.width, height: msg.height };
          applyZoom();
        }
        if (decoded.kind === "pixels") ctx.putImageData(decoded.image as ImageData, 0, 0);
        else ctx.drawImage(decoded.bitmap as ImageBitmap, 0, 0);
        const now = performance.now();
        stats.framePainted(now, now - t0, payload.byteLength, msg.key_view === viewId ? msg.key_seq : undefined);
        if (msg.tick !== undefined || msg.episode_return !== undefined) {
          view.showProgress(msg.tick ?? model.get("tick"), msg.episode_return ?? model.get("episode_return"));
        }
        view.waiting.hidden = true;
        view.root.dataset.framesPainted = String(stats.painted);
        view.root.dataset.lastSeq = String(msg.seq);
        view.showError("");
      } else {
        stats.dropped += 1;
      }
      if (decoded.kind === "bitmap") (decoded.bitmap as ImageBitmap).close();
    } catch (err) {
      view.showError(`frame ${msg.seq} could not be shown: ${err}`);
    } finally {
      const ackMs = performance.timeOrigin + performance.now();
      send(model, { type: "ack", seq: msg.seq, view: viewId, recv_ms: recvMs, ack_ms: ackMs });
    }
  };
  const onCustom = (msg: unknown, buffers: DataView[]) => void paint(msg, buffers);
  model.on("msg:custom", onCustom);
  cleanups.push(() => model.off("msg:custom", onCustom));

  const fpsTimer = setInterval(() => {
    const now = performance.now();
    view.showFps(stats.fps(now), model.get("fps"));
    view.root.dataset.fps = String(stats.fps(now));
  }, 250);
  cleanups.push(() => clearInterval(fpsTimer));

  // ---- keyboard
  const sendKeys = (event: KeyEventKind, key: string | null, timeStamp: number) => {
    keySeq += 1;
    send(model, {
      type: "keys",
      view: viewId,
      seq: keySeq,
      event,
      key,
      pressed: keys.pressed,
      t_ms: performance.timeOrigin + timeStamp,
    });
    view.root.dataset.keySeq = String(keySeq);
    view.root.dataset.pressed = keys.pressed.join(" ");
    return keySeq;
  };
  const swallow = (e: Event) => {
    // keys must never reach notebook shortcuts (JupyterLab, Notebook 7, VS Code)
    e.stopPropagation();
    e.preventDefault();
  };
  listen(view.sink, "keydown", (e) => {
    const k = e as KeyboardEvent;
    swallow(k);
    if (k.key === "Escape") {
      view.sink.blur();
      return;
    }
    if (k.isComposing || !keys.down(k.code, k.key, k.repeat)) return;
    stats.keyDown(sendKeys("down", k.key, k.timeStamp), k.timeStamp);
  });
  listen(view.sink, "keyup", (e) => {
    const k = e as KeyboardEvent;
    swallow(k);
    if (keys.up(k.code, k.key)) sendKeys("up", k.key, k.timeStamp);
  });
  listen(view.sink, "keypress", swallow);
  const releaseAll = (e: Event) => {
    if (keys.releaseAll()) sendKeys("release", null, e.timeStamp);
  };
  const setFocused = (focused: boolean) => {
    view.setFocused(focused);
    if (model.get("focused") !== focused) {
      model.set("focused", focused);
      model.save_changes();
    }
  };
  listen(view.sink, "focus", () => setFocused(true));
  listen(view.sink, "blur", (e) => {
    releaseAll(e);
    setFocused(false);
  });
  listen(document, "visibilitychange", (e) => {
    if (document.visibilityState === "hidden") {
      releaseAll(e);
      view.sink.blur();
    }
  });
  listen(window, "blur", releaseAll);

  const takeFocus = () => {
    if (document.activeElement !== view.sink) view.sink.focus({ preventScroll: true });
  };
  listen(view.stage, "mousedown", (e) => {
    // keep the notebook from moving focus to the cell; the sink takes it instead
    e.preventDefault();
    takeFocus();
  });
  listen(view.stage, "click", takeFocus);

  // ---- buttons
  for (const [button, action] of view.controls()) {
    listen(button, "mousedown", (e) => e.preventDefault());
    listen(button, "click", (e) => {
      e.stopPropagation();
      send(model, { type: "control", action });
      if (action !== "pause") takeFocus();
    });
  }

  (view.root as HTMLElement & { cjPlay?: unknown }).cjPlay = {
    stats: () => stats.snapshot(performance.now()),
    resetLatency: () => stats.resetLatency(),
    viewId,
  };
  view.root.dataset.view = viewId;
  showStatus();
  applyZoom();
  view.showError("");
  el.append(view.root);
  // a new view (re-display, page reload) asks for the latest frame
  send(model, { type: "hello", view: viewId });

  return () => {
    for (const c of cleanups) c();
    view.root.remove();
  };
}

export default { render };
