/**
 * An adapter card's part sources (`PartSource`): what a writer (train, `vlmkit tiny`) records for the
 * encoder and LLM it paired, and how a reader turns a recorded source back into a local path.
 *
 * A bundle is an adapter directory that carries its encoder and LLM inside it, under their own names
 * (`siglip2/`, `gemma3.gguf`: the encoder's folder name is the id the card records), by path and sha256: it can be moved, copied or published as one folder. Parts from the hub
 * cache are recorded as `org/name` at the snapshot's commit instead, and stay in the cache.
 */
import fs from "node:fs";
import path from "node:path";
import type { PartSource } from "../adapter/index.js";
import { IncompatibleModelError, InvalidArgumentError } from "../errors.js";
import { cachedRepoOf } from "../hub/cache.js";
import type { OnnxDtype } from "../hub/dtypes.js";
import { isRepoId, resolveModelDir, snapshotDownload } from "../hub/index.js";
import { contentSha256 } from "../util/content-hash.js";

/** `{repo, revision: commit, file?}` for a path inside a hub cache snapshot, else undefined. */
function hubSourceOf(p: string, isFile: boolean): PartSource | undefined {
  const repo = cachedRepoOf(p);
  if (repo === undefined) return undefined;
  const parts = path.resolve(p).split(path.sep);
  const at = parts.lastIndexOf("snapshots");
  if (at < 0 || at + 1 >= parts.length) return undefined;
  const commit = parts[at + 1];
  const inner = parts.slice(at + 2).join("/");
  if (isFile) return inner === "" ? undefined : { repo, revision: commit, file: inner };
  return inner === "" ? { repo, revision: commit } : undefined;
}

/** `p` relative to `dir` with "/" separators when it lies strictly inside `dir` (both resolved through links), else undefined. */
function insideDir(dir: string, p: string): string | undefined {
  const base = fs.realpathSync(dir);
  const full = fs.realpathSync(p);
  const rel = path.relative(base, full);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join("/");
}

/** Hard-links `from` (a file or a directory tree) to `to`, copying where a link is refused (another file system). */
async function linkOrCopy(from: string, to: string): Promise<void> {
  const stat = await fs.promises.stat(from);
  if (stat.isDirectory()) {
    await fs.promises.mkdir(to, { recursive: true });
    for (const name of await fs.promises.readdir(from)) {
      if (!name.startsWith(".")) await linkOrCopy(path.join(from, name), path.join(to, name));
    }
    return;
  }
  await fs.promises.rm(to, { force: true });
  try {
    await fs.promises.link(from, to);
  } catch {
    await fs.promises.copyFile(from, to);
  }
}

/**
 * The source to record for `part` (an encoder directory or a GGUF file) in the card of the adapter in
 * `adapterDir`: a hub snapshot → its repo and commit; a file already inside `adapterDir` → its path and
 * sha256; anything else is hard-linked (or copied) into `adapterDir` under its own name first, so the
 * adapter directory becomes a bundle that runs alone.
 */
export async function recordPartSource(adapterDir: string, part: string): Promise<PartSource> {
  const isFile = (await fs.promises.stat(part)).isFile();
  const hub = hubSourceOf(part, isFile);
  if (hub) return hub;
  await fs.promises.mkdir(adapterDir, { recursive: true });
  let rel = insideDir(adapterDir, part);
  if (rel === undefined) {
    rel = path.basename(path.resolve(part));
    if (["adapter.json", "adapter.safetensors", "checkpoints"].includes(rel)) {
      throw new InvalidArgumentError(
        `${part}: a part named "${rel}" cannot be carried in an adapter directory`,
      );
    }
    await linkOrCopy(part, path.join(adapterDir, rel));
  }
  return { path: rel, sha256: await contentSha256(path.join(adapterDir, rel)) };
}

/**
 * The local path of a bundled part: `source.path` resolved against `adapterDir`, refused unless it stays
 * inside it (no absolute path, no `..`, no link leading out), then verified against `source.sha256`.
 */
async function bundledPart(
  adapterDir: string,
  source: { path: string; sha256: string },
  what: string,
): Promise<string> {
  const rel = source.path;
  const segments = rel.split(/[\\/]/);
  if (path.isAbsolute(rel) || /^[a-zA-Z]:/.test(rel) || segments.some((s) => s === ".." || s === "")) {
    throw new InvalidArgumentError(
      `adapter ${adapterDir}: its card's ${what} path ${JSON.stringify(rel)} must be relative and stay inside the adapter directory`,
      { details: { param: what, path: rel } },
    );
  }
  const full = path.join(adapterDir, rel);
  if (!fs.existsSync(full)) {
    throw new InvalidArgumentError(
      `adapter ${adapterDir}: its card's ${what} ${rel} is missing from the adapter directory; pass --${what}`,
      { details: { param: what, path: rel } },
    );
  }
  if (insideDir(adapterDir, full) === undefined) {
    throw new InvalidArgumentError(
      `adapter ${adapterDir}: its card's ${what} ${rel} leads outside the adapter directory (a link); refused`,
      { details: { param: what, path: rel } },
    );
  }
  const actual = await contentSha256(full);
  if (actual !== source.sha256) {
    throw new IncompatibleModelError(
      `adapter ${adapterDir}: ${rel} has sha256 ${actual}, but the card records ${source.sha256}; the ${what} was changed after the adapter was saved`,
      { details: { param: what, path: rel, expected: source.sha256, actual } },
    );
  }
  return full;
}

export interface ResolvePartOptions {
  /** The encoder's ONNX weight variant to fetch. Default fp32. */
  dtype?: OnnxDtype;
  /** Download progress in bytes. */
  onProgress?: (done: number, total: number) => void;
}

/** The local directory of the encoder a card records (downloaded from the hub into the cache if needed). */
export async function resolveEncoderSource(
  adapterDir: string,
  source: PartSource,
  options: ResolvePartOptions = {},
): Promise<string> {
  if ("path" in source) return bundledPart(adapterDir, source, "encoder");
  if (!isRepoId(source.repo) || source.file !== undefined) {
    throw new InvalidArgumentError(
      `adapter ${adapterDir}: its card's encoder source must be a repo and revision, got ${JSON.stringify(source)}`,
    );
  }
  return resolveModelDir(source.repo, {
    localDir: false,
    revision: source.revision,
    dtype: options.dtype,
    onProgress: options.onProgress,
  });
}

/** The local GGUF of the LLM a card records (downloaded from the hub into the cache if needed). */
export async function resolveLlmSource(
  adapterDir: string,
  source: PartSource,
  options: ResolvePartOptions = {},
): Promise<string> {
  if ("path" in source) return bundledPart(adapterDir, source, "llm");
  if (!isRepoId(source.repo) || source.file === undefined || !source.file.endsWith(".gguf")) {
    throw new InvalidArgumentError(
      `adapter ${adapterDir}: its card's llm source must name a repo, revision and .gguf file, got ${JSON.stringify(source)}`,
    );
  }
  const snap = await snapshotDownload(source.repo, {
    revision: source.revision,
    files: [source.file],
    onProgress: options.onProgress,
  });
  return path.join(snap.dir, source.file);
}

/** One line for humans: `org/name@rev[/file]` or `./path (sha256 abcdef12…)`. */
export function describePartSource(source: PartSource): string {
  if ("path" in source)
    return `${source.path} in the adapter directory (sha256 ${source.sha256.slice(0, 12)}…)`;
  return `${source.repo}@${source.revision}${source.file ? ` ${source.file}` : ""}`;
}
