/**
 * A model's files into one cached snapshot folder, and `resolveModelDir`, which turns whatever a user
 * typed (local folder, known id, `org/repo`) into a folder on disk.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { HubError, InvalidArgumentError, throwIfAborted } from "../errors.js";
import { isCached, isRepoId, repoCacheDir, snapshotPath } from "./cache.js";
import {
  cachedDownload,
  type DownloadedFile,
  type FileMetadata,
  fetchBlob,
  fetchFileMetadata,
  isCacheFallbackError,
  offlineOnlyError,
  resolveUrl,
} from "./download.js";
import { type FileRef, networkErrorCode, offlineError } from "./http.js";
import { listRepoFiles } from "./listing.js";
import { recordLogitScalars } from "./logit-scalars.js";
import { type FileSpec, findModel, type ModelEntry, type ModelFileOptions, modelFiles } from "./registry.js";
import { type HubOptions, type HubSettings, resolveHubSettings } from "./settings.js";

export interface SnapshotDownloadOptions extends HubOptions, ModelFileOptions {
  /** Branch, tag or commit. Default: the registry entry's revision, else `main`. */
  revision?: string;
  /** Files to fetch from a repo outside the registry; default: chosen from the repo listing. */
  files?: string[];
  /** Bytes over all files of this call: `done` of `total`, where total is known after the HEADs. */
  onProgress?: (done: number, total: number) => void;
  /** Resumes per file after a dropped connection. Default 3. */
  retries?: number;
}

export interface Snapshot {
  /** `snapshots/<commit>`: the folder to hand to encoders and LLM loaders. */
  dir: string;
  repo: string;
  revision: string;
  commit: string;
  files: DownloadedFile[];
}

interface Target {
  repo: string;
  revision: string;
  entry?: ModelEntry;
}

function target(idOrRepo: string, revision?: string): Target {
  const entry = findModel(idOrRepo);
  if (entry) return { repo: entry.repo, revision: revision ?? entry.revision, entry };
  if (isRepoId(idOrRepo)) return { repo: idOrRepo, revision: revision ?? "main" };
  throw new InvalidArgumentError(
    `"${idOrRepo}" is neither a known model id (see \`vlmkit models\`) nor an org/repo on the hub`,
    { details: { model: idOrRepo } },
  );
}

async function specsFor(
  t: Target,
  options: SnapshotDownloadOptions,
  settings: HubSettings,
): Promise<FileSpec[]> {
  if (options.files) return options.files.map((p) => ({ path: p, optional: false }));
  if (t.entry) return modelFiles(t.entry, options);
  return listRepoFiles(t.repo, t.revision, settings, options);
}

/** Serves a whole snapshot from the cache, or explains which file is missing. */
async function fromCache(
  t: Target,
  specs: FileSpec[],
  settings: HubSettings,
  onMissing: (ref: FileRef) => Error,
) {
  const files: DownloadedFile[] = [];
  for (const spec of specs) {
    const ref = { repo: t.repo, revision: t.revision, file: spec.path };
    const cached = await cachedDownload(ref, settings.cacheDir);
    if (cached) files.push(cached);
    else if (!spec.optional) throw onMissing(ref);
  }
  const commit = files[0]?.commit ?? "";
  return { dir: path.join(repoCacheDir(settings.cacheDir, t.repo), "snapshots", commit), commit, files };
}

/**
 * Downloads a known model (or the listed files of any repo) into the cache and returns its snapshot
 * folder. Files already cached for the revision's current commit are not transferred again.
 * What `vlmkit pull` runs.
 *
 * @example
 * ```ts
 * import { snapshotDownload } from "vlmkit";
 *
 * const snap = await snapshotDownload("siglip2-base-patch16-224", {
 *   dtype: "fp16",
 *   textTower: false, // a VLM needs only the vision tower
 *   onProgress: (done, total) => console.log(`${done}/${total} bytes`),
 * });
 * console.log(snap.dir); // <hub cache>/models--onnx-community--siglip2-base-patch16-224-ONNX/snapshots/<commit>
 * ```
 */
export async function snapshotDownload(
  modelIdOrRepo: string,
  options: SnapshotDownloadOptions = {},
): Promise<Snapshot> {
  const settings = resolveHubSettings(options);
  const t = target(modelIdOrRepo, options.revision);
  throwIfAborted(settings.signal);
  if (settings.offline) {
    if (!options.files && !t.entry) {
      const dir = await snapshotPath(t.repo, t.revision, settings);
      if (dir) return { dir, repo: t.repo, revision: t.revision, commit: path.basename(dir), files: [] };
      throw offlineOnlyError({ repo: t.repo, revision: t.revision, file: "(any file)" }, settings.cacheDir);
    }
    const specs = await specsFor(t, options, settings);
    const cached = await fromCache(t, specs, settings, (ref) => offlineOnlyError(ref, settings.cacheDir));
    return { ...cached, repo: t.repo, revision: t.revision };
  }

  // HEAD every file first: the sizes give one progress total, and a missing file fails before any transfer.
  let specs: FileSpec[] = [];
  const metas: { ref: FileRef; meta: FileMetadata }[] = [];
  try {
    specs = await specsFor(t, options, settings);
    // The first answer pins the commit: a branch that moves mid-pull must not split the snapshot.
    let pinned: string | undefined;
    for (const spec of specs) {
      const ref = { repo: t.repo, revision: pinned ?? t.revision, file: spec.path };
      try {
        const meta = await fetchFileMetadata(ref, settings);
        pinned ??= meta.commit;
        metas.push({ ref, meta });
      } catch (error) {
        if (spec.optional && error instanceof HubError && error.code === "NOT_FOUND") continue;
        throw error;
      }
    }
  } catch (error) {
    if (!isCacheFallbackError(error) || specs.length === 0) {
      if (networkErrorCode(error) && specs.length === 0) {
        const ref = { repo: t.repo, revision: t.revision, file: "(file listing)" };
        throw offlineError(ref, resolveUrl(settings.endpoint, ref), settings.cacheDir, error);
      }
      throw error;
    }
    // Hub unreachable or refusing: a complete cached snapshot still serves, as with huggingface_hub.
    const cached = await fromCache(t, specs, settings, (ref) =>
      networkErrorCode(error)
        ? offlineError(ref, resolveUrl(settings.endpoint, ref), settings.cacheDir, error)
        : (error as Error),
    );
    return { ...cached, repo: t.repo, revision: t.revision };
  }

  const total = metas.reduce((sum, m) => sum + m.meta.size, 0);
  let finished = 0;
  const files: DownloadedFile[] = [];
  for (const { ref, meta } of metas) {
    const base = finished;
    files.push(
      await fetchBlob(
        ref,
        meta,
        settings,
        (done) => options.onProgress?.(base + done, total),
        options.retries,
      ),
    );
    finished += meta.size;
  }
  options.onProgress?.(total, total);
  const commit = metas[0]?.meta.commit ?? "";
  const dir = path.join(repoCacheDir(settings.cacheDir, t.repo), "snapshots", commit);
  if (t.entry?.kind === "vision-encoder" && !options.files) await recordLogitScalars(t.entry, dir, settings);
  return { dir, repo: t.repo, revision: t.revision, commit, files };
}

export interface ResolveModelDirOptions extends SnapshotDownloadOptions {
  /** Allow a download when the cache lacks the model. Default `true` (still refused when offline). */
  download?: boolean;
  /**
   * Take an existing local directory of that name as itself. Default `true`; `false` for names that
   * come from files (an adapter card) rather than from the user, which must never become a path.
   */
  localDir?: boolean;
}

/**
 * A local directory → itself; a known id or `org/repo` → its cached snapshot, downloaded first when
 * the cache lacks it and downloads are allowed. A complete cached copy is used without any request.
 *
 * @example
 * ```ts
 * import { resolveModelDir, Siglip } from "vlmkit";
 *
 * const dir = await resolveModelDir("siglip2-base-patch16-224", { download: false }); // cache only
 * const model = await Siglip.load(dir);
 * ```
 */
/** A value no hub repo id can be: relative (./, ../), absolute, home-relative or with more than one "/". */
function looksLikePath(value: string): boolean {
  return (
    value.startsWith(".") ||
    value.startsWith("~") ||
    path.isAbsolute(value) ||
    value.includes("\\") ||
    value.split("/").length > 2
  );
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await fs.stat(dir).catch(() => undefined))?.isDirectory() ?? false;
}

function notADirectory(value: string, problem: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `"${value}": ${problem}; expected a model directory, a known id (see \`vlmkit models\`) or an org/repo on the hub`,
    {
      details: { model: value },
    },
  );
}

export async function resolveModelDir(
  idOrDirOrRepo: string,
  options: ResolveModelDirOptions = {},
): Promise<string> {
  const local = options.localDir !== false;
  const stat = local ? await fs.stat(idOrDirOrRepo).catch(() => undefined) : undefined;
  if (stat?.isDirectory()) return path.resolve(idOrDirOrRepo);
  if (stat) throw notADirectory(idOrDirOrRepo, "is a file, not a model directory");
  if (local && looksLikePath(idOrDirOrRepo) && !findModel(idOrDirOrRepo)) {
    throw notADirectory(idOrDirOrRepo, "no such directory");
  }
  const settings = resolveHubSettings(options);
  const t = target(idOrDirOrRepo, options.revision);
  if (t.entry && !options.files) {
    if (await isCached(t.entry, { ...options, cacheDir: settings.cacheDir })) {
      return (await snapshotPath(t.repo, t.revision, settings))!;
    }
  } else if (!options.files) {
    const dir = await snapshotPath(t.repo, t.revision, settings);
    if (dir) return dir;
  }
  // "models/nope" beside an existing models/ folder is a mistyped path far more often than a hub repo.
  if (local && !t.entry && (await isDirectory(path.dirname(idOrDirOrRepo)))) {
    throw notADirectory(
      idOrDirOrRepo,
      `no such directory (${path.dirname(idOrDirOrRepo)}/ exists here); for the hub repo of that name, run \`vlmkit pull ${idOrDirOrRepo}\` first`,
    );
  }
  if (options.download === false && !settings.offline) {
    throw new HubError(
      "NOT_FOUND",
      `"${idOrDirOrRepo}" is not in the cache at ${settings.cacheDir} and downloads are off; run \`vlmkit pull ${idOrDirOrRepo}\``,
      { details: { model: idOrDirOrRepo } },
    );
  }
  return (await snapshotDownload(idOrDirOrRepo, options)).dir;
}
