/**
 * The Hugging Face cache layout, shared with huggingface_hub and transformers:
 *
 *   <cacheDir>/models--<org>--<repo>/
 *     blobs/<etag>                 file contents, named by git sha1 or LFS sha256
 *     refs/<revision>              the commit hash a branch or tag pointed to when last fetched
 *     snapshots/<commit>/<file>    relative symlink → ../../blobs/<etag> (a copy where symlinks fail)
 */
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { HubError, InvalidArgumentError } from "../errors.js";
import { type ModelEntry, type ModelFileOptions, modelFiles } from "./registry.js";
import { resolveHubSettings } from "./settings.js";

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
const COMMIT = /^[0-9a-f]{40}$/;
/** Blob names: a git sha1 (small files) or an LFS sha256. */
const ETAG = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function isRepoId(value: string): boolean {
  return REPO_ID.test(value) && !value.includes("..");
}

export function assertRepoId(repo: string): void {
  if (!isRepoId(repo)) {
    throw new InvalidArgumentError(`invalid repo id "${repo}"; expected "org/name"`, { details: { repo } });
  }
}

/** Rejects paths that could escape the snapshot folder. */
export function assertRepoFile(file: string): void {
  const parts = file.split("/");
  if (
    file === "" ||
    file.startsWith("/") ||
    file.includes("\\") ||
    parts.some((p) => p === "" || p === "..")
  ) {
    throw new InvalidArgumentError(`invalid file path "${file}"; expected a relative path inside the repo`, {
      details: { file },
    });
  }
}

export function isCommitHash(revision: string): boolean {
  return COMMIT.test(revision);
}

export function isBlobName(etag: string): boolean {
  return ETAG.test(etag);
}

/**
 * Refuses revisions that could leave `refs/` or `snapshots/`: branch and tag names may hold "/" (as
 * "refs/pr/1" does) but no empty, "." or ".." segment, no backslash, no leading "/".
 */
export function assertRevision(revision: string): void {
  const parts = revision.split("/");
  if (revision === "" || revision.includes("\\") || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new InvalidArgumentError(
      `invalid revision "${revision}"; expected a branch, tag or commit hash without empty, "." or ".." segments`,
      { details: { revision } },
    );
  }
}

/** Throws unless `p` lies strictly inside `dir` once both are resolved: the last guard against names from the network. */
export function assertInside(dir: string, p: string, what: string): string {
  const base = path.resolve(dir);
  const full = path.resolve(p);
  if (!full.startsWith(base + path.sep)) {
    throw new HubError(
      "HUB_DOWNLOAD_FAILED",
      `${what} ${JSON.stringify(p)} would lie outside ${base}; refused`,
      {
        details: { dir: base, path: full },
      },
    );
  }
  return full;
}

const REPO_FOLDER_PREFIX = "models--";

/** `org/name` → `models--org--name`, as huggingface_hub names repo folders. */
export function repoFolderName(repo: string): string {
  assertRepoId(repo);
  return `${REPO_FOLDER_PREFIX}${repo.split("/").join("--")}`;
}

/** `models--org--name` → `org/name` (the inverse of `repoFolderName`); undefined for any other name. */
export function repoFromFolderName(name: string): string | undefined {
  if (!name.startsWith(REPO_FOLDER_PREFIX)) return undefined;
  return name.slice(REPO_FOLDER_PREFIX.length).replace("--", "/");
}

/**
 * The repo whose cache folder holds `dir` (a snapshot directory or anything inside one), read from
 * the innermost `models--org--name` segment of the resolved path; undefined outside a hub cache.
 */
export function cachedRepoOf(dir: string): string | undefined {
  const folder = path
    .resolve(dir)
    .split(path.sep)
    .findLast((p) => p.startsWith(REPO_FOLDER_PREFIX));
  return folder === undefined ? undefined : repoFromFolderName(folder);
}

export function repoCacheDir(cacheDir: string, repo: string): string {
  return path.join(cacheDir, repoFolderName(repo));
}

export function blobPath(cacheDir: string, repo: string, etag: string): string {
  if (!isBlobName(etag)) {
    throw new HubError("HUB_DOWNLOAD_FAILED", `blob name "${etag}" is not a 40- or 64-digit hex hash`, {
      details: { etag },
    });
  }
  const dir = path.join(repoCacheDir(cacheDir, repo), "blobs");
  return assertInside(dir, path.join(dir, etag), "blob");
}

export function pointerPath(cacheDir: string, repo: string, commit: string, file: string): string {
  assertRepoFile(file);
  if (!isCommitHash(commit)) {
    throw new HubError("HUB_DOWNLOAD_FAILED", `commit "${commit}" is not a 40-digit hex hash`, {
      details: { commit },
    });
  }
  const dir = path.join(repoCacheDir(cacheDir, repo), "snapshots");
  return assertInside(dir, path.join(dir, commit, ...file.split("/")), "snapshot file");
}

function refPath(cacheDir: string, repo: string, revision: string): string {
  assertRevision(revision);
  const dir = path.join(repoCacheDir(cacheDir, repo), "refs");
  return assertInside(dir, path.join(dir, ...revision.split("/")), "ref");
}

/** The commit a revision resolves to in the cache, or undefined when it was never fetched. */
export async function readRef(cacheDir: string, repo: string, revision: string): Promise<string | undefined> {
  if (isCommitHash(revision)) return revision;
  const file = refPath(cacheDir, repo, revision);
  try {
    const ref = (await fs.readFile(file, "utf8")).trim();
    return isCommitHash(ref) ? ref : undefined;
  } catch {
    return undefined;
  }
}

/** Records which commit a branch or tag resolved to; a commit hash needs no ref. */
export async function writeRef(
  cacheDir: string,
  repo: string,
  revision: string,
  commit: string,
): Promise<void> {
  if (revision === commit) return;
  if (!isCommitHash(commit)) {
    throw new HubError("HUB_DOWNLOAD_FAILED", `commit "${commit}" is not a 40-digit hex hash`, {
      details: { commit },
    });
  }
  const file = refPath(cacheDir, repo, revision);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const current = await fs.readFile(file, "utf8").catch(() => undefined);
  if (current?.trim() !== commit) await fs.writeFile(file, commit);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p, fsConstants.F_OK); // follows symlinks: a dangling pointer counts as missing
    return true;
  } catch {
    return false;
  }
}

export interface CacheLookupOptions {
  /** Cache root; default from `hubConfig()`. */
  cacheDir?: string;
}

/** `snapshots/<commit>` for a revision, or undefined when that revision is not in the cache. */
export async function snapshotPath(
  repo: string,
  revision = "main",
  options: CacheLookupOptions = {},
): Promise<string | undefined> {
  const cacheDir = options.cacheDir ?? resolveHubSettings().cacheDir;
  const commit = await readRef(cacheDir, repo, revision);
  if (!commit) return undefined;
  const dir = path.join(repoCacheDir(cacheDir, repo), "snapshots", commit);
  return (await exists(dir)) ? dir : undefined;
}

/** Path of one cached file of a revision, or undefined when the cache does not hold it. */
export async function cachedFile(
  repo: string,
  revision: string,
  file: string,
  options: CacheLookupOptions = {},
): Promise<string | undefined> {
  const cacheDir = options.cacheDir ?? resolveHubSettings().cacheDir;
  const commit = await readRef(cacheDir, repo, revision);
  if (!commit) return undefined;
  const p = pointerPath(cacheDir, repo, commit, file);
  return (await exists(p)) ? p : undefined;
}

/** Whether every required file of a known model (for this dtype) is in the cache. */
export async function isCached(
  model: ModelEntry,
  options: CacheLookupOptions & ModelFileOptions = {},
): Promise<boolean> {
  for (const spec of modelFiles(model, options)) {
    if (spec.optional) continue;
    if (!(await cachedFile(model.repo, model.revision, spec.path, options))) return false;
  }
  return true;
}

/**
 * Points `snapshots/<commit>/<file>` at its blob with a relative symlink, so the cache folder can move;
 * copies instead where the file system refuses symlinks (as huggingface_hub does on such systems).
 */
export async function linkIntoSnapshot(blob: string, pointer: string): Promise<"symlink" | "copy"> {
  await fs.mkdir(path.dirname(pointer), { recursive: true });
  await fs.rm(pointer, { force: true });
  try {
    await fs.symlink(path.relative(path.dirname(pointer), blob), pointer);
    return "symlink";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EACCES" && code !== "EINVAL") throw error;
    await fs.copyFile(blob, pointer);
    return "copy";
  }
}
