/** Resizes an {@link RgbImage} with sharp, choosing the kernel that best matches PIL's filter. */
import sharp from "sharp";
import { InvalidArgumentError } from "../errors.js";
import type { Resample } from "./preprocessor-config.js";
import type { RgbImage } from "./types.js";

/** sharp kernel names that can stand in for a PIL resample filter. */
export type SharpKernel =
  | "nearest"
  | "linear"
  | "cubic"
  | "mitchell"
  | "lanczos2"
  | "lanczos3"
  | "mks2013"
  | "mks2021";

/**
 * The kernel used per PIL filter, chosen by measurement against PIL (docs/preprocessing.md):
 * libvips' `linear` and `cubic` (Catmull-Rom, like PIL's a = −0.5) are, like PIL, antialiased when
 * shrinking and centre-aligned.
 */
export const KERNEL_FOR_RESAMPLE: Record<Resample, SharpKernel> = { bilinear: "linear", bicubic: "cubic" };

/** Resizes straight to `width` × `height` (aspect ratio not kept). Output is again uint8, as PIL's is. */
// [H, W, 3] → [height, width, 3]
export async function resizeRgb(
  img: RgbImage,
  width: number,
  height: number,
  resample: Resample | SharpKernel,
): Promise<RgbImage> {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new InvalidArgumentError(`resize target must be positive integers, got ${width}×${height}`);
  }
  if (img.width === width && img.height === height) return img;
  const kernel = resample === "bilinear" || resample === "bicubic" ? KERNEL_FOR_RESAMPLE[resample] : resample;
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: "fill", kernel })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  };
}
