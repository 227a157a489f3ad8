import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { ImageError } from "../../src/errors.js";
import { loadImage } from "../../src/image/load.js";
import { buildPng, stripChunk } from "./png-bytes.js";

const fixtures = path.join(import.meta.dirname, "../fixtures/image");
const tmp = mkdtempSync(path.join(os.tmpdir(), "vlmkit-image-"));

/** A W×H RGB image whose pixel (y, x) is (x·10, y·10, 7): orientation is readable from values. */
function coded(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([x * 10, y * 10, 7], (y * width + x) * 3);
  }
  return data;
}

async function png(width: number, height: number): Promise<Buffer> {
  return sharp(coded(width, height), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

async function expectImageError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  expect((error as ImageError).code).toBe(code);
  expect((error as ImageError).message).toMatch(message);
}

describe("loadImage: sources", () => {
  it("reads a path, a Buffer, a Uint8Array and a file: URL to the same pixels", async () => {
    const bytes = await png(4, 3);
    const file = path.join(tmp, "coded.png");
    writeFileSync(file, bytes);
    const fromPath = await loadImage(file);
    expect(fromPath).toMatchObject({ width: 4, height: 3 });
    expect([...fromPath.data.subarray(3, 6)]).toEqual([10, 0, 7]);
    for (const src of [bytes, new Uint8Array(bytes), new URL(`file://${file}`)]) {
      expect(Buffer.from((await loadImage(src)).data)).toEqual(Buffer.from(fromPath.data));
    }
  });

  it("decodes base64 and percent-encoded data: URLs", async () => {
    const bytes = await png(4, 3);
    const b64 = await loadImage(`data:image/png;base64,${bytes.toString("base64")}`);
    expect([...b64.data.subarray(0, 3)]).toEqual([0, 0, 7]);
    const pct = [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
    expect(Buffer.from((await loadImage(`data:image/png,${pct}`)).data)).toEqual(Buffer.from(b64.data));
  });

  it("refuses local files when allowLocalFiles is false, naming the path", async () => {
    await expectImageError(
      loadImage(path.join(fixtures, "reference-40x30.png"), { allowLocalFiles: false }),
      "IMAGE_SOURCE_NOT_ALLOWED",
      /reference-40x30\.png refused: local files are disabled/,
    );
  });

  it("refuses remote URLs unless allowRemote, and unknown schemes", async () => {
    await expectImageError(
      loadImage("https://example.com/cat.png"),
      "IMAGE_SOURCE_NOT_ALLOWED",
      /host example\.com refused: http\(s\) URLs are not fetched here; download the image and pass its path \(a server fetches them when started with --allow-remote-images/,
    );
    await expectImageError(loadImage("ftp://example.com/cat.png"), "IMAGE_SOURCE_NOT_ALLOWED", /"ftp:"/);
  });

  it("reports a missing file with its path", async () => {
    await expectImageError(
      loadImage(path.join(tmp, "nope.png")),
      "IMAGE_FETCH_FAILED",
      /nope\.png: no such file/,
    );
  });
});

describe("loadImage: orientation and colour", () => {
  it("applies EXIF orientation 6 (rotate 90° clockwise)", async () => {
    // 8 wide × 4 high, black except a white 4×2 block at the bottom left.
    const raw = Buffer.alloc(8 * 4 * 3);
    for (let y = 2; y < 4; y++) raw.fill(255, y * 24, y * 24 + 12);
    const jpeg = await sharp(raw, { raw: { width: 8, height: 4, channels: 3 } })
      .jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const img = await loadImage(jpeg);
    expect([img.width, img.height]).toEqual([4, 8]);
    // Turned clockwise, the bottom-left block lands at the top left; the top right stays black.
    expect(img.data[0]).toBeGreaterThan(200);
    expect(img.data[(0 * 4 + 3) * 3]).toBeLessThan(50);
    expect(img.data[(7 * 4 + 0) * 3]).toBeLessThan(50);
  });

  it("replicates grayscale to three channels", async () => {
    const gray = await sharp(Buffer.from([0, 60, 120, 250]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    const img = await loadImage(gray);
    expect([...img.data]).toEqual([0, 0, 0, 60, 60, 60, 120, 120, 120, 250, 250, 250]);
  });

  it("drops alpha without compositing (PIL convert('RGB'))", async () => {
    const rgba = Buffer.from([200, 100, 50, 0, 10, 20, 30, 128]);
    const bytes = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } })
      .png()
      .toBuffer();
    expect([...(await loadImage(bytes)).data]).toEqual([200, 100, 50, 10, 20, 30]);
  });

  it("reduces 16-bit RGB and grey PNGs to the high byte (as PIL does for RGB)", async () => {
    const words = [0x0000, 0xffff, 0x8000, 0x12ff, 0xab00, 0x0101];
    const samples = Buffer.alloc(12);
    for (const [i, w] of words.entries()) samples.writeUInt16BE(w, i * 2);
    const rgb = await loadImage(buildPng(2, 1, 16, 2, samples));
    expect([...rgb.data]).toEqual([0x00, 0xff, 0x80, 0x12, 0xab, 0x01]);
    const grey = await loadImage(buildPng(6, 1, 16, 0, samples));
    expect([...grey.data].filter((_, i) => i % 3 === 0)).toEqual([0x00, 0xff, 0x80, 0x12, 0xab, 0x01]);
  });

  it("converts CMYK like PIL (fixture decoded by Pillow)", async () => {
    const img = await loadImage(path.join(fixtures, "cmyk-16x12.jpg"));
    expect([img.width, img.height]).toEqual([16, 12]);
    const pil = readFileSync(path.join(fixtures, "cmyk-16x12.rgb"));
    let max = 0;
    for (let i = 0; i < pil.length; i++) max = Math.max(max, Math.abs(img.data[i] - pil[i]));
    // libjpeg builds may round the IDCT differently by a level; a colour-managed conversion is ~20 off.
    expect(max).toBeLessThanOrEqual(2);
  });

  it("ignores an embedded ICC profile, as PIL does", async () => {
    const withProfile = await sharp(coded(4, 3), { raw: { width: 4, height: 3, channels: 3 } })
      .withIccProfile("p3")
      .png()
      .toBuffer();
    const without = stripChunk(withProfile, "iCCP");
    expect((await sharp(withProfile).metadata()).hasProfile).toBe(true);
    expect((await sharp(without).metadata()).hasProfile).toBe(false);
    // Colour management would change these values (sharp's default does); the stored numbers must come back.
    const managed = await sharp(withProfile).removeAlpha().raw().toBuffer();
    const stored = (await loadImage(without)).data;
    expect(Buffer.from(stored)).not.toEqual(managed);
    expect(Buffer.from((await loadImage(withProfile)).data)).toEqual(Buffer.from(stored));
  });

  it("takes the first frame of an animated GIF", async () => {
    const frames = Buffer.concat([Buffer.alloc(2 * 2 * 3, 255), Buffer.alloc(2 * 2 * 3, 0)]);
    const gif = await sharp(frames, { raw: { width: 2, height: 4, channels: 3, pageHeight: 2 } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const img = await loadImage(gif);
    expect([img.width, img.height]).toEqual([2, 2]);
    expect([...img.data].every((v) => v === 255)).toBe(true);
  });

  it("decodes webp, tiff and avif", async () => {
    const raw = { raw: { width: 8, height: 8, channels: 3 as const } };
    for (const fmt of ["webp", "tiff", "avif"] as const) {
      const bytes = await sharp(Buffer.alloc(8 * 8 * 3, 90), raw)
        .toFormat(fmt, { lossless: true })
        .toBuffer();
      const img = await loadImage(bytes);
      expect([img.width, img.height], fmt).toEqual([8, 8]);
    }
  });
});

describe("loadImage: bad input never crashes or hangs", () => {
  it("empty inputs", async () => {
    await expectImageError(loadImage(Buffer.alloc(0)), "IMAGE_EMPTY", /buffer is empty/);
    await expectImageError(loadImage("data:image/png;base64,"), "IMAGE_EMPTY", /data: URL holds no data/);
    const file = path.join(tmp, "empty.png");
    writeFileSync(file, "");
    await expectImageError(loadImage(file), "IMAGE_EMPTY", /empty\.png is empty/);
  });

  it("truncated JPEG and PNG", async () => {
    const jpeg = await sharp(coded(24, 16), { raw: { width: 24, height: 16, channels: 3 } })
      .jpeg()
      .toBuffer();
    await expectImageError(
      loadImage(jpeg.subarray(0, jpeg.length >> 1)),
      "IMAGE_CORRUPT",
      /image buffer .*(premature|truncated|corrupt)/i,
    );
    const p = await png(24, 16);
    await expectImageError(loadImage(p.subarray(0, p.length - 30)), "IMAGE_CORRUPT", /image buffer/);
  });

  it("random bytes and a text file", async () => {
    let seed = 7;
    const random = Buffer.alloc(4096).map(() => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed >> 16;
    });
    await expectImageError(loadImage(random), "IMAGE_UNSUPPORTED", /not in a recognised image format/);
    const file = path.join(tmp, "notes.txt");
    writeFileSync(file, "hello, this is not an image\n");
    await expectImageError(
      loadImage(file),
      "IMAGE_UNSUPPORTED",
      /notes\.txt is not in a recognised image format/,
    );
  });

  it("SVG, PDF and BMP are refused by name", async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>';
    await expectImageError(loadImage(Buffer.from(svg)), "IMAGE_UNSUPPORTED", /SVG document/);
    await expectImageError(loadImage(Buffer.from("%PDF-1.4\n%...")), "IMAGE_UNSUPPORTED", /PDF document/);
    const bmp = Buffer.alloc(70);
    bmp.write("BM", 0, "latin1");
    await expectImageError(loadImage(bmp), "IMAGE_UNSUPPORTED", /BMP image/);
  });

  it("a decompression bomb is refused from its header", async () => {
    // 1-bit grey zeros compress ~1000:1: a small file whose decoding would need 400 M pixels.
    const bomb = buildPng(20_000, 20_000, 1, 0, Buffer.alloc(2500 * 20_000));
    expect(bomb.length).toBeLessThan(200_000);
    const started = Date.now();
    await expectImageError(
      loadImage(bomb),
      "IMAGE_TOO_LARGE",
      /20000×20000 = 400000000 pixels; the limit is maxPixels = 50000000/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    await expectImageError(
      loadImage(await png(40, 30), { maxPixels: 1000 }),
      "IMAGE_TOO_LARGE",
      /maxPixels = 1000/,
    );
  });

  it("oversized bytes are refused before decoding, for every source kind", async () => {
    const bytes = await png(40, 30);
    const file = path.join(tmp, "big.png");
    writeFileSync(file, bytes);
    const opts = { maxBytes: 100 };
    await expectImageError(
      loadImage(bytes, opts),
      "IMAGE_TOO_LARGE",
      /buffer has \d+ bytes; the limit is maxBytes = 100/,
    );
    await expectImageError(loadImage(file, opts), "IMAGE_TOO_LARGE", /big\.png has \d+ bytes/);
    const url = `data:image/png;base64,${bytes.toString("base64")}`;
    const err = await loadImage(url, opts).catch((e: Error) => e);
    expect((err as ImageError).code).toBe("IMAGE_TOO_LARGE");
    // The message names the source without dumping the payload.
    expect((err as Error).message).not.toContain(bytes.toString("base64").slice(0, 20));
  });

  it("invalid base64 and bad options", async () => {
    await expectImageError(loadImage("data:image/png;base64,@@@@"), "IMAGE_CORRUPT", /not valid base64/);
    await expect(loadImage(Buffer.alloc(3), { maxBytes: -1 })).rejects.toThrow(
      /maxBytes must be a positive number, got -1/,
    );
  });
});
