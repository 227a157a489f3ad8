import { decodeImage } from "./decode.js";
import { readSource } from "./source.js";
import { type ImageSource, type LoadImageOptions, type RgbImage, resolveLoadImageOptions } from "./types.js";

/**
 * Reads and decodes an image from a file path, bytes, a `data:` URL or (when `allowRemote`) an http(s)
 * URL into 8-bit RGB. Every failure is an `ImageError` (or `AbortError` when `signal` fires) whose
 * message names the source without dumping its data.
 */
export async function loadImage(source: ImageSource, options: LoadImageOptions = {}): Promise<RgbImage> {
  const resolved = resolveLoadImageOptions(options);
  const { bytes, label } = await readSource(source, resolved);
  return decodeImage(bytes, label, { maxPixels: resolved.maxPixels });
}
