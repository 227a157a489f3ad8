/**
 * One file from `<endpoint>/<repo>/resolve/<rev>/<file>` into the HF cache: HEAD for the commit, etag
 * and size (headers as huggingface_hub reads them), GET from the CDN location with resume from
 * `blobs/<etag>.incomplete`, sha256 check for LFS files, atomic rename, then the snapshot link.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { AbortError, HubError, throwIfAborted } from "../errors.js";
import { writeFailed } from "../util/fs.js";
import { withBlobLock } from "./blob-lock.js";
import {
  assertRepoFile,
  assertRepoId,
  assertRevision,
  blobPath,
  cachedFile,
  isBlobName,
  isCommitHash,
  linkIntoSnapshot,
  pointerPath,
  readRef,
  writeRef,
} from "./cache.js";
import {
  contentRangeStart,
  type FileRef,
  hostOf,
  hubRequest,
  isAbort,
  networkErrorCode,
  offlineError,
  readAtMost,
  redactUrl,
  statusError,
} from "./http.js";
import { type HubOptions, type HubSettings, resolveHubSettings } from "./settings.js";

/** What the hub says about a file before it is fetched. */
export interface FileMetadata {
  /** Commit the revision resolved to (`X-Repo-Commit`). */
  commit: string;
  /** Blob name: LFS sha256 or git sha1 (`X-Linked-Etag`, else `ETag`, quotes and `W/` removed). */
  etag: string;
  /** Bytes (`X-Linked-Size`, else `Content-Length` of a non-redirect answer). */
  size: number;
  /** Where the bytes are: the CDN URL of a cross-host redirect, else the resolve URL. */
  location: string;
}

export interface DownloadedFile {
  /** `snapshots/<commit>/<file>` in the cache. */
  path: string;
  commit: string;
  etag: string;
  size: number;
  /** True when no bytes were transferred. */
  fromCache: boolean;
}

export interface DownloadFileOptions extends HubOptions {
  /** `org/name`. */
  repo: string;
  /** Path inside the repo, e.g. `onnx/vision_model.onnx`. */
  file: string;
  /** Branch, tag or commit. Default `main`. */
  revision?: string;
  /** Called as bytes arrive; `done` counts resumed bytes too. */
  onProgress?: (done: number, total: number) => void;
  /** How often to resume within this call after a dropped connection. Default 3. */
  retries?: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

export function resolveUrl(endpoint: string, ref: FileRef): string {
  const file = ref.file.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${file}`;
}

function normalizeEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

function toInt(value: string | null): number | undefined {
  if (value === null) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** HEAD the resolve URL. Network failures are rethrown as they are, for the caller's cache fallback. */
export async function fetchFileMetadata(ref: FileRef, settings: HubSettings): Promise<FileMetadata> {
  const url = resolveUrl(settings.endpoint, ref);
  const { response, url: answered } = await hubRequest(url, {
    method: "HEAD",
    token: settings.token,
    tokenHost: hostOf(settings.endpoint),
    signal: settings.signal,
    follow: "same-host",
  });
  const redirected = response.status >= 300 && response.status < 400;
  if (!response.ok && !redirected) throw statusError(ref, answered, response, settings.token !== undefined);
  const h = response.headers;
  const commit = h.get("x-repo-commit") ?? undefined;
  const etag = normalizeEtag(h.get("x-linked-etag") ?? h.get("etag"));
  const size = toInt(h.get("x-linked-size") ?? (redirected ? null : h.get("content-length")));
  const redirectTo = redirected ? new URL(h.get("location")!, answered).toString() : undefined;
  const missing = [!commit && "X-Repo-Commit", !etag && "ETag", size === undefined && "size"].filter(Boolean);
  if (missing.length > 0) {
    throw new HubError(
      "HUB_DOWNLOAD_FAILED",
      `${redactUrl(url)} answered without ${missing.join(", ")}; ${new URL(url).host} does not look like a Hugging Face ` +
        "hub endpoint (check HF_ENDPOINT and any proxy)",
      { details: { ...ref, url: redactUrl(url), missing } },
    );
  }
  // Both name paths in the cache: anything but a hash could point outside it.
  if (!isCommitHash(commit!)) {
    throw new HubError(
      "HUB_DOWNLOAD_FAILED",
      `${redactUrl(url)} answered X-Repo-Commit ${JSON.stringify(commit)}; expected a 40-digit hex commit hash`,
      { details: { ...ref, url: redactUrl(url), commit } },
    );
  }
  if (!isBlobName(etag!)) {
    throw new HubError(
      "HUB_DOWNLOAD_FAILED",
      `${redactUrl(url)} answered ETag ${JSON.stringify(etag)}; expected a git sha1 (40 hex digits) or an LFS sha256 (64)`,
      { details: { ...ref, url: redactUrl(url), etag } },
    );
  }
  // A direct answer is fetched again by commit, so a branch that moves meanwhile cannot change the bytes.
  const location = redirectTo ?? resolveUrl(settings.endpoint, { ...ref, revision: commit! });
  return { commit: commit!, etag: etag!, size: size!, location };
}

/** The cached copy of a file for a revision, described like a download. */
export async function cachedDownload(ref: FileRef, cacheDir: string): Promise<DownloadedFile | undefined> {
  const p = await cachedFile(ref.repo, ref.revision, ref.file, { cacheDir });
  if (!p) return undefined;
  const commit = (await readRef(cacheDir, ref.repo, ref.revision))!;
  const real = await fs.realpath(p);
  const { size } = await fs.stat(real);
  return { path: p, commit, etag: path.basename(real), size, fromCache: true };
}

/** Whether a failed HEAD should fall back to the cache (as huggingface_hub does for these). */
export function isCacheFallbackError(error: unknown): boolean {
  if (networkErrorCode(error) !== undefined) return true;
  return (
    error instanceof HubError && (error.code === "HUB_UNAUTHORIZED" || error.code === "HUB_DOWNLOAD_FAILED")
  );
}

export async function downloadFile(options: DownloadFileOptions): Promise<DownloadedFile> {
  const settings = resolveHubSettings(options);
  const ref: FileRef = { repo: options.repo, file: options.file, revision: options.revision ?? "main" };
  assertRepoId(ref.repo);
  assertRepoFile(ref.file);
  assertRevision(ref.revision);
  throwIfAborted(settings.signal);
  if (settings.offline) {
    const cached = await cachedDownload(ref, settings.cacheDir);
    if (cached) return cached;
    throw offlineOnlyError(ref, settings.cacheDir);
  }
  let meta: FileMetadata;
  try {
    meta = await fetchFileMetadata(ref, settings);
  } catch (error) {
    if (!isCacheFallbackError(error)) throw error;
    const cached = await cachedDownload(ref, settings.cacheDir);
    if (cached) return cached;
    if (networkErrorCode(error))
      throw offlineError(ref, resolveUrl(settings.endpoint, ref), settings.cacheDir, error);
    throw error;
  }
  return fetchBlob(ref, meta, settings, options.onProgress, options.retries);
}

export function offlineOnlyError(ref: FileRef, cacheDir: string): HubError {
  return new HubError(
    "HUB_OFFLINE",
    `HF_HUB_OFFLINE is set and the cache at ${cacheDir} does not hold "${ref.file}" of ${ref.repo}@${ref.revision}; ` +
      "unset HF_HUB_OFFLINE to download it, or copy the model into the cache first",
    { details: { ...ref, cacheDir } },
  );
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/** Brings the blob described by `meta` into the cache (unless present) and links it into the snapshot. */
export async function fetchBlob(
  ref: FileRef,
  meta: FileMetadata,
  settings: HubSettings,
  onProgress?: (done: number, total: number) => void,
  retries = 3,
): Promise<DownloadedFile> {
  const { cacheDir } = settings;
  const blob = blobPath(cacheDir, ref.repo, meta.etag);
  const pointer = pointerPath(cacheDir, ref.repo, meta.commit, ref.file);
  const result = { path: pointer, commit: meta.commit, etag: meta.etag, size: meta.size };
  await writeRef(cacheDir, ref.repo, ref.revision, meta.commit);
  if (await exists(pointer)) {
    onProgress?.(meta.size, meta.size);
    return { ...result, fromCache: true };
  }
  if (!(await exists(blob))) {
    await fs.mkdir(path.dirname(blob), { recursive: true });
    // One transfer per blob across processes; a waiter finds the blob done when it gets the lock.
    await withBlobLock(
      `${blob}.lock`,
      async () => {
        if (await exists(blob)) return onProgress?.(meta.size, meta.size);
        const incomplete = `${blob}.incomplete`;
        await transferWithResume(ref, meta, settings, incomplete, retries, onProgress);
        await fs.rename(incomplete, blob); // same folder: atomic, readers never see a partial blob
      },
      { signal: settings.signal },
    );
  } else {
    onProgress?.(meta.size, meta.size);
  }
  await linkIntoSnapshot(blob, pointer);
  return { ...result, fromCache: false };
}

class Interrupted extends Error {}

async function transferWithResume(
  ref: FileRef,
  meta: FileMetadata,
  settings: HubSettings,
  incomplete: string,
  retries: number,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await transferOnce(ref, meta, settings, incomplete, onProgress);
      return;
    } catch (error) {
      if (error instanceof AbortError || isAbort(error, settings.signal)) {
        throw error instanceof AbortError ? error : new AbortError(undefined, { cause: error });
      }
      const cut =
        error instanceof Interrupted || networkErrorCode(error) !== undefined || isTerminated(error);
      if (!cut) throw error;
      if (attempt < retries) continue;
      const have = await fileSize(incomplete);
      throw new HubError(
        "HUB_DOWNLOAD_FAILED",
        `download of "${ref.file}" of ${ref.repo}@${ref.revision} was cut after ${have} of ${meta.size} bytes ` +
          `(${retries} resumes tried); ${incomplete} is kept and the next call resumes from it`,
        { cause: error, details: { ...ref, have, size: meta.size } },
      );
    }
  }
}

/** undici reports a body cut mid-stream as `TypeError: terminated`. */
function isTerminated(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    /terminated|other side closed/i.test(`${error.message} ${error.cause ?? ""}`)
  );
}

async function fileSize(p: string): Promise<number> {
  return fs.stat(p).then(
    (s) => s.size,
    () => 0,
  );
}

async function hashPrefix(hash: Hash, file: string): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

async function transferOnce(
  ref: FileRef,
  meta: FileMetadata,
  settings: HubSettings,
  incomplete: string,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  let have = await fileSize(incomplete);
  if (have > meta.size) {
    await fs.truncate(incomplete, 0);
    have = 0;
  }
  const { response, url } = await hubRequest(meta.location, {
    method: "GET",
    headers: have > 0 ? { Range: `bytes=${have}-` } : {},
    token: settings.token,
    tokenHost: hostOf(settings.endpoint),
    signal: settings.signal,
    follow: "all",
  });
  // 200 to a Range request: the server sent the whole file, so start over.
  const resumed = have > 0 && response.status === 206 && contentRangeStart(response) === have;
  if (response.status === 416 || (have > 0 && !resumed && response.ok)) {
    await response.body?.cancel();
    await fs.truncate(incomplete, 0);
    if (response.status === 416) throw new Interrupted("range not satisfiable; restarting");
    have = 0;
    return transferOnce(ref, meta, settings, incomplete, onProgress);
  }
  if (!response.ok) throw statusError(ref, url, response, settings.token !== undefined);

  // LFS files are named by the sha256 of their bytes; small files by their git blob sha1, which hashes
  // `blob <size>\0` before the bytes. Either way the name is checked against what arrived.
  const algorithm = SHA256.test(meta.etag) ? "sha256" : "git blob sha1";
  const hash = algorithm === "sha256" ? createHash("sha256") : createHash("sha1");
  if (algorithm === "git blob sha1") hash.update(`blob ${meta.size}\0`);
  if (have > 0) await hashPrefix(hash, incomplete);
  const handle = await fs.open(incomplete, have > 0 ? "a" : "w");
  let done = have;
  onProgress?.(done, meta.size);
  try {
    if (response.body) {
      for await (const chunk of response.body) {
        throwIfAborted(settings.signal);
        done += chunk.byteLength;
        if (done > meta.size) break;
        hash.update(chunk);
        await handle.write(chunk).catch((cause: unknown) => {
          throw writeFailed(
            incomplete,
            cause,
            "the part written so far is kept there and the next pull resumes from it",
          );
        });
        onProgress?.(done, meta.size);
      }
    }
  } finally {
    await handle.close();
  }
  if (done < meta.size) throw new Interrupted(`stream ended after ${done} of ${meta.size} bytes`);
  const digest = done > meta.size ? undefined : hash.digest("hex");
  if (digest !== meta.etag) {
    const actual = digest === undefined ? `more than ${meta.size} bytes` : `${algorithm} ${digest}`;
    await fs.rm(incomplete, { force: true });
    throw new HubError(
      "INTEGRITY_MISMATCH",
      `"${ref.file}" of ${ref.repo}@${ref.revision} arrived with ${actual}, expected ${meta.size} bytes` +
        ` with ${algorithm} ${meta.etag}; the partial file was deleted, try again`,
      { details: { ...ref, etag: meta.etag, size: meta.size } },
    );
  }
}

/** Longest JSON file read whole (configs, indexes); real ones are a few kB. */
const MAX_JSON_BYTES = 1 << 20;

/** GETs a small JSON file of a repo (a config, an index: at most 1 MB) and parses it. */
export function fetchJsonFile(ref: FileRef, settings: HubSettings): Promise<unknown> {
  return fetchJson(resolveUrl(settings.endpoint, ref), ref, settings, MAX_JSON_BYTES);
}

/**
 * GETs `url` (a hub URL: the token goes with it) and parses its body as JSON, reading at most
 * `maxBytes`; `ref` names what was asked for in errors.
 */
export async function fetchJson(
  url: string,
  ref: FileRef,
  settings: HubSettings,
  maxBytes: number,
): Promise<unknown> {
  const { response } = await hubRequest(url, {
    method: "GET",
    token: settings.token,
    tokenHost: hostOf(settings.endpoint),
    signal: settings.signal,
    follow: "all",
  });
  if (!response.ok) throw statusError(ref, url, response, settings.token !== undefined);
  const what = `"${ref.file}" of ${ref.repo}@${ref.revision}`;
  const details = { ...ref, url: redactUrl(url) };
  const declared = Number(response.headers.get("content-length") ?? 0);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new HubError("HUB_DOWNLOAD_FAILED", `${what} is ${declared} bytes; at most ${maxBytes} are read`, {
      details,
    });
  }
  const { bytes, truncated } = await readAtMost(response, maxBytes);
  if (truncated) {
    throw new HubError(
      "HUB_DOWNLOAD_FAILED",
      `${what} is over ${maxBytes} bytes; at most ${maxBytes} are read`,
      {
        details,
      },
    );
  }
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new HubError("HUB_DOWNLOAD_FAILED", `${what} is not JSON (${redactUrl(url)})`, { cause, details });
  }
}
