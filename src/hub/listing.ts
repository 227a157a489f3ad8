/**
 * File choice for repos outside the registry, from the hub's listing
 * `<endpoint>/api/models/<repo>/revision/<rev>` (`siblings[].rfilename`, as huggingface_hub's
 * snapshot_download reads it): the encoder files for the chosen dtype, or the single GGUF file.
 */
import { HubError } from "../errors.js";
import { isCommitHash } from "./cache.js";
import { fetchJson } from "./download.js";
import type { FileRef } from "./http.js";
import type { FileSpec, ModelFileOptions, VisionEncoderEntry } from "./registry.js";
import { modelFiles } from "./registry.js";
import type { HubSettings } from "./settings.js";

/** Longest listing read; one of a repo with thousands of files is well under this. */
const MAX_LISTING_BYTES = 16 << 20;

export interface RepoListing {
  /** Commit the revision resolved to (`sha`), when the hub said. */
  commit: string | undefined;
  /** Every file path in the repo at that commit. */
  files: string[];
}

export async function fetchRepoListing(
  repo: string,
  revision: string,
  settings: HubSettings,
): Promise<RepoListing> {
  const url = `${settings.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
  const ref: FileRef = { repo, revision, file: "(file listing)" };
  const body = (await fetchJson(url, ref, settings, MAX_LISTING_BYTES)) as {
    sha?: unknown;
    siblings?: unknown;
  };
  const siblings = Array.isArray(body?.siblings) ? (body.siblings as { rfilename?: unknown }[]) : [];
  return {
    commit: typeof body?.sha === "string" && isCommitHash(body.sha) ? body.sha : undefined,
    files: siblings.map((s) => s?.rfilename).filter((f): f is string => typeof f === "string"),
  };
}

export async function listRepoFiles(
  repo: string,
  revision: string,
  settings: HubSettings,
  options: ModelFileOptions,
): Promise<FileSpec[]> {
  const siblings = (await fetchRepoListing(repo, revision, settings)).files;
  const present = new Set(siblings);
  const ggufs = siblings.filter((f) => f.endsWith(".gguf"));
  if (present.has("onnx/vision_model.onnx") || siblings.some((f) => f.startsWith("onnx/vision_model"))) {
    // Same file set as a registry encoder; only files the repo actually lists are kept.
    const asEncoder = { kind: "vision-encoder" } as VisionEncoderEntry;
    return modelFiles(asEncoder, options).filter((s) => present.has(s.path) || !s.optional);
  }
  if (ggufs.length === 1) return [{ path: ggufs[0], optional: false }];
  throw new HubError(
    "NOT_FOUND",
    ggufs.length > 1
      ? `${repo}@${revision} holds ${ggufs.length} GGUF files (${ggufs.slice(0, 4).join(", ")}${ggufs.length > 4 ? ", …" : ""}); name the one to fetch`
      : `${repo}@${revision} holds neither onnx/vision_model*.onnx nor a GGUF file; name the files to fetch`,
    { details: { repo, revision, files: siblings.slice(0, 50) } },
  );
}
