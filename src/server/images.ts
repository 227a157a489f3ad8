/**
 * Loads the images of a request under the server's policy: never local files, remote URLs only when
 * enabled, private addresses refused after DNS resolution, bytes and pixels bounded. Errors name the
 * request field the image came from.
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
  return Promise.all(
    refs.map(async (ref) => {
      if (ref.kind === "remote" && !ctx.images.allowRemote) {
        throw new ImageError(
          "IMAGE_SOURCE_NOT_ALLOWED",
          `${ref.param}: remote image URLs are disabled on this server (start it with --allow-remote-images); send the image as a data: URL or base64`,
          { details: { param: ref.param } },
        );
      }
      try {
        return await loadImage(ref.url, {
          allowLocalFiles: false,
          allowRemote: ctx.images.allowRemote,
          allowPrivateAddresses: ctx.images.allowPrivateAddresses,
          maxBytes: ctx.limits.maxImageBytes,
          maxPixels: ctx.limits.maxImagePixels,
          timeoutMs: ctx.limits.imageFetchTimeoutMs,
          signal,
        });
      } catch (error) {
        if (!isVlmkitError(error) || error.code === "ABORTED") throw error;
        throw new VlmkitError(error.code, `${ref.param}: ${error.message}`, {
          cause: error,
          details: { ...error.details, param: ref.param },
        });
      }
    }),
  );
}
