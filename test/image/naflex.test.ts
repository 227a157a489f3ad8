import { describe, expect, it } from "vitest";
import { naflexTargetSize, preprocessNaflex, preprocessNaflexBatch } from "../../src/image/naflex.js";
import {
  type NaflexPreprocessorConfig,
  parsePreprocessorConfig,
} from "../../src/image/preprocessor-config.js";
import type { RgbImage } from "../../src/image/types.js";

// (H, W, max_num_patches) → (target H, target W) with patch 16, computed by an independent Python
// implementation of the reference binary search (scripts/make-pil-reference.py prints this table).
const TARGETS: [number, number, number, number, number][] = [
  [224, 224, 256, 256, 256],
  [100, 1000, 256, 80, 800],
  [1000, 100, 256, 800, 80],
  [10, 10, 256, 256, 256],
  [480, 640, 1024, 432, 576],
  [1, 5000, 256, 16, 4096],
  [5000, 1, 256, 4096, 16],
  [240, 320, 256, 224, 288],
  [240, 320, 64, 112, 144],
  [768, 1024, 576, 336, 432],
  [17, 33, 1, 16, 16],
  [3000, 2000, 729, 528, 352],
  [512, 512, 1024, 512, 512],
];

describe("naflexTargetSize", () => {
  it.each(TARGETS)("%i×%i with %i patches → %i×%i", (h, w, m, th, tw) => {
    expect(naflexTargetSize(h, w, 16, m)).toEqual([th, tw]);
    expect((th / 16) * (tw / 16)).toBeLessThanOrEqual(m);
  });

  it("rejects non-positive or fractional arguments with the value in the message", () => {
    expect(() => naflexTargetSize(0, 10, 16, 256)).toThrow(/height must be a positive integer, got 0/);
    expect(() => naflexTargetSize(10, 10, 16, 2.5)).toThrow(/maxNumPatches .* got 2.5/);
  });
});

/** A 2p × 3p image whose pixel (y, x, c) holds y·16 + x·4 + c (all distinct below 256 for p = 2). */
function codedImage(p: number, rows: number, cols: number): RgbImage {
  const width = cols * p;
  const height = rows * p;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = y * 16 + x * 4 + c;
  }
  return { data, width, height };
}

const identity = (p: number, maxNumPatches: number): NaflexPreprocessorConfig => ({
  ...(parsePreprocessorConfig({
    image_processor_type: "Siglip2ImageProcessor",
    patch_size: p,
    max_num_patches: maxNumPatches,
  }) as NaflexPreprocessorConfig),
  // No resize and rescale 1 / normalize off leave raw pixel values, so positions can be read back.
  doResize: false,
  doRescale: false,
  doNormalize: false,
});

describe("preprocessNaflex", () => {
  it("orders patches row-major over the grid and each vector as (row, col, channel); pads with zeros", async () => {
    const p = 2;
    const out = await preprocessNaflex(codedImage(p, 2, 3), identity(p, 8));
    expect(out.spatialShape).toEqual([2, 3]);
    expect(out.pixelValues.dims).toEqual([8, 12]);
    expect([...out.mask]).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    for (let py = 0; py < 2; py++) {
      for (let px = 0; px < 3; px++) {
        const row = out.pixelValues.data.subarray((py * 3 + px) * 12, (py * 3 + px + 1) * 12);
        const expected: number[] = [];
        for (let y = 0; y < p; y++)
          for (let x = 0; x < p; x++)
            for (let c = 0; c < 3; c++) expected.push((py * p + y) * 16 + (px * p + x) * 4 + c);
        expect([...row]).toEqual(expected);
      }
    }
    expect(out.pixelValues.data.subarray(6 * 12).every((v) => v === 0)).toBe(true);
  });

  it("resizes to the target size and normalizes to [-1, 1]", async () => {
    const cfg = parsePreprocessorConfig({
      image_processor_type: "Siglip2ImageProcessor",
    }) as NaflexPreprocessorConfig;
    const img: RgbImage = { data: new Uint8Array(100 * 1000 * 3).fill(255), width: 1000, height: 100 };
    const out = await preprocessNaflex(img, cfg);
    expect(out.spatialShape).toEqual([5, 50]);
    expect(out.pixelValues.dims).toEqual([256, 768]);
    expect(out.mask.reduce((a, b) => a + b, 0)).toBe(250);
    expect(out.pixelValues.data[0]).toBe(1);
    expect(out.pixelValues.data[250 * 768]).toBe(0);
  });

  it("refuses an unresized image that does not split into patches", async () => {
    const cfg = identity(16, 256);
    const img: RgbImage = { data: new Uint8Array(20 * 20 * 3), width: 20, height: 20 };
    await expect(preprocessNaflex(img, cfg)).rejects.toThrow(/20×20 does not split/);
  });

  it("batches to [B, M, 3p²], [B, M] and [B, 2]", async () => {
    const p = 2;
    const batch = await preprocessNaflexBatch([codedImage(p, 2, 3), codedImage(p, 1, 1)], identity(p, 8));
    expect(batch.pixelValues.dims).toEqual([2, 8, 12]);
    expect(batch.mask.dims).toEqual([2, 8]);
    expect([...batch.mask.data]).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect([...batch.spatialShapes.data]).toEqual([2, 3, 1, 1]);
    // Second image's first patch starts at offset 8·12 and holds pixel (0, 0).
    expect([...batch.pixelValues.data.subarray(96, 99)]).toEqual([0, 1, 2]);
  });
});
