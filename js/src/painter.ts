/**
 * Paints frame messages onto a canvas, newest wins: decodes may finish out of order and a stale
 * frame is skipped rather than drawn over a newer one.
 */
import { BufferPool, bytesOf, decodeFrame, FrameOrder, type DecodeEnv } from "./frames";
import type { FrameMessage } from "./protocol";

export interface PaintResult {
  painted: boolean;
  decodeMs: number;
  /** performance.now() when decoding finished (before drawing) */
  decodedAt: number;
  bytes: number;
}

function browserEnv(): DecodeEnv {
  const images = new BufferPool((w, h) => new ImageData(w, h));
  let scratch = new Uint8Array(0);
  return {
    createImageData: (w, h) => images.take(w, h),
    createImageBitmap: (blob) => createImageBitmap(blob),
    scratch: (length) => {
      if (scratch.length !== length) scratch = new Uint8Array(length);
      return scratch;
    },
  };
}

export class FramePainter {
  private readonly ctx: CanvasRenderingContext2D | null;
  private readonly order = new FrameOrder();
  private readonly env = browserEnv();

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onResize: (width: number, height: number) => void,
  ) {
    this.ctx = canvas.getContext("2d", { alpha: false });
  }

  /** Decode and draw one frame; throws if it cannot be decoded. */
  async paint(msg: FrameMessage, buffer: DataView | undefined): Promise<PaintResult> {
    const t0 = performance.now();
    const payload = bytesOf(buffer ?? new DataView(new ArrayBuffer(0)));
    const decoded = await decodeFrame(msg, payload, this.env);
    const decodedAt = performance.now();
    const painted = this.ctx !== null && this.order.claim(msg.seq);
    if (painted && this.ctx) {
      if (this.canvas.width !== msg.width || this.canvas.height !== msg.height) {
        this.canvas.width = msg.width;
        this.canvas.height = msg.height;
        this.onResize(msg.width, msg.height);
      }
      if (decoded.kind === "pixels") this.ctx.putImageData(decoded.image as ImageData, 0, 0);
      else this.ctx.drawImage(decoded.bitmap as ImageBitmap, 0, 0);
    }
    if (decoded.kind === "bitmap") (decoded.bitmap as ImageBitmap).close();
    return { painted, decodeMs: performance.now() - t0, decodedAt, bytes: payload.byteLength };
  }
}
