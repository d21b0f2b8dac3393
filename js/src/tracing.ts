/**
 * Timestamps of frames and key presses in the page, for bench/play_latency.py's hop-by-hop
 * breakdown. Frames carry the kernel's stamps (`trace`) only while a benchmark switched tracing
 * on in the kernel (cogment_jupyter/notebook/tracing.py); the page adds when each arrived, was
 * decoded, painted and presented, and for the key presses they answer when each went down, was
 * handled and was sent. The benchmark reads them, and the paint statistics, through `cjPlay`
 * on the widget's root element.
 */
import type { FrameMessage } from "./protocol";
import type { PaintStats, StatsSnapshot } from "./stats";

/** Timestamps of one frame's trip (wall-clock ms: kernel marks from the frame header, browser marks added here). */
export type FrameTrace = Record<string, unknown>;

/** A key press and the first painted frame that reflects it. */
export interface KeyTrace {
  seq: number;
  /** keydown and message-sent times (wall-clock ms) */
  down: number;
  sent: number | null;
  /** when the page's key handler ran (wall-clock ms) */
  handler: number | null;
  frame: FrameTrace | null;
}

export interface Traces extends StatsSnapshot {
  frames: FrameTrace[];
  keys: KeyTrace[];
}

export class Tracing {
  private readonly frames: FrameTrace[] = [];
  private readonly keys: KeyTrace[] = [];
  /** when each recent key's handler ran and its message left (performance.now clock) */
  private readonly keySent = new Map<number, [number, number]>();

  /** `origin`: performance.now -> wall-clock ms (performance.timeOrigin in a browser) */
  constructor(
    private readonly origin = 0,
    private readonly keep = 4096,
  ) {}

  keySentAt(seq: number, handlerAt: number, sentAt: number): void {
    this.keySent.set(seq, [handlerAt, sentAt]);
    if (this.keySent.size > 256) {
      const oldest = this.keySent.keys().next().value;
      if (oldest !== undefined) this.keySent.delete(oldest);
    }
  }

  /**
   * A traced frame was painted (performance.now clock, except `recvMs`, wall clock); `answered`:
   * the key presses (seq, keydown time) it is the first frame to reflect.
   */
  framePainted(
    msg: FrameMessage,
    recvMs: number,
    decodedAt: number,
    paintedAt: number,
    answered: [number, number][],
  ): void {
    if (!msg.trace) return;
    const trace: FrameTrace = {
      ...msg.trace,
      seq: msg.seq,
      recv: recvMs,
      dec: this.origin + decodedAt,
      paint: this.origin + paintedAt,
    };
    globalThis.requestAnimationFrame?.(() => (trace.present = this.origin + performance.now()));
    push(this.frames, trace, this.keep);
    for (const [seq, down] of answered) {
      const [handler, sent] = this.keySent.get(seq) ?? [];
      const wall = (v: number | undefined) => (v === undefined ? null : this.origin + v);
      push(this.keys, { seq, down: this.origin + down, sent: wall(sent), handler: wall(handler), frame: trace }, this.keep);
      this.keySent.delete(seq);
    }
  }

  traces(snapshot: StatsSnapshot): Traces {
    return { ...snapshot, frames: [...this.frames], keys: [...this.keys] };
  }

  reset(): void {
    this.frames.length = 0;
    this.keys.length = 0;
    this.keySent.clear();
  }
}

/** The benchmark's handle on a view: `root.cjPlay`. */
export function exposeToBenchmark(root: HTMLElement, stats: PaintStats, tracing: Tracing, viewId: string): void {
  (root as HTMLElement & { cjPlay?: unknown }).cjPlay = {
    stats: () => stats.snapshot(performance.now()),
    traces: () => tracing.traces(stats.snapshot(performance.now())),
    resetLatency: () => {
      stats.resetLatency();
      tracing.reset();
    },
    viewId,
  };
}

function push<T>(arr: T[], v: T, keep: number): void {
  arr.push(v);
  if (arr.length > keep) arr.shift();
}
