/**
 * Loads the images of a request under the server's policy: never local files, remote URLs only when
 * enabled, private addresses refused after DNS resolution, bytes and pixels bounded. Errors name the
 * request field the image came from.
 *
 * Two steps. `fetchRequestImages` runs before the encoder slot is taken: it downloads all of a
 * request's remote images at once, under one deadline for the request (`imageFetchTimeoutMs`), so a
 * slow image host holds no slot. `decodeRequestImages` runs inside the slot, so decoded pixels exist
 * only for the requests that hold one; images decode one after another, each within the pixel budget
 * the request's earlier images left, checked from its header before a single pixel is decoded.
 */
import { ImageError, isVlmkitError, VlmkitError } from "../errors.js";
import { decodeImage } from "../image/decode.js";
import type { RgbImage } from "../image/index.js";
import { type EncodedImage, readSource } from "../image/source.js";
import { resolveLoadImageOptions } from "../image/types.js";
import type { ServerContext } from "./context.js";
import { checkImageCount } from "./limits.js";
import type { ImageRef } from "./schemas/image-ref.js";

type ImageContext = Pick<ServerContext, "limits" | "images">;

/** A request's images before decoding: remote ones already downloaded, `data:` ones as sent. */
export interface FetchedImages {
  readonly refs: readonly ImageRef[];
  /** Downloaded bytes of each remote ref (by index); undefined for `data:` refs. */
  readonly remote: readonly (EncodedImage | undefined)[];
}

/**
 * Checks the count and sources, then downloads every remote image concurrently. All downloads start
 * together with the same `imageFetchTimeoutMs`, so the request has one download deadline; the first
 * failure aborts the others.
 */
export async function fetchRequestImages(
  refs: readonly ImageRef[],
  ctx: ImageContext,
  signal?: AbortSignal,
): Promise<FetchedImages> {
  checkImageCount(refs.length, ctx.limits);
  checkSources(refs, ctx);
  if (!refs.some((ref) => ref.kind === "remote")) return { refs, remote: refs.map(() => undefined) };
  const failed = new AbortController();
  const both = signal ? AbortSignal.any([signal, failed.signal]) : failed.signal;
  const options = resolveLoadImageOptions({
    ...policy(ctx),
    maxPixels: ctx.limits.maxImagePixels,
    signal: both,
  });
  const remote = await Promise.all(
    refs.map(async (ref) => {
      if (ref.kind !== "remote") return undefined;
      try {
        return await readSource(ref.url, options);
      } catch (error) {
        failed.abort(error); // the first failure is the request's answer; the other downloads stop
        throw withParam(error, ref);
      }
    }),
  );
  return { refs, remote };
}

/** Decodes fetched images in order within the request's pixel budget. Run inside the encoder slot. */
export async function decodeRequestImages(
  fetched: FetchedImages,
  ctx: ImageContext,
  signal?: AbortSignal,
): Promise<RgbImage[]> {
  const { maxImagePixels, maxRequestPixels } = ctx.limits;
  const images: RgbImage[] = [];
  let used = 0;
  for (const [i, ref] of fetched.refs.entries()) {
    const left = maxRequestPixels - used;
    const maxPixels = Math.min(maxImagePixels, left);
    let image: RgbImage;
    try {
      const options = resolveLoadImageOptions({ ...policy(ctx), maxPixels, signal });
      const encoded = fetched.remote[i] ?? (await readSource(ref.url, options));
      image = await decodeImage(encoded.bytes, encoded.label, { maxPixels });
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
      throw withParam(error, ref);
    }
    used += image.width * image.height;
    images.push(image);
  }
  return images;
}

/** Fetch then decode, for callers that hold no slot (or take it around both). */
export async function loadRequestImages(
  refs: readonly ImageRef[],
  ctx: ImageContext,
  signal?: AbortSignal,
): Promise<RgbImage[]> {
  return decodeRequestImages(await fetchRequestImages(refs, ctx, signal), ctx, signal);
}

function policy(ctx: ImageContext) {
  return {
    allowLocalFiles: false,
    allowRemote: ctx.images.allowRemote,
    allowPrivateAddresses: ctx.images.allowPrivateAddresses,
    maxBytes: ctx.limits.maxImageBytes,
    timeoutMs: ctx.limits.imageFetchTimeoutMs,
  };
}

/** The error with the request field it came from in front of its message. */
function withParam(error: unknown, ref: ImageRef): unknown {
  if (!isVlmkitError(error) || error.code === "ABORTED") return error;
  return new VlmkitError(error.code, `${ref.param}: ${error.message}`, {
    cause: error,
    details: { ...error.details, param: ref.param },
  });
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
