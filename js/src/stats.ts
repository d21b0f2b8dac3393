/**
 * Paint statistics of one view: painted frames per second and keypress -> frame latency.
 * Shown to the player (fps) and read by the benchmark (through tracing.ts).
 */

export interface StatsSnapshot {
  painted: number;
  dropped: number;
  fps: number;
  latency_ms: number[];
  latency_p50: number | null;
  latency_p95: number | null;
  decode_ms_mean: number | null;
  bytes_mean: number | null;
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

  constructor(
    private readonly windowMs = 1000,
    private readonly keep = 4096,
  ) {}

  /** A key went down at `now` (performance.now clock). */
  keyDown(seq: number, now: number): void {
    this.pendingKeys.set(seq, now);
    if (this.pendingKeys.size > 256) {
      const oldest = this.pendingKeys.keys().next().value;
      if (oldest !== undefined) this.pendingKeys.delete(oldest);
    }
  }

  /**
   * A frame was painted at `now`; `keySeq` is the last key message the kernel had seen.
   * Returns the key presses (seq, keydown time) this frame is the first to reflect.
   */
  framePainted(now: number, decodeMs: number, bytes: number, keySeq?: number): [number, number][] {
    this.painted += 1;
    this.paintTimes.push(now);
    while (this.paintTimes.length && this.paintTimes[0] < now - this.windowMs) this.paintTimes.shift();
    push(this.decodeMs, decodeMs, this.keep);
    push(this.bytes, bytes, this.keep);
    const answered: [number, number][] = [];
    if (keySeq === undefined) return answered;
    for (const [seq, t] of this.pendingKeys) {
      if (seq > keySeq) continue;
      push(this.latencies, now - t, this.keep);
      answered.push([seq, t]);
      this.pendingKeys.delete(seq);
    }
    return answered;
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

  resetLatency(): void {
    this.latencies.length = 0;
    this.pendingKeys.clear();
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
