import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { VisionEncoder } from "../../src/encoders/index.js";
import { ImageError } from "../../src/errors.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { encoderIdentity, FeatureCache } from "../../src/train/data/feature-cache.js";

let root: string;
let encoder: VisionEncoder;
const images: string[] = [];

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-features-"));
  await writeTinySiglip(path.join(root, "enc"), {
    variant: "siglip2",
    seed: 4,
    towers: ["vision"],
    dtypes: ["fp32", "fp16"],
  });
  encoder = await VisionEncoder.load(path.join(root, "enc"));
  const colours = ["#d22", "#2d2", "#22d", "#dd2"];
  for (const [i, c] of colours.entries()) {
    const file = path.join(root, `img${i}.png`);
    await sharp({ create: { width: 20 + i, height: 24, channels: 3, background: c } })
      .png()
      .toFile(file);
    images.push(file);
  }
});

afterAll(async () => {
  await encoder?.dispose();
});

/** Counts images that reach the real encoder. */
function countEncoded(enc: VisionEncoder) {
  const spy = vi.spyOn(enc, "encode");
  return {
    images: () => spy.mock.calls.reduce((n, [batch]) => n + batch.length, 0),
    restore: () => spy.mockRestore(),
  };
}

describe("FeatureCache", () => {
  it("runs the encoder once per image, then serves the same features from disk", async () => {
    const cache = await FeatureCache.open(encoder, { dir: path.join(root, "c1") });
    const counter = countEncoded(encoder);
    const progress: number[] = [];
    const r = await cache.precompute([...images, images[0]], {
      batchSize: 3,
      onProgress: (d) => progress.push(d),
    });
    expect(r).toEqual({ cached: 0, computed: 4, failed: [] });
    expect(counter.images()).toBe(4);
    expect(progress.at(-1)).toBe(4);
    const direct = await encoder.encode([images[2]]);
    const f = await cache.get(images[2]);
    expect(f.grid).toEqual(direct[0].grid);
    expect(f.patches.dims).toEqual([f.grid.rows * f.grid.cols, encoder.hiddenSize]);
    expect(f.patches.data).toEqual(direct[0].patches.data);
    expect(counter.images()).toBe(5); // the direct call above; get() read from disk

    // A new cache object (a later run) over the same directory encodes nothing.
    const again = await FeatureCache.open(encoder, { dir: path.join(root, "c1") });
    expect(await again.precompute(images)).toEqual({ cached: 4, computed: 0, failed: [] });
    expect(counter.images()).toBe(5);
    counter.restore();
  });

  it("encodes in get() on a miss and recomputes a truncated cache file", async () => {
    const cache = await FeatureCache.open(encoder, { dir: path.join(root, "c2") });
    const counter = countEncoded(encoder);
    const first = await cache.get(images[1]);
    expect(counter.images()).toBe(1);
    const files = fs
      .readdirSync(cache.dir, { recursive: true })
      .filter((f) => String(f).endsWith(".safetensors"));
    expect(files).toHaveLength(1);
    const file = path.join(cache.dir, String(files[0]));
    fs.truncateSync(file, fs.statSync(file).size - 7);
    const second = await cache.get(images[1]);
    expect(counter.images()).toBe(2);
    expect(second.patches.data).toEqual(first.patches.data);
    await cache.get(images[1]);
    expect(counter.images()).toBe(2);
    counter.restore();
  });

  it("reports corrupt and missing images instead of stopping, and get() throws ImageError for them", async () => {
    const bad = path.join(root, "bad.png");
    fs.writeFileSync(bad, Buffer.from("\x89PNG\r\n\x1a\n this is not an image"));
    const cache = await FeatureCache.open(encoder, { dir: path.join(root, "c3") });
    const r = await cache.precompute([images[0], bad, path.join(root, "gone.png")]);
    expect(r.computed).toBe(1);
    expect(r.failed.map((f) => path.basename(f.imagePath))).toEqual(["bad.png", "gone.png"]);
    expect(r.failed[0].reason).toContain("bad.png");
    await expect(cache.get(bad)).rejects.toBeInstanceOf(ImageError);
  });

  it("keys features by the encoder's weights and by the image content, not its path", async () => {
    await writeTinySiglip(path.join(root, "enc2"), { variant: "siglip2", seed: 5, towers: ["vision"] });
    const other = await VisionEncoder.load(path.join(root, "enc2"));
    const a = await FeatureCache.open(encoder, { dir: path.join(root, "c4") });
    const b = await FeatureCache.open(other, { dir: path.join(root, "c4") });
    expect(a.encoderKey).not.toBe(b.encoderKey);
    const fa = await a.get(images[0]);
    const fb = await b.get(images[0]);
    expect(fb.patches.data).not.toEqual(fa.patches.data);
    await other.dispose();

    const copy = path.join(root, "copy.png");
    fs.copyFileSync(images[0], copy);
    const counter = countEncoded(encoder);
    expect((await a.get(copy)).patches.data).toEqual(fa.patches.data);
    expect(counter.images()).toBe(0);
    counter.restore();
    // The key follows the ONNX file the session runs: an fp16 encoder gets its own entries.
    const half = await VisionEncoder.load(path.join(root, "enc"), { dtype: "fp16" });
    expect(half.modelFile).toMatch(/vision_model_fp16\.onnx$/);
    expect(await encoderIdentity(half)).not.toBe(await encoderIdentity(encoder));
    await half.dispose();
  });
});
