/** Fixed-resolution preprocessing (SigLIP, fixed-res SigLIP 2): resize → rescale → normalize → CHW. */
import { InvalidArgumentError } from "../errors.js";
import { type Tensor, tensor } from "../tensor.js";
import { normalizationTable } from "./normalize.js";
import type { FixedPreprocessorConfig } from "./preprocessor-config.js";
import { resizeRgb } from "./resize.js";
import type { RgbImage } from "./types.js";

/** One image → `pixel_values` [3, H, W] float32. */
export async function preprocessFixed(img: RgbImage, cfg: FixedPreprocessorConfig): Promise<Tensor> {
  const sized = cfg.doResize ? await resizeRgb(img, cfg.width, cfg.height, cfg.resample) : img;
  const { width: w, height: h } = sized;
  const table = normalizationTable(cfg);
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  // [H, W, 3] uint8 → [3, H, W] float32
  for (let i = 0; i < plane; i++) {
    out[i] = table[0][sized.data[i * 3]];
    out[plane + i] = table[1][sized.data[i * 3 + 1]];
    out[2 * plane + i] = table[2][sized.data[i * 3 + 2]];
  }
  return tensor(out, [3, h, w]);
}

/** Several images → `pixel_values` [B, 3, H, W]; all must come out the same size (do_resize on). */
export async function preprocessFixedBatch(
  images: readonly RgbImage[],
  cfg: FixedPreprocessorConfig,
): Promise<Tensor> {
  if (images.length === 0)
    throw new InvalidArgumentError("preprocessFixedBatch needs at least one image, got 0");
  const items = await Promise.all(images.map((img) => preprocessFixed(img, cfg)));
  const [, h, w] = items[0].dims;
  const out = new Float32Array(items.length * 3 * h * w);
  items.forEach((t, b) => {
    if (t.dims[1] !== h || t.dims[2] !== w) {
      throw new InvalidArgumentError(
        `image ${b} preprocessed to ${t.dims[2]}×${t.dims[1]} but image 0 to ${w}×${h}; a batch needs one size`,
      );
    }
    out.set(t.data, b * 3 * h * w);
  });
  return tensor(out, [items.length, 3, h, w]);
}
