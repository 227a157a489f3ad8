/**
 * HTTP for the hub: manual redirects (so credentials never follow a redirect to another host, as in
 * huggingface_hub's `_get_metadata_or_catch_error`), and hub answers turned into HubErrors.
 */
import { AbortError, HubError } from "../errors.js";

/** What a request was for, so errors can name the repo, file and revision. */
export interface FileRef {
  repo: string;
  file: string;
  revision: string;
}

export interface HubRequest {
  method: "HEAD" | "GET";
  headers?: Record<string, string>;
  /** Sent as `Authorization: Bearer …`, and only to `tokenHost`. */
  token?: string;
  /** The hub's `host[:port]`; redirects or CDN URLs on any other host get no token. */
  tokenHost: string;
  signal?: AbortSignal;
  /**
   * `all`: follow every redirect (downloads). `same-host`: stop at a redirect to another host and return
   * it, which is how a HEAD learns the CDN location and the X-Linked-* headers of an LFS file.
   */
  follow: "all" | "same-host";
}

export interface HubResponse {
  response: Response;
  /** URL of the request that produced `response`. */
  url: string;
}

const MAX_REDIRECTS = 10;
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

/** The errno-like code of a failed fetch (undici puts it on `cause`, dual-stack hosts on `cause.errors`). */
export function networkErrorCode(error: unknown, depth = 0): string | undefined {
  if (!error || typeof error !== "object" || depth > 4) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
  for (const inner of Array.isArray(errors) ? errors : []) {
    const found = networkErrorCode(inner, depth + 1);
    if (found) return found;
  }
  return networkErrorCode(cause, depth + 1);
}

export function isAbort(error: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (error instanceof Error && error.name === "AbortError");
}

export function hostOf(url: string): string {
  return new URL(url).host;
}

/**
 * A URL as errors may show it: without user:password, query string and fragment. A signed CDN URL
 * carries its authorization in the query (`X-Amz-Signature=…`), which must not reach logs or clients.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/** `text` with every occurrence of `url` (as given, as parsed) replaced by its redacted form. */
function redact(text: string, url: string): string {
  let out = text;
  for (const form of [url, safeHref(url)]) if (form) out = out.split(form).join(redactUrl(url));
  return out;
}

function safeHref(url: string): string | undefined {
  try {
    return new URL(url).href;
  } catch {
    return undefined;
  }
}

/** Performs one logical request, following redirects by hand. Throws only for network failures. */
export async function hubRequest(url: string, req: HubRequest): Promise<HubResponse> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { "Accept-Encoding": "identity", ...req.headers };
    // Signed CDN URLs carry their own authorization; a bearer token must not leak to them.
    if (req.token && hostOf(current) === req.tokenHost) headers.Authorization = `Bearer ${req.token}`;
    let response: Response;
    try {
      response = await fetch(current, {
        method: req.method,
        headers,
        redirect: "manual",
        signal: req.signal,
      });
    } catch (error) {
      if (isAbort(error, req.signal)) throw new AbortError(undefined, { cause: error });
      if (networkErrorCode(error)) throw error; // callers fall back to the cache or report HUB_OFFLINE
      const reason =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      const shown = redactUrl(current);
      throw new HubError("HUB_DOWNLOAD_FAILED", `request to ${shown} failed: ${redact(reason, current)}`, {
        cause: error,
        details: { url: shown },
      });
    }
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || !location) return { response, url: current };
    const next = new URL(location, current).toString();
    if (req.follow === "same-host" && hostOf(next) !== hostOf(current)) return { response, url: current };
    await response.body?.cancel();
    current = next;
  }
  throw new HubError(
    "HUB_DOWNLOAD_FAILED",
    `more than ${MAX_REDIRECTS} redirects starting at ${redactUrl(url)}`,
    { details: { url: redactUrl(url) } },
  );
}

/** The first byte position of a 206 answer's `Content-Range` (`bytes <start>-<end>/<size>`). */
export function contentRangeStart(response: Response): number | undefined {
  const m = /^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "");
  return m ? Number(m[1]) : undefined;
}

/**
 * The body of `response`, read up to `limit` bytes and then cut off (the rest is not read), so a
 * server cannot make a small read large. `truncated` says whether more was there.
 */
export async function readAtMost(
  response: Response,
  limit: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let have = 0;
  const reader = response.body?.getReader();
  let truncated = false;
  while (reader) {
    let next: Awaited<ReturnType<typeof reader.read>>;
    try {
      next = await reader.read();
    } catch (cause) {
      if (isAbort(cause)) throw new AbortError(undefined, { cause });
      throw new HubError("HUB_DOWNLOAD_FAILED", `the connection was cut after ${have} bytes`, { cause });
    }
    const { done, value } = next;
    if (done) break;
    chunks.push(Buffer.from(value));
    have += value.length;
    if (have > limit) {
      truncated = true;
      break;
    }
  }
  await reader?.cancel();
  return { bytes: Buffer.concat(chunks).subarray(0, limit), truncated };
}

/** Bytes read from the start of a file whose server ignored a Range request, to reach the range asked for. */
const MAX_UNRANGED_BYTES = 16 << 20;

/**
 * Bytes `[start, start + length)` of `url` by a Range request, for reading a file's header or a few
 * values without the rest; the range must lie inside the file. A 206 answer must start at `start`; a
 * server that ignores Range (200) is read from 0 to the end of the range only, and refused when that
 * is over 16 MB. Fewer bytes than asked for is an error, never a short result.
 */
export async function fetchByteRange(
  url: string,
  start: number,
  length: number,
  req: Omit<HubRequest, "method" | "follow" | "headers">,
): Promise<Buffer> {
  const { response, url: answered } = await hubRequest(url, {
    ...req,
    method: "GET",
    headers: { Range: `bytes=${start}-${start + length - 1}` },
    follow: "all",
  });
  const shown = redactUrl(answered);
  const what = `bytes ${start}–${start + length - 1} of ${shown}`;
  const fail = async (why: string) => {
    await response.body?.cancel();
    return new HubError("HUB_DOWNLOAD_FAILED", `${why} for ${what}`, {
      details: { url: shown, status: response.status, start, length },
    });
  };
  const ranged = response.status === 206;
  if (!response.ok) throw await fail(`${response.status} ${response.statusText}`);
  if (ranged && contentRangeStart(response) !== start) {
    throw await fail(
      `a 206 answer with Content-Range ${JSON.stringify(response.headers.get("content-range"))}`,
    );
  }
  const skip = ranged ? 0 : start;
  if (skip + length > MAX_UNRANGED_BYTES) {
    throw await fail(
      `the server ignored the Range header, and reading ${skip + length} bytes to reach it is over ${MAX_UNRANGED_BYTES}`,
    );
  }
  const { bytes } = await readAtMost(response, skip + length);
  if (bytes.length < skip + length)
    throw new HubError(
      "HUB_DOWNLOAD_FAILED",
      `only ${Math.max(0, bytes.length - skip)} of ${length} bytes arrived for ${what}`,
      {
        details: { url: shown, start, length },
      },
    );
  return bytes.subarray(skip, skip + length);
}

/** HUB_OFFLINE for a host that cannot be reached and a file the cache does not hold. */
export function offlineError(ref: FileRef, fullUrl: string, cacheDir: string, cause: unknown): HubError {
  const url = redactUrl(fullUrl);
  const code = networkErrorCode(cause) ?? "network error";
  return new HubError(
    "HUB_OFFLINE",
    `cannot reach ${hostOf(url)} (${code}) to fetch "${ref.file}" of ${ref.repo}@${ref.revision}, and the ` +
      `cache at ${cacheDir} does not hold it; connect to the network (or point HF_ENDPOINT at a reachable ` +
      `mirror), or copy the model into the cache and set HF_HUB_OFFLINE=1`,
    { cause, details: { ...ref, url, code } },
  );
}

/** Maps a non-2xx hub answer to a HubError naming repo, file and revision. */
export function statusError(ref: FileRef, fullUrl: string, response: Response, tokenSent: boolean): HubError {
  const url = redactUrl(fullUrl);
  const status = response.status;
  const errorCode = response.headers.get("x-error-code") ?? undefined;
  const details = { ...ref, url, status, errorCode };
  const what = `"${ref.file}" of ${ref.repo}@${ref.revision}`;
  if (status === 401 || status === 403 || errorCode === "GatedRepo") {
    const why =
      errorCode === "GatedRepo"
        ? "the repo is gated: accept its license on the model page, then"
        : "the repo may be private, gated or missing:";
    const token = tokenSent
      ? "the token that was sent (HF_TOKEN) was refused; use one with access to this repo"
      : "set HF_TOKEN to a token with access (none was sent)";
    return new HubError("HUB_UNAUTHORIZED", `${status} from ${hostOf(url)} for ${what}; ${why} ${token}`, {
      details,
    });
  }
  if (status === 404) {
    const message =
      errorCode === "RepoNotFound"
        ? `repo ${ref.repo} not found (404 from ${hostOf(url)}); check the repo id`
        : errorCode === "RevisionNotFound"
          ? `revision "${ref.revision}" of ${ref.repo} not found (404 from ${hostOf(url)}); check the branch, tag or commit`
          : `${ref.repo}@${ref.revision} has no file "${ref.file}" (404 from ${url})`;
    return new HubError("NOT_FOUND", message, { details });
  }
  return new HubError("HUB_DOWNLOAD_FAILED", `${status} ${response.statusText} from ${url} for ${what}`, {
    details,
  });
}
