/**
 * Server limits and security defaults in one options object. Everything is bounded by default: body
 * size, images per request, image bytes and pixels, queued work, time per request.
 */
import { InvalidArgumentError } from "../errors.js";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8080;

export interface ServerLimits {
  /** Largest request body in bytes; larger → 413. Default 32 MiB. */
  maxBodyBytes: number;
  /** Most images in one request (all messages together); more → 400. Default 8. */
  maxImagesPerRequest: number;
  /** Largest encoded image in bytes (data: URL payload or download); larger → 413. Default 20 MiB. */
  maxImageBytes: number;
  /**
   * Largest decoded image in pixels (width × height, read from the header before decoding).
   * Default 4096 × 3072 (12.6 M: a 12-megapixel photo fits; 36 MiB once decoded to RGB).
   */
  maxImagePixels: number;
  /**
   * Most decoded pixels of all a request's images together, checked image by image from the headers
   * before each decode. Default 2²⁵ (33.5 M pixels, 96 MiB of RGB): with `encoderConcurrency` it bounds
   * the memory decoded images may take at once.
   */
  maxRequestPixels: number;
  /** Whole-download deadline for one remote image in ms, redirects included. Default 10 000. */
  imageFetchTimeoutMs: number;
  /**
   * Encoder jobs that run at once: a job decodes a request's images and encodes them (for chat, up to
   * its first token). Default 1 (onnxruntime already uses every core for one job).
   */
  encoderConcurrency: number;
  /**
   * Encoder jobs that may wait for a slot, and chat requests that may wait for a sequence per LLM;
   * one more → 429 before any image is decoded. Default 32.
   */
  maxQueuedJobs: number;
  /** Deadline for a whole request in ms, queueing and streaming included; past it → 408. Default 120 000. */
  requestTimeoutMs: number;
  /**
   * How long one write of a streamed response may wait for the client to read, in ms; a client that
   * stops reading for longer is dropped (its connection destroyed, its generation stopped). Once the
   * request deadline has passed, a stream gets one more second to deliver its error event, then is
   * dropped the same way. Default 30 000.
   */
  streamWriteTimeoutMs: number;
  /**
   * A connection with no traffic in either direction for this long is closed, in ms (Node's socket
   * timeout). Longer than `requestTimeoutMs` by default, so a request waiting silently for its
   * deadline is answered first. Default 130 000.
   */
  socketIdleTimeoutMs: number;
  /** Open connections at once; more are closed as they arrive (Node's `server.maxConnections`). Default 512. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxBodyBytes: 32 * 1024 * 1024,
  maxImagesPerRequest: 8,
  maxImageBytes: 20 * 1024 * 1024,
  maxImagePixels: 4096 * 3072,
  maxRequestPixels: 2 ** 25,
  imageFetchTimeoutMs: 10_000,
  encoderConcurrency: 1,
  maxQueuedJobs: 32,
  requestTimeoutMs: 120_000,
  streamWriteTimeoutMs: 30_000,
  socketIdleTimeoutMs: 130_000,
  maxConnections: 512,
});

/** Fills defaults and checks every value (positive integers; the queue may be 0 = no waiting). */
export function resolveLimits(limits: Partial<ServerLimits> = {}): ServerLimits {
  const out: ServerLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits) as [keyof ServerLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) throw new InvalidArgumentError(`unknown server limit "${key}"`);
    const min = key === "maxQueuedJobs" ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new InvalidArgumentError(`server limit ${key} must be an integer ≥ ${min}, got ${String(value)}`);
    }
    out[key] = value;
  }
  return out;
}

/** Throws a 400 naming the limit when a request carries more images than allowed. */
export function checkImageCount(count: number, limits: Pick<ServerLimits, "maxImagesPerRequest">): void {
  if (count > limits.maxImagesPerRequest) {
    throw new InvalidArgumentError(
      `request holds ${count} images; at most ${limits.maxImagesPerRequest} are allowed per request`,
      { details: { param: "images", limit: limits.maxImagesPerRequest } },
    );
  }
}
