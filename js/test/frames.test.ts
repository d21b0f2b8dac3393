import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { BufferPool, bytesOf, decodeFrame, FrameOrder, inflateInto, rgbToRgba, type DecodeEnv } from "../src/frames";
import type { FrameMessage } from "../src/protocol";

/** A node stand-in for the browser pieces the decoder uses. */
function nodeEnv(): DecodeEnv & { blobs: Blob[]; scratches: Uint8Array[] } {
  const blobs: Blob[] = [];
  const scratches: Uint8Array[] = [];
  return {
    blobs,
    scratches,
    createImageData: (width, height) => ({ width, height, data: new Uint8ClampedArray(width * height * 4) }),
    createImageBitmap: async (blob) => {
      blobs.push(blob);
      return { width: 2, height: 1, close() {} };
    },
    scratch: (length) => {
      const reused = scratches.find((b) => b.length === length);
      if (reused) return reused;
      scratches.push(new Uint8Array(length));
      return scratches[scratches.length - 1];
    },
  };
}

const header = (over: Partial<FrameMessage> = {}): FrameMessage => ({
  type: "frame",
  seq: 1,
  format: "rgb",
  width: 2,
  height: 1,
  ...over,
});

describe("rgbToRgba", () => {
  it("expands packed RGB into opaque RGBA", () => {
    const dst = new Uint8ClampedArray(8);
    rgbToRgba(new Uint8Array([1, 2, 3, 250, 251, 252]), dst, 2);
    expect([...dst]).toEqual([1, 2, 3, 255, 250, 251, 252, 255]);
  });

  it("reads four pixels per three words and matches a byte-wise expansion for any size and alignment", () => {
    for (let pixels = 1; pixels <= 13; pixels++) {
      for (const offset of [0, 1, 4]) {
        const backing = new Uint8Array(pixels * 3 + offset);
        for (let k = 0; k < backing.length; k++) backing[k] = (k * 37 + pixels) & 0xff;
        const src = backing.subarray(offset);
        const dst = new Uint8ClampedArray(pixels * 4);
        rgbToRgba(src, dst, pixels);
        const want: number[] = [];
        for (let p = 0; p < pixels; p++) want.push(src[3 * p], src[3 * p + 1], src[3 * p + 2], 255);
        expect([...dst]).toEqual(want);
      }
    }
  });

  it("works on an unaligned destination too", () => {
    const backing = new Uint8ClampedArray(9);
    const dst = backing.subarray(1);
    rgbToRgba(new Uint8Array([9, 8, 7, 6, 5, 4]), dst, 2);
    expect([...dst]).toEqual([9, 8, 7, 255, 6, 5, 4, 255]);
  });

  it("refuses a short buffer instead of painting garbage", () => {
    expect(() => rgbToRgba(new Uint8Array(5), new Uint8ClampedArray(8), 2)).toThrow(/need 6/);
  });
});

describe("decodeFrame", () => {
  it("decodes raw RGB into image data", async () => {
    const d = await decodeFrame(header(), new Uint8Array([1, 2, 3, 4, 5, 6]), nodeEnv());
    expect(d.kind).toBe("pixels");
    if (d.kind === "pixels") expect([...d.image.data]).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
  });

  it("inflates zlib-compressed RGB (what Python's zlib.compress makes)", async () => {
    const rgb = new Uint8Array(600 * 400 * 3).map((_, i) => i % 251);
    const payload = new Uint8Array(deflateSync(rgb, { level: 1 }));
    expect(payload.length).toBeLessThan(rgb.length);
    const d = await decodeFrame(header({ format: "rgb-deflate", width: 600, height: 400 }), payload, nodeEnv());
    expect(d.kind).toBe("pixels");
    if (d.kind === "pixels") {
      expect(d.image.data.length).toBe(600 * 400 * 4);
      expect([...d.image.data.subarray(0, 8)]).toEqual([0, 1, 2, 255, 3, 4, 5, 255]);
    }
  });

  it("reuses one scratch buffer for every inflated frame of a size", async () => {
    const env = nodeEnv();
    const frame = header({ format: "rgb-deflate", width: 2, height: 1 });
    for (const px of [
      [1, 2, 3, 4, 5, 6],
      [7, 8, 9, 10, 11, 12],
    ]) {
      const d = await decodeFrame(frame, new Uint8Array(deflateSync(new Uint8Array(px))), env);
      if (d.kind === "pixels") expect([...d.image.data]).toEqual([...px.slice(0, 3), 255, ...px.slice(3), 255]);
    }
    expect(env.scratches.length).toBe(1);
  });

  it("rejects a deflated frame larger than its header says", async () => {
    const payload = new Uint8Array(deflateSync(new Uint8Array(9)));
    await expect(decodeFrame(header({ format: "rgb-deflate" }), payload, nodeEnv())).rejects.toThrow(/more than the 6/);
  });

  it("hands PNG/JPEG/WebP to createImageBitmap with the right MIME type", async () => {
    const env = nodeEnv();
    for (const [format, mime] of [
      ["png", "image/png"],
      ["jpeg", "image/jpeg"],
      ["webp", "image/webp"],
    ] as const) {
      const d = await decodeFrame(header({ format }), new Uint8Array([1, 2, 3]), env);
      expect(d.kind).toBe("bitmap");
      expect(env.blobs.at(-1)?.type).toBe(mime);
    }
  });

  it("rejects a payload that does not match the header", async () => {
    await expect(decodeFrame(header({ width: 3 }), new Uint8Array(6), nodeEnv())).rejects.toThrow(/not 3x1 RGB/);
    await expect(decodeFrame(header({ width: 0 }), new Uint8Array(0), nodeEnv())).rejects.toThrow(/bad frame size/);
    await expect(
      decodeFrame(header({ format: "gif" as FrameMessage["format"] }), new Uint8Array(3), nodeEnv()),
    ).rejects.toThrow(/unknown frame format/);
  });
});

describe("inflateInto", () => {
  const raw = new Uint8Array(1000).map((_, i) => i % 7);
  const z = new Uint8Array(deflateSync(raw));

  it("inflates into the given buffer, allocating no output of its own", () => {
    const out = new Uint8Array(1001);
    const got = inflateInto(z, out, 1000);
    expect(got.buffer).toBe(out.buffer);
    expect([...got]).toEqual([...raw]);
  });

  it("returns what the data holds when that is less than expected (the caller checks the size)", () => {
    expect(inflateInto(z, new Uint8Array(5001), 5000).length).toBe(1000);
  });

  it("refuses data that inflates to more than expected instead of cutting it", () => {
    expect(() => inflateInto(z, new Uint8Array(11), 10)).toThrow(/more than the 10 bytes/);
    expect(() => inflateInto(z, new Uint8Array(10), 10)).toThrow(/cannot hold 10 \+ 1/);
  });

  it("rejects corrupt data with a message that says so", () => {
    expect(() => inflateInto(new Uint8Array([1, 2, 3, 4, 5, 6]), new Uint8Array(11), 10)).toThrow(/not valid zlib/);
  });
});

describe("bytesOf", () => {
  it("views a DataView's bytes without copying", () => {
    const buf = new ArrayBuffer(8);
    const view = new DataView(buf, 2, 4);
    const bytes = bytesOf(view);
    expect(bytes.byteOffset).toBe(2);
    expect(bytes.length).toBe(4);
    expect(bytes.buffer).toBe(buf);
  });
});

describe("BufferPool", () => {
  it("rotates through a few buffers of the current size and starts over on a new size", () => {
    let made = 0;
    const pool = new BufferPool((w, h) => ({ id: made++, w, h }), 3);
    const first = [pool.take(2, 2), pool.take(2, 2), pool.take(2, 2)].map((b) => b.id);
    expect(first).toEqual([0, 1, 2]);
    expect(pool.take(2, 2).id).toBe(0); // reused, not allocated
    expect(made).toBe(3);
    const other = pool.take(4, 4);
    expect([other.w, other.id]).toEqual([4, 3]);
  });
});

describe("FrameOrder", () => {
  it("never lets an older frame overwrite a newer one", () => {
    const order = new FrameOrder();
    expect(order.claim(1)).toBe(true);
    expect(order.claim(3)).toBe(true);
    expect(order.claim(2)).toBe(false); // decoded late
    expect(order.claim(3)).toBe(false);
    expect(order.last).toBe(3);
    order.reset();
    expect(order.claim(1)).toBe(true);
  });
});
