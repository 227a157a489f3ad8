/**
 * Decodes encoded bytes into an 8-bit RGB {@link RgbImage} with sharp, the way the reference loader
 * (transformers `load_image`: `ImageOps.exif_transpose` then `convert("RGB")`) sees the image:
 * EXIF orientation applied, first frame only, alpha dropped (not composited), grey replicated to
 * three channels, 16-bit reduced to 8-bit, CMYK converted with PIL's formula, ICC profiles ignored.
 */
import sharp, { type Metadata } from "sharp";
import { ImageError } from "../errors.js";
import { cmykToRgb } from "./colour.js";
import type { RgbImage } from "./types.js";

/** Formats decoded; others (SVG, PDF, raw VIPS, ...) are refused. BMP is not decodable by sharp. */
export const ACCEPTED_FORMATS = ["jpeg", "png", "webp", "gif", "tiff", "avif"] as const;

export interface DecodeLimits {
  /** Largest width × height accepted (of the first frame), checked from the header. */
  maxPixels: number;
}

export async function decodeImage(bytes: Uint8Array, label: string, limits: DecodeLimits): Promise<RgbImage> {
  if (bytes.length === 0) throw new ImageError("IMAGE_EMPTY", `image ${label} is empty (0 bytes)`);
  const header = await readHeader(bytes, label);
  const format = acceptedFormat(header, bytes, label);
  const width = header.width ?? 0;
  const height = header.pageHeight ?? header.height ?? 0;
  if (width <= 0 || height <= 0) {
    throw new ImageError("IMAGE_CORRUPT", `image ${label} (${format}) has no valid dimensions in its header`);
  }
  // Checked from the header so a decompression bomb is refused before any pixel is decoded.
  if (width * height > limits.maxPixels) {
    throw new ImageError(
      "IMAGE_TOO_LARGE",
      `image ${label} is ${width}×${height} = ${width * height} pixels; the limit is maxPixels = ${limits.maxPixels}`,
      { details: { width, height, maxPixels: limits.maxPixels } },
    );
  }
  const input = () =>
    sharp(bytes, {
      autoOrient: true,
      limitInputPixels: limits.maxPixels,
      failOn: "error",
      // PIL's convert("RGB") ignores embedded profiles; so do we, to see the same numbers.
      ignoreIcc: true,
      pages: 1,
    });
  try {
    if (header.space === "cmyk") {
      // Keep the stored CMYK values (no profile round trip) and convert like PIL does.
      const { data, info } = await input()
        .pipelineColourspace("cmyk")
        .toColourspace("cmyk")
        .raw()
        .toBuffer({ resolveWithObject: true });
      const pixels = info.width * info.height;
      return { data: cmykToRgb(data, pixels, info.channels), width: info.width, height: info.height };
    }
    // [H, W, C] in any space and depth → [H, W, 3] uchar sRGB; alpha is dropped, not composited.
    const { data, info } = await input()
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageError(
        "IMAGE_UNSUPPORTED",
        `image ${label} decoded to ${info.channels} channels; expected 3`,
      );
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError(
      "IMAGE_CORRUPT",
      `image ${label} (${format}) could not be decoded: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
}

async function readHeader(bytes: Uint8Array, label: string): Promise<Metadata> {
  try {
    return await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    const message = messageOf(error);
    if (/unsupported image format/i.test(message)) {
      const kind = sniffUnsupported(bytes);
      throw new ImageError(
        "IMAGE_UNSUPPORTED",
        `image ${label} is ${kind ?? "not in a recognised image format"}; expected one of ${ACCEPTED_FORMATS.join(", ")}`,
        { cause: error },
      );
    }
    throw new ImageError("IMAGE_CORRUPT", `image ${label} has an unreadable header: ${message}`, {
      cause: error,
    });
  }
}

function acceptedFormat(header: Metadata, bytes: Uint8Array, label: string): string {
  let format: string = header.format ?? "unknown";
  // sharp reports AVIF as "heif"; HEIC (HEVC-coded) is a different codec that the prebuilt sharp lacks.
  if (format === "heif")
    format = header.compression === "av1" ? "avif" : `heif (${header.compression ?? "?"})`;
  if (!(ACCEPTED_FORMATS as readonly string[]).includes(format)) {
    const kind = sniffUnsupported(bytes) ?? format;
    throw new ImageError(
      "IMAGE_UNSUPPORTED",
      `image ${label} is ${kind}; expected one of ${ACCEPTED_FORMATS.join(", ")}`,
      { details: { format } },
    );
  }
  return format;
}

/** Names a few formats users commonly send that are refused, for a clearer message. */
function sniffUnsupported(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.subarray(0, 256)).toString("latin1");
  if (head.startsWith("BM")) return "a BMP image (not supported; convert it to PNG)";
  if (head.startsWith("%PDF")) return "a PDF document (not an image)";
  if (/^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/i.test(head) || /<svg[\s>]/i.test(head)) {
    return "an SVG document (vector images are refused: rendering can reach external resources)";
  }
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}
