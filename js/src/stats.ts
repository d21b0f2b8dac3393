/**
 * Paint statistics of one view: painted frames per second and keypress -> frame latency.
 * Shown to the player (fps) and read by the benchmark and browser tests.
 */

/** Timestamps of one frame's trip (wall-clock ms: kernel marks from the frame header, browser marks added here). */
export type FrameTrace = Record<string, unknown>;

/** A key press and the first painted frame that reflects it. */
export interface KeyTrace {
  seq: number;
  /** keydown and message-sent times (wall-clock ms) */
  down: number;
  sent: number | null;
  /** when the page's key handler ran (wall-clock ms) */
  handler?: number | null;
  frame: FrameTrace | null;
}

export interface StatsSnapshot {
  painted: number;
  dropped: number;
  fps: number;
  latency_ms: number[];
  latency_p50: number | null;
  latency_p95: number | null;
  decode_ms_mean: number | null;
  bytes_mean: number | null;
  /** with ``traces``: traced frames and key presses (the benchmark's hop-by-hop breakdown) */
  frames?: FrameTrace[];
  keys?: KeyTrace[];
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export class PaintStats {
  painted = 0;
  dropped = 0;
  private readonly paintTimes: number[] = [];
  private readonly latencies: number[] = [];
  private readonly decodeMs: number[] = [];
  private readonly bytes: number[] = [];
  /** keydown time (performance.now) per key seq still waiting for a frame that reflects it. */
  private readonly pendingKeys = new Map<number, number>();
  private readonly keySent = new Map<number, [number, number | undefined]>();
  private readonly frameTraces: FrameTrace[] = [];
  private readonly keyTraces: KeyTrace[] = [];
  /** performance.now -> wall-clock ms (performance.timeOrigin in a browser) */
  origin = 0;

  constructor(
    private readonly windowMs = 1000,
    private readonly keep = 4096,
  ) {}

  /** A key went down at `now` (performance.now clock); `sentAt`: when its message left. */
  keyDown(seq: number, now: number, sentAt?: number, handlerAt?: number): void {
    this.pendingKeys.set(seq, now);
    if (sentAt !== undefined) this.keySent.set(seq, [sentAt, handlerAt]);
    if (this.pendingKeys.size > 256) {
      const oldest = this.pendingKeys.keys().next().value;
      if (oldest !== undefined) {
        this.pendingKeys.delete(oldest);
        this.keySent.delete(oldest);
      }
    }
  }

  /**
   * A frame was painted at `now`; `keySeq` is the last key message the kernel had seen.
   * `trace`: the frame's timestamps (kept, with the key presses it answers, for the benchmark).
   */
  framePainted(now: number, decodeMs: number, bytes: number, keySeq?: number, trace?: FrameTrace): void {
    this.painted += 1;
    this.paintTimes.push(now);
    while (this.paintTimes.length && this.paintTimes[0] < now - this.windowMs) this.paintTimes.shift();
    push(this.decodeMs, decodeMs, this.keep);
    push(this.bytes, bytes, this.keep);
    if (trace) push(this.frameTraces, trace, this.keep);
    if (keySeq === undefined) return;
    for (const [seq, t] of this.pendingKeys) {
      if (seq > keySeq) continue;
      push(this.latencies, now - t, this.keep);
      if (trace) {
        const [sent, handler] = this.keySent.get(seq) ?? [];
        const wall = (v: number | undefined) => (v === undefined ? null : this.origin + v);
        push(this.keyTraces, { seq, down: this.origin + t, sent: wall(sent), handler: wall(handler), frame: trace }, this.keep);
      }
      this.pendingKeys.delete(seq);
      this.keySent.delete(seq);
    }
  }

  /** Frames painted during the last window, per second (decays to 0 when frames stop). */
  fps(now: number): number {
    const recent = this.paintTimes.filter((t) => t > now - this.windowMs).length;
    return (recent * 1000) / this.windowMs;
  }

  snapshot(now: number): StatsSnapshot {
    return {
      painted: this.painted,
      dropped: this.dropped,
      fps: round(this.fps(now)),
      latency_ms: this.latencies.map(round),
      latency_p50: percentile(this.latencies, 50),
      latency_p95: percentile(this.latencies, 95),
      decode_ms_mean: mean(this.decodeMs),
      bytes_mean: mean(this.bytes),
    };
  }

  /** The snapshot with the traced frames and key presses. */
  traces(now: number): StatsSnapshot {
    return { ...this.snapshot(now), frames: [...this.frameTraces], keys: [...this.keyTraces] };
  }

  resetLatency(): void {
    this.latencies.length = 0;
    this.pendingKeys.clear();
    this.keySent.clear();
    this.frameTraces.length = 0;
    this.keyTraces.length = 0;
  }
}

function push<T>(arr: T[], v: T, keep: number): void {
  arr.push(v);
  if (arr.length > keep) arr.shift();
}

function mean(arr: number[]): number | null {
  return arr.length ? round(arr.reduce((a, b) => a + b, 0) / arr.length) : null;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
