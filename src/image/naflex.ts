/**
 * SigLIP 2 NaFlex preprocessing: aspect-preserving resize to at most `maxNumPatches` patches,
 * rescale → normalize → patchify, zero-padded to `maxNumPatches` with an attention mask.
 * Mirrors transformers `models/siglip2/image_processing_siglip2.py`.
 */
import { InvalidArgumentError } from "../errors.js";
import { type Tensor, tensor } from "../tensor.js";
import { normalizationTable } from "./normalize.js";
import type { NaflexPreprocessorConfig } from "./preprocessor-config.js";
import { resizeRgb } from "./resize.js";
import type { RgbImage } from "./types.js";

/** An int32 tensor (masks, spatial shapes) with its dims. */
export interface IntTensor {
  readonly data: Int32Array;
  readonly dims: readonly number[];
}

export interface NaflexImage {
  /** [maxNumPatches, 3·p²]; rows past the real patches are zeros. */
  pixelValues: Tensor;
  /** [maxNumPatches]: 1 for a real patch, 0 for padding (`pixel_attention_mask`). */
  mask: Int32Array;
  /** Patch grid (nH, nW) of the resized image (`spatial_shapes`). */
  spatialShape: [number, number];
}

export interface NaflexBatch {
  /** [B, maxNumPatches, 3·p²] */
  pixelValues: Tensor;
  /** [B, maxNumPatches] */
  mask: IntTensor;
  /** [B, 2] rows of (nH, nW) */
  spatialShapes: IntTensor;
}

/**
 * The (height, width) NaFlex resizes to: binary search over a scale in [1e-6, 100] until the interval
 * is below 1e-5, each side becoming max(p, ceil(side·scale / p)·p), keeping the largest scale whose
 * patch count fits in `maxNumPatches`.
 */
export function naflexTargetSize(
  height: number,
  width: number,
  patchSize: number,
  maxNumPatches: number,
): [number, number] {
  for (const [name, v] of Object.entries({ height, width, patchSize, maxNumPatches })) {
    if (!(Number.isInteger(v) && v > 0))
      throw new InvalidArgumentError(`naflexTargetSize: ${name} must be a positive integer, got ${v}`);
  }
  const eps = 1e-5;
  const side = (scale: number, size: number) =>
    Math.max(patchSize, Math.ceil((size * scale) / patchSize) * patchSize);
  let lo = eps / 10;
  let hi = 100;
  while (hi - lo >= eps) {
    const scale = (lo + hi) / 2;
    const patches = (side(scale, height) / patchSize) * (side(scale, width) / patchSize);
    if (patches <= maxNumPatches) lo = scale;
    else hi = scale;
  }
  return [side(lo, height), side(lo, width)];
}

/** One image → padded patches, mask and patch grid. */
export async function preprocessNaflex(img: RgbImage, cfg: NaflexPreprocessorConfig): Promise<NaflexImage> {
  const p = cfg.patchSize;
  let sized = img;
  if (cfg.doResize) {
    const [h, w] = naflexTargetSize(img.height, img.width, p, cfg.maxNumPatches);
    sized = await resizeRgb(img, w, h, cfg.resample);
  }
  const nH = sized.height / p;
  const nW = sized.width / p;
  if (!Number.isInteger(nH) || !Number.isInteger(nW) || nH * nW > cfg.maxNumPatches) {
    throw new InvalidArgumentError(
      `image of ${sized.width}×${sized.height} does not split into at most ${cfg.maxNumPatches} patches of ${p}×${p}; ` +
        "enable do_resize or pass an image whose sides are multiples of the patch size",
    );
  }
  const table = normalizationTable(cfg);
  const dim = 3 * p * p;
  const values = new Float32Array(cfg.maxNumPatches * dim);
  // [H, W, 3] → [nH, p, nW, p, 3] → [nH, nW, p, p, 3] → [nH·nW, p·p·3]
  for (let py = 0; py < nH; py++) {
    for (let px = 0; px < nW; px++) {
      let o = (py * nW + px) * dim;
      for (let y = 0; y < p; y++) {
        let s = ((py * p + y) * sized.width + px * p) * 3;
        for (let x = 0; x < p; x++) {
          values[o++] = table[0][sized.data[s++]];
          values[o++] = table[1][sized.data[s++]];
          values[o++] = table[2][sized.data[s++]];
        }
      }
    }
  }
  const mask = new Int32Array(cfg.maxNumPatches);
  mask.fill(1, 0, nH * nW);
  return { pixelValues: tensor(values, [cfg.maxNumPatches, dim]), mask, spatialShape: [nH, nW] };
}

/** Several images → `pixel_values` [B, maxNumPatches, 3p²], `pixel_attention_mask` [B, maxNumPatches], `spatial_shapes` [B, 2]. */
export async function preprocessNaflexBatch(
  images: readonly RgbImage[],
  cfg: NaflexPreprocessorConfig,
): Promise<NaflexBatch> {
  if (images.length === 0)
    throw new InvalidArgumentError("preprocessNaflexBatch needs at least one image, got 0");
  const items = await Promise.all(images.map((img) => preprocessNaflex(img, cfg)));
  const b = items.length;
  const m = cfg.maxNumPatches;
  const dim = 3 * cfg.patchSize * cfg.patchSize;
  const values = new Float32Array(b * m * dim);
  const mask = new Int32Array(b * m);
  const shapes = new Int32Array(b * 2);
  items.forEach((item, i) => {
    values.set(item.pixelValues.data, i * m * dim);
    mask.set(item.mask, i * m);
    shapes[i * 2] = item.spatialShape[0];
    shapes[i * 2 + 1] = item.spatialShape[1];
  });
  return {
    pixelValues: tensor(values, [b, m, dim]),
    mask: { data: mask, dims: [b, m] },
    spatialShapes: { data: shapes, dims: [b, 2] },
  };
}
