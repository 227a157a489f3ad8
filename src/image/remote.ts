/**
 * Downloads an image over http(s) with bounded size, bounded time and re-checked redirects.
 * node:http is used rather than global fetch because it takes a custom `lookup`, which is how the
 * address policy sees (and pins) the resolved address.
 */
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { AbortError, ImageError } from "../errors.js";
import { assertAddressAllowed, checkedLookup } from "./address-policy.js";
import type { ResolvedLoadImageOptions } from "./types.js";

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Fetches `url` and returns its body; every failure is an ImageError naming the host. */
export async function fetchRemote(url: URL, options: ResolvedLoadImageOptions): Promise<Uint8Array> {
  if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  let current = url;
  try {
    for (let hop = 0; ; hop++) {
      assertHttpUrl(current);
      const response = await request(current, options, signal);
      const status = response.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status)) {
        response.resume();
        const location = response.headers.location;
        if (!location) throw fetchFailed(current, `redirect ${status} without a Location header`);
        if (hop >= options.maxRedirects) {
          throw fetchFailed(current, `more than ${options.maxRedirects} redirects`);
        }
        current = new URL(location, current);
        continue;
      }
      if (status !== 200) {
        response.resume();
        throw fetchFailed(current, `HTTP status ${status}`, { status });
      }
      return await readBody(response, current, options.maxBytes, signal);
    }
  } catch (error) {
    throw toImageError(error, current, options, deadline);
  }
}

function assertHttpUrl(url: URL): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ImageError(
      "IMAGE_SOURCE_NOT_ALLOWED",
      `image URL scheme ${JSON.stringify(url.protocol)} is not allowed for remote images; expected http: or https:`,
    );
  }
}

function request(
  url: URL,
  options: ResolvedLoadImageOptions,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  // IP literals never reach `lookup`, so they are checked here.
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (net.isIP(host)) assertAddressAllowed(host, host, options.allowPrivateAddresses);
  const get = url.protocol === "https:" ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = get(url, {
      lookup: checkedLookup(options.allowPrivateAddresses),
      signal,
      // A fresh connection per request: a pooled socket could point at an address checked for another host.
      agent: false,
      headers: { accept: "image/*", "user-agent": "vlmkit" },
    });
    req.once("response", resolve);
    req.once("error", reject);
  });
}

async function readBody(
  response: http.IncomingMessage,
  url: URL,
  maxBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const declared = Number(response.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw tooLarge(url, `declares ${declared} bytes`, maxBytes);
  }
  const onAbort = () =>
    response.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of response as AsyncIterable<Buffer>) {
      total += chunk.length;
      // Stop reading as soon as the limit is passed instead of buffering the rest.
      if (total > maxBytes) {
        response.destroy();
        throw tooLarge(url, `sent more than ${maxBytes} bytes`, maxBytes);
      }
      chunks.push(chunk);
    }
    if (signal.aborted) throw signal.reason;
    return Buffer.concat(chunks, total);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function tooLarge(url: URL, what: string, maxBytes: number): ImageError {
  return new ImageError(
    "IMAGE_TOO_LARGE",
    `image from host ${url.host} ${what}; the limit is maxBytes = ${maxBytes}`,
    {
      details: { host: url.host, maxBytes },
    },
  );
}

function fetchFailed(
  url: URL,
  why: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): ImageError {
  return new ImageError("IMAGE_FETCH_FAILED", `could not fetch image from host ${url.host}: ${why}`, {
    cause,
    details: { host: url.host, ...details },
  });
}

function toImageError(
  error: unknown,
  url: URL,
  options: ResolvedLoadImageOptions,
  deadline: AbortSignal,
): ImageError | AbortError {
  if (error instanceof ImageError || error instanceof AbortError) return error;
  if (options.signal?.aborted) return new AbortError(undefined, { cause: options.signal.reason });
  if (deadline.aborted) {
    return fetchFailed(
      url,
      `timed out after ${options.timeoutMs} ms`,
      { timeoutMs: options.timeoutMs },
      error,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return fetchFailed(url, message, {}, error);
}
