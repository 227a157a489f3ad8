import { readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { preprocessFixed, preprocessFixedBatch } from "../../src/image/fixed.js";
import { loadImage } from "../../src/image/load.js";
import { preprocessNaflex } from "../../src/image/naflex.js";
import { resampleHeight, resampleWidth } from "../../src/image/pil-resample.js";
import {
  type FixedPreprocessorConfig,
  type NaflexPreprocessorConfig,
  parsePreprocessorConfig,
} from "../../src/image/preprocessor-config.js";
import { resizeRgb } from "../../src/image/resize.js";

// Fixtures from scripts/make-pil-reference.py (Pillow 9.4, transformers' slow-processor arithmetic).
// Regenerate with `/usr/bin/python3 scripts/make-pil-reference.py` (Debian's python3-pil, python3-numpy).
const dir = path.join(import.meta.dirname, "../fixtures/image");
interface Case {
  name: string;
  file: string;
  dims: number[];
  kind: "fixed" | "naflex";
  resample: "bilinear" | "bicubic";
  height: number;
  width: number;
  image?: string;
  maxNumPatches?: number;
  numPatches?: number;
}
const reference = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as {
  image: string;
  cases: Case[];
};

function expected(c: Case): Float32Array {
  const buf = gunzipSync(readFileSync(path.join(dir, c.file)));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

function diff(a: Float32Array, b: Float32Array) {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

// Thresholds set from measurement (docs/preprocessing.md) with some headroom; one uint8 level is
// 2/255 ≈ 0.0078 after normalization. Shrinking goes through libvips: a wrong kernel (e.g. cubic for
// bilinear: mean 0.0115) or a half-pixel shift (mean ≈ 0.01) fails them. Growing uses PIL's own
// arithmetic and must be exact; the mixed case grows the width exactly and shrinks the height in libvips.
const LIMITS: Record<string, { mean: number; max: number }> = {
  "fixed-224-bilinear": { mean: 0.001, max: 0.024 }, // measured 0.00051 / 0.0157
  "fixed-224-bicubic": { mean: 0.002, max: 0.16 }, // measured 0.00132 / 0.149
  "naflex-256": { mean: 0.0012, max: 0.032 }, // measured 0.00078 / 0.0235
  "naflex-64": { mean: 0.0018, max: 0.024 }, // measured 0.00120 / 0.0157
  "naflex-256-upsample": { mean: 0, max: 0 },
  "fixed-224-bilinear-upscale": { mean: 0, max: 0 },
  "fixed-224-bicubic-upscale": { mean: 0, max: 0 },
  "fixed-224x32-bicubic-mixed": { mean: 0.0008, max: 0.04 }, // measured 0.00044 / 0.0314
  "naflex-256-upscale": { mean: 0, max: 0 },
};

describe("preprocessing matches PIL (transformers slow processors)", () => {
  it.each(reference.cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const img = await loadImage(path.join(dir, c.image ?? reference.image));
    const want = expected(c);
    let got: Float32Array;
    if (c.kind === "fixed") {
      const cfg = parsePreprocessorConfig({
        size: { height: c.height, width: c.width },
        resample: c.resample === "bilinear" ? 2 : 3,
      }) as FixedPreprocessorConfig;
      const t = await preprocessFixed(img, cfg);
      expect(t.dims).toEqual(c.dims);
      got = t.data;
    } else {
      const cfg = parsePreprocessorConfig({
        image_processor_type: "Siglip2ImageProcessor",
        max_num_patches: c.maxNumPatches,
      }) as NaflexPreprocessorConfig;
      const out = await preprocessNaflex(img, cfg);
      expect(out.spatialShape).toEqual([c.height / 16, c.width / 16]);
      expect(out.pixelValues.dims).toEqual(c.dims);
      expect(out.mask.reduce((a, b) => a + b, 0)).toBe(c.numPatches);
      got = out.pixelValues.data;
    }
    const d = diff(got, want);
    expect(d.mean).toBeLessThanOrEqual(LIMITS[c.name].mean);
    expect(d.max).toBeLessThanOrEqual(LIMITS[c.name].max);
  });

  it("enlarges centre-aligned: a 4-pixel ramp grown 4× gives PIL's values", async () => {
    const ramp = { data: new Uint8Array([0, 40, 80, 120].flatMap((v) => [v, v, v])), width: 4, height: 1 };
    const out = await resizeRgb(ramp, 16, 1, "bilinear");
    // Output x samples input (x + 0.5)/4 − 0.5, clamped at the borders: x = 2 → 0.125 → 5.
    // (A corner-aligned grid, x/4, gives 0 10 20 … instead.)
    expect([...out.data.filter((_, i) => i % 3 === 0)]).toEqual([
      0, 0, 5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 105, 115, 120, 120,
    ]);
  });

  it.each(["bilinear", "bicubic"] as const)(
    "PIL's resampling passes reproduce the %s reference bit for bit when shrinking too",
    async (resample) => {
      const c = reference.cases.find((k) => k.name === `fixed-224-${resample}`) as Case;
      const img = await loadImage(path.join(dir, reference.image));
      const sized = resampleHeight(resampleWidth(img, c.width, resample), c.height, resample);
      const cfg = parsePreprocessorConfig({
        size: { height: c.height, width: c.width },
      }) as FixedPreprocessorConfig;
      expect(diff((await preprocessFixed(sized, cfg)).data, expected(c))).toEqual({ mean: 0, max: 0 });
    },
  );

  it("normalization is bit-exact: an unresized image gives exactly the reference floats", async () => {
    const img = await loadImage(path.join(dir, reference.image));
    const cfg = parsePreprocessorConfig({ size: { height: 240, width: 320 } }) as FixedPreprocessorConfig;
    const t = await preprocessFixed(img, cfg);
    // Pixel (0, 0) is (0, 0, 127.5 + 127.5·sin 0·cos 0 → 128): (v/255 − 0.5)/0.5 in float32.
    expect(t.data[0]).toBe(-1);
    expect(t.data[2 * 240 * 320]).toBe(Math.fround(Math.fround(Math.fround(128 / 255) - 0.5) / 0.5));
  });

  it("batches fixed-resolution images to [B, 3, H, W] in order", async () => {
    const img = await loadImage(path.join(dir, reference.image));
    const small = await loadImage(path.join(dir, "reference-40x30.png"));
    const cfg = parsePreprocessorConfig({ size: { height: 32, width: 32 } }) as FixedPreprocessorConfig;
    const batch = await preprocessFixedBatch([img, small], cfg);
    expect(batch.dims).toEqual([2, 3, 32, 32]);
    const second = await preprocessFixed(small, cfg);
    expect(batch.data.subarray(3 * 32 * 32)).toEqual(second.data);
  });
});
