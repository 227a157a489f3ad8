/**
 * Loads the images of a request under the server's policy: never local files, remote URLs only when
 * enabled, private addresses refused after DNS resolution, bytes and pixels bounded. Errors name the
 * request field the image came from.
 *
 * Callers run this inside an encoder-queue slot, so decoded pixels exist only for the requests that
 * hold a slot. Images load one after another: each decode may use only the pixel budget the
 * request's earlier images left, checked from its header before a single pixel is decoded.
 */
import { ImageError, isVlmkitError, VlmkitError } from "../errors.js";
import { loadImage, type RgbImage } from "../image/index.js";
import type { ServerContext } from "./context.js";
import { checkImageCount } from "./limits.js";
import type { ImageRef } from "./schemas/image-ref.js";

export async function loadRequestImages(
  refs: readonly ImageRef[],
  ctx: Pick<ServerContext, "limits" | "images">,
  signal?: AbortSignal,
): Promise<RgbImage[]> {
  checkImageCount(refs.length, ctx.limits);
  checkSources(refs, ctx);
  const { maxImagePixels, maxRequestPixels } = ctx.limits;
  const images: RgbImage[] = [];
  let used = 0;
  for (const ref of refs) {
    const left = maxRequestPixels - used;
    const maxPixels = Math.min(maxImagePixels, left);
    let image: RgbImage;
    try {
      image = await loadImage(ref.url, {
        allowLocalFiles: false,
        allowRemote: ctx.images.allowRemote,
        allowPrivateAddresses: ctx.images.allowPrivateAddresses,
        maxBytes: ctx.limits.maxImageBytes,
        maxPixels,
        timeoutMs: ctx.limits.imageFetchTimeoutMs,
        signal,
      });
    } catch (error) {
      if (!isVlmkitError(error) || error.code === "ABORTED") throw error;
      if (error.code === "IMAGE_TOO_LARGE" && maxPixels < maxImagePixels && isPixelError(error)) {
        const { width, height } = error.details as { width: number; height: number };
        throw new ImageError(
          "IMAGE_TOO_LARGE",
          `${ref.param}: image is ${width}×${height} = ${width * height} pixels, but the request's earlier images already take ${used} of the ${maxRequestPixels} pixels a request may decode (maxRequestPixels); send smaller or fewer images`,
          { cause: error, details: { param: ref.param, width, height, used, maxRequestPixels } },
        );
      }
      throw new VlmkitError(error.code, `${ref.param}: ${error.message}`, {
        cause: error,
        details: { ...error.details, param: ref.param },
      });
    }
    used += image.width * image.height;
    images.push(image);
  }
  return images;
}

/** Refuses remote URLs when they are off, for every image, before anything is fetched or decoded. */
function checkSources(refs: readonly ImageRef[], ctx: Pick<ServerContext, "images">): void {
  const remote = refs.find((ref) => ref.kind === "remote");
  if (remote && !ctx.images.allowRemote) {
    throw new ImageError(
      "IMAGE_SOURCE_NOT_ALLOWED",
      `${remote.param}: remote image URLs are disabled on this server (start it with --allow-remote-images); send the image as a data: URL or base64`,
      { details: { param: remote.param } },
    );
  }
}

/** The decoder's pixel-limit error (not the byte limit, which has the same code). */
function isPixelError(error: VlmkitError): boolean {
  const d = error.details as { width?: unknown; height?: unknown } | undefined;
  return typeof d?.width === "number" && typeof d?.height === "number";
}
