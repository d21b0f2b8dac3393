/**
 * Turning a frame message's binary buffer into something a canvas can draw.
 *
 * Decoding is separated from the DOM (the environment is injected) so it can be unit tested
 * in node, and so the choice of encoding stays a measured, swappable detail.
 */
import { unzlibSync } from "fflate";
import type { FrameFormat, FrameMessage } from "./protocol";

/** The pieces of the browser a decoder needs; tests pass their own. */
export interface DecodeEnv {
  createImageData(width: number, height: number): { data: Uint8ClampedArray; width: number; height: number };
  createImageBitmap(blob: Blob): Promise<{ width: number; height: number; close(): void }>;
  /** A buffer of `length` bytes the decoder may overwrite (reused: valid until the next call). */
  scratch(length: number): Uint8Array;
}

export type Decoded<E extends DecodeEnv = DecodeEnv> =
  | { kind: "pixels"; image: ReturnType<E["createImageData"]> }
  | { kind: "bitmap"; bitmap: Awaited<ReturnType<E["createImageBitmap"]>> };

const MIME: Partial<Record<FrameFormat, string>> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
};

/**
 * Expand packed RGB into RGBA (alpha 255), writing four bytes at a time.
 * Little-endian 32-bit words: 0xAABBGGRR.
 */
export function rgbToRgba(src: Uint8Array, dst: Uint8ClampedArray, pixels: number): void {
  if (src.length < pixels * 3) throw new Error(`RGB buffer has ${src.length} bytes, need ${pixels * 3}`);
  if (dst.length < pixels * 4) throw new Error(`RGBA buffer has ${dst.length} bytes, need ${pixels * 4}`);
  if (dst.byteOffset % 4 === 0) {
    const out = new Uint32Array(dst.buffer, dst.byteOffset, pixels);
    let i = 0;
    if (src.byteOffset % 4 === 0) {
      // four pixels (12 bytes) per three 32-bit reads: a third of the loads of byte-wise reading
      const words = new Uint32Array(src.buffer, src.byteOffset, Math.floor((pixels * 3) / 4));
      const quads = pixels >> 2;
      for (let q = 0, w = 0; q < quads; q++, w += 3, i += 4) {
        const a = words[w];
        const b = words[w + 1];
        const c = words[w + 2];
        out[i] = 0xff000000 | (a & 0xffffff);
        out[i + 1] = 0xff000000 | (a >>> 24) | ((b & 0xffff) << 8);
        out[i + 2] = 0xff000000 | (b >>> 16) | ((c & 0xff) << 16);
        out[i + 3] = 0xff000000 | (c >>> 8);
      }
    }
    for (let j = i * 3; i < pixels; i++, j += 3) {
      out[i] = 0xff000000 | (src[j + 2] << 16) | (src[j + 1] << 8) | src[j];
    }
    return;
  }
  for (let i = 0, j = 0, k = 0; i < pixels; i++, j += 3, k += 4) {
    dst[k] = src[j];
    dst[k + 1] = src[j + 1];
    dst[k + 2] = src[j + 2];
    dst[k + 3] = 255;
  }
}

/** Bytes of a DataView (as anywidget hands buffers over) without copying. */
export function bytesOf(buf: DataView | ArrayBuffer | Uint8Array): Uint8Array {
  if (buf instanceof Uint8Array) return buf;
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Decode one frame into pixels or a bitmap, checking its header against its payload. */
export async function decodeFrame<E extends DecodeEnv>(
  header: FrameMessage,
  payload: Uint8Array,
  env: E,
): Promise<Decoded<E>> {
  const { width, height, format } = header;
  if (!(width > 0 && height > 0)) throw new Error(`bad frame size ${width}x${height}`);
  if (format === "rgb" || format === "rgb-deflate") {
    const size = width * height * 3;
    const rgb = format === "rgb" ? payload : inflateInto(payload, env.scratch(size + 1), size);
    if (rgb.length !== size) {
      throw new Error(`frame ${header.seq}: ${rgb.length} bytes is not ${width}x${height} RGB`);
    }
    const image = env.createImageData(width, height) as ReturnType<E["createImageData"]>;
    rgbToRgba(rgb, image.data, width * height);
    return { kind: "pixels", image };
  }
  const mime = MIME[format];
  if (!mime) throw new Error(`unknown frame format ${JSON.stringify(format)}`);
  // copy into a fresh ArrayBuffer: Blob parts must not be views on shared/resizable memory
  const blob = new Blob([payload.slice()], { type: mime });
  const bitmap = (await env.createImageBitmap(blob)) as Awaited<ReturnType<E["createImageBitmap"]>>;
  return { kind: "bitmap", bitmap };
}

/**
 * Inflate zlib data (what Python's ``zlib.compress`` makes) into `out`, allocating nothing.
 *
 * Not the browser's DecompressionStream: its output arrives as fresh chunks (plus the buffer
 * they are gathered into), garbage the size of the frame every frame, and V8's major collections
 * then took more CPU than the decoding (docs/decisions/play-widget.md). `out` has one byte more than `expected`, so
 * data that inflates to more than the header says is caught instead of cut.
 */
export function inflateInto(data: Uint8Array, out: Uint8Array, expected: number): Uint8Array {
  if (out.length <= expected) throw new Error(`inflate buffer of ${out.length} bytes cannot hold ${expected} + 1`);
  let inflated: Uint8Array;
  try {
    inflated = unzlibSync(data, { out });
  } catch (error) {
    throw new Error(`frame is not valid zlib data: ${(error as Error).message}`);
  }
  if (inflated.length > expected) throw new Error(`frame inflates to more than the ${expected} bytes expected`);
  return inflated;
}

/**
 * Hands out image buffers of one size in rotation instead of allocating one per frame (which
 * at game frame rates means constant major garbage collections). With at most a few frames decoding
 * at once (the view decodes one frame at a time), `slots` buffers are never in use twice.
 */
export class BufferPool<T> {
  private key = "";
  private slots: T[] = [];
  private next = 0;

  constructor(
    private readonly make: (width: number, height: number) => T,
    private readonly size = 4,
  ) {}

  take(width: number, height: number): T {
    const key = `${width}x${height}`;
    if (key !== this.key) {
      this.key = key;
      this.slots = [];
      this.next = 0;
    }
    if (this.slots.length < this.size) this.slots.push(this.make(width, height));
    const item = this.slots[this.next % this.slots.length];
    this.next = (this.next + 1) % this.size;
    return item;
  }
}

/**
 * Decides which decoded frames are still worth painting: decodes may finish out of order,
 * and an older frame must never overwrite a newer one.
 */
export class FrameOrder {
  private painted = -1;

  /** True if `seq` is newer than everything painted so far (and marks it painted). */
  claim(seq: number): boolean {
    if (seq <= this.painted) return false;
    this.painted = seq;
    return true;
  }

  /** The kernel restarted its numbering (a new widget, or a re-sent frame after hello). */
  reset(): void {
    this.painted = -1;
  }

  get last(): number {
    return this.painted;
  }
}
