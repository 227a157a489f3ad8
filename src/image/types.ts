import { InvalidArgumentError } from "../errors.js";

/** A decoded 8-bit sRGB image: `data` is [H, W, 3] RGB, row-major, no padding between rows. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Where an image may come from: a file path, raw bytes, a `data:` URL, or an http(s) URL. */
export type ImageSource = string | URL | Uint8Array;

/** Limits and policy for {@link loadImage}. Every field is optional; defaults are listed per field. */
export interface LoadImageOptions {
  /** Fetch `http:`/`https:` URLs. Default `false`: a URL source is refused with IMAGE_SOURCE_NOT_ALLOWED. */
  allowRemote?: boolean;
  /** Read file paths (and `file:` URLs). Default `true`; the HTTP server passes `false`. */
  allowLocalFiles?: boolean;
  /**
   * Let remote fetches reach private, loopback, link-local, unique-local, multicast, unspecified or
   * otherwise non-public addresses. Default `false`. Checked after DNS resolution, on every redirect.
   */
  allowPrivateAddresses?: boolean;
  /** Largest encoded image accepted, in bytes (file, data: URL or download). Default 20 MiB. */
  maxBytes?: number;
  /** Largest image accepted, in pixels (width × height), checked from the header before decoding. Default 50 M. */
  maxPixels?: number;
  /** Whole-download deadline for remote sources, redirects included, in ms. Default 10 000. */
  timeoutMs?: number;
  /** Most redirects followed for a remote source. Default 3. */
  maxRedirects?: number;
  /** Cancels a download or file read; the promise rejects with AbortError. */
  signal?: AbortSignal;
}

export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
export const DEFAULT_MAX_PIXELS = 50_000_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_REDIRECTS = 3;

/** {@link LoadImageOptions} with every default filled in. */
export type ResolvedLoadImageOptions = Required<Omit<LoadImageOptions, "signal">> & { signal?: AbortSignal };

export function resolveLoadImageOptions(options: LoadImageOptions = {}): ResolvedLoadImageOptions {
  for (const key of ["maxBytes", "maxPixels", "timeoutMs"] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
      throw new InvalidArgumentError(`loadImage option ${key} must be a positive number, got ${String(v)}`);
    }
  }
  const redirects = options.maxRedirects;
  if (redirects !== undefined && !(Number.isInteger(redirects) && redirects >= 0)) {
    throw new InvalidArgumentError(
      `loadImage option maxRedirects must be an integer ≥ 0, got ${String(redirects)}`,
    );
  }
  return {
    allowRemote: options.allowRemote ?? false,
    allowLocalFiles: options.allowLocalFiles ?? true,
    allowPrivateAddresses: options.allowPrivateAddresses ?? false,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxRedirects: options.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
    signal: options.signal,
  };
}
