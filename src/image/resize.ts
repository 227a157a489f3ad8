/**
 * Resizes an {@link RgbImage} as PIL does (what the reference processors use): a side that shrinks goes
 * to libvips (sharp), whose antialiased kernels are within a fraction of a level of PIL's and much
 * faster on large photos; a side that grows goes to {@link resampleWidth}/{@link resampleHeight},
 * PIL's own arithmetic, because libvips enlarges corner-aligned where PIL is centre-aligned.
 */
import sharp from "sharp";
import { InvalidArgumentError } from "../errors.js";
import { resampleHeight, resampleWidth } from "./pil-resample.js";
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
 * The kernel used per PIL filter when shrinking, chosen by measurement against PIL
 * (docs/preprocessing.md): libvips' `linear` and `cubic` (Catmull-Rom, like PIL's a = −0.5) are, like
 * PIL, antialiased when shrinking and centre-aligned.
 */
export const KERNEL_FOR_RESAMPLE: Record<Resample, SharpKernel> = { bilinear: "linear", bicubic: "cubic" };

/** Shrinks (or keeps) both sides with libvips. */
// [H, W, 3] → [height, width, 3]
async function shrink(img: RgbImage, width: number, height: number, resample: Resample): Promise<RgbImage> {
  if (img.width === width && img.height === height) return img;
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: "fill", kernel: KERNEL_FOR_RESAMPLE[resample] })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  };
}

/** Resizes straight to `width` × `height` (aspect ratio not kept). Output is again uint8, as PIL's is. */
// [H, W, 3] → [height, width, 3]
export async function resizeRgb(
  img: RgbImage,
  width: number,
  height: number,
  resample: Resample,
): Promise<RgbImage> {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new InvalidArgumentError(`resize target must be positive integers, got ${width}×${height}`);
  }
  if (width <= img.width && height <= img.height) return shrink(img, width, height, resample);
  // A side grows. PIL resamples the width, then the height, through a uint8 image; so do we, each pass
  // by whichever of the two implementations suits its direction.
  const wide =
    width > img.width ? resampleWidth(img, width, resample) : await shrink(img, width, img.height, resample);
  return height > img.height ? resampleHeight(wide, height, resample) : shrink(wide, width, height, resample);
}
