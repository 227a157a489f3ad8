/**
 * `vlmkit models --verify`: checks registry entries against the hub itself, so what `hub/registry.ts`
 * states can be confirmed (or corrected) wherever the hub is reachable:
 *
 * - the repo's file listing (`<endpoint>/api/models/<repo>/revision/<rev>`) holds every file `pull`
 *   fetches: the root configs and tokenizer, the fp32 towers, or the GGUF file;
 * - encoders with a text tower: the zero-shot scalars can be read from the source checkpoint, as `pull`
 *   reads them;
 * - the dims match the repo's own `config.json` and `preprocessor_config.json` (encoders), or the GGUF
 *   header (LLMs: a prefix holding the header is fetched by a Range request, never the weights);
 * - and, for the record, which dtype variants each tower publishes and which keep `.onnx_data`.
 *
 * Config files are fetched at the commit the listing answered for, so listing and dims describe one
 * snapshot. A disagreement is reported, not thrown; an unreachable hub throws HUB_OFFLINE.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseEncoderConfig } from "../encoders/model-config.js";
import { HubError, ModelFormatError, VlmkitError } from "../errors.js";
import { fetchFileMetadata, fetchJsonFile } from "../hub/download.js";
import { ONNX_DTYPES, type OnnxDtype, onnxFileName } from "../hub/dtypes.js";
import { type FileRef, fetchByteRange, hostOf, networkErrorCode, redactUrl } from "../hub/http.js";
import { fetchRepoListing } from "../hub/listing.js";
import type { LogitRecord } from "../hub/logit-record.js";
import { fetchLogitScalars } from "../hub/logit-scalars.js";
import type {
  LlmDims,
  LlmEntry,
  ModelEntry,
  VisionEncoderDims,
  VisionEncoderEntry,
} from "../hub/registry.js";
import { type HubOptions, type HubSettings, resolveHubSettings } from "../hub/settings.js";
import { parsePreprocessorConfig } from "../image/preprocessor-config.js";
import { type GgufCheckedValue, readGgufMetadataPrefix } from "../llm/gguf-check.js";

export interface TowerVariants {
  /** Dtypes whose `onnx/vision_model<suffix>.onnx` is listed. */
  vision: OnnxDtype[];
  /** Dtypes whose `onnx/text_model<suffix>.onnx` is listed. */
  text: OnnxDtype[];
  /** Listed external-data files (`onnx/…onnx_data`). */
  externalData: string[];
}

export interface VerifyReport {
  id: string;
  repo: string;
  revision: string;
  /** Commit the listing answered for; undefined when the repo was not found. */
  commit?: string;
  /** True when nothing disagrees. */
  ok: boolean;
  /** Each disagreement between the registry and the hub, one sentence. */
  problems: string[];
  /** Facts that do not fail the check but mean the entry's note could be updated. */
  notes: string[];
  /** Encoders: the variants the repo publishes. */
  variants?: TowerVariants;
  /** The dims the hub's files state. */
  found?: VisionEncoderDims | LlmDims;
  /** Encoders with a text tower: the zero-shot scalars as read from the source checkpoint. */
  scalars?: LogitRecord;
}

/** An error that belongs to one entry (a file missing, refused or unreadable), not to the whole check. */
function isEntryProblem(error: unknown): error is VlmkitError {
  return error instanceof VlmkitError && error.code !== "HUB_OFFLINE" && error.code !== "ABORTED";
}

const ROOT_FILES = ["config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"];

/** Checks one registry entry against `options.endpoint` (default the hub). */
export async function verifyEntry(entry: ModelEntry, options: HubOptions = {}): Promise<VerifyReport> {
  const settings = resolveHubSettings(options);
  const report: VerifyReport = {
    id: entry.id,
    repo: entry.repo,
    revision: entry.revision,
    ok: false,
    problems: [],
    notes: [],
  };
  await reachable(settings, entry, async () => {
    const listing = await fetchRepoListing(entry.repo, entry.revision, settings).catch((error) => {
      if (!isEntryProblem(error)) throw error;
      report.problems.push(error.message);
      return undefined;
    });
    if (!listing) return;
    report.commit = listing.commit;
    const at = listing.commit ?? entry.revision;
    const files = new Set(listing.files);
    try {
      if (entry.kind === "llm") await verifyLlm(entry, files, at, settings, report);
      else await verifyEncoder(entry, files, at, settings, report);
    } catch (error) {
      // A file that cannot be fetched or read is this entry's problem; the other entries are still checked.
      if (!isEntryProblem(error)) throw error;
      report.problems.push(error.message);
    }
  });
  report.ok = report.problems.length === 0;
  return report;
}

async function verifyEncoder(
  entry: VisionEncoderEntry,
  files: ReadonlySet<string>,
  revision: string,
  settings: HubSettings,
  report: VerifyReport,
): Promise<void> {
  const missing = ROOT_FILES.filter((f) => !files.has(f));
  const variants: TowerVariants = {
    vision: ONNX_DTYPES.filter((d) => files.has(onnxFileName("onnx/vision_model", d))),
    text: ONNX_DTYPES.filter((d) => files.has(onnxFileName("onnx/text_model", d))),
    externalData: [...files].filter((f) => f.startsWith("onnx/") && /\.onnx_data$/.test(f)).sort(),
  };
  report.variants = variants;
  if (!variants.vision.includes("fp32")) missing.push("onnx/vision_model.onnx");
  if (!variants.text.includes("fp32")) {
    if (entry.textTowerMayBeMissing) report.notes.push("no text tower listed, as the entry expects");
    else missing.push("onnx/text_model.onnx");
  } else if (entry.textTowerMayBeMissing) {
    report.notes.push("the text tower is now listed: textTowerMayBeMissing can be dropped");
  }
  if (missing.length > 0) report.problems.push(`not in the file listing: ${missing.join(", ")}`);
  // External data split in numbered chunks (`x.onnx_data_1`) is not fetched by pull.
  const chunks = [...files].filter((f) => /\.onnx_data_\d+$/.test(f));
  if (chunks.length > 0) {
    report.problems.push(
      `weights split into numbered external-data files, which pull does not fetch: ${chunks.slice(0, 4).join(", ")}`,
    );
  }

  if (!files.has("config.json")) return;
  const ref = { repo: entry.repo, revision };
  const config = parseEncoderConfig(
    await fetchJsonFile({ ...ref, file: "config.json" }, settings),
    "config.json",
  );
  const expected = entry.dims;
  const found: VisionEncoderDims = {
    visionHidden: config.visionHidden,
    textEmbed: config.textHidden,
    patchSize: config.patchSize,
  };
  const naflexConfig = config.family === "siglip2";
  if (naflexConfig !== entry.naflex) {
    report.problems.push(
      `config.json model_type is "${config.family}" (${naflexConfig ? "NaFlex" : "fixed resolution"}), the entry says ${entry.naflex ? "NaFlex" : "fixed resolution"}`,
    );
  }
  if (files.has("preprocessor_config.json")) {
    const pre = parsePreprocessorConfig(
      await fetchJsonFile({ ...ref, file: "preprocessor_config.json" }, settings),
      "preprocessor_config.json",
    );
    if (pre.kind === "naflex") found.maxPatches = pre.maxNumPatches;
    else {
      // transformers' SiglipVisionConfig default image_size is 224.
      found.imageSize = config.imageSize ?? 224;
      if (pre.height !== found.imageSize || pre.width !== found.imageSize) {
        report.problems.push(
          `preprocessor_config.json resizes to ${pre.height}×${pre.width} but config.json says image_size ${found.imageSize}`,
        );
      }
    }
  }
  report.found = found;
  if (variants.text.length > 0) {
    // Zero-shot needs logit_scale and logit_bias, which pull reads from the source checkpoint.
    try {
      report.scalars = await fetchLogitScalars(entry.source, "main", settings);
    } catch (error) {
      if (!isEntryProblem(error)) throw error;
      report.problems.push(`zero-shot scalars from ${entry.source}: ${error.message}`);
    }
  }
  compareDims(report, "config.json", expected, found, [
    ["visionHidden", "vision hidden size"],
    ["textEmbed", "text embedding width"],
    ["patchSize", "patch size"],
    ["imageSize", "image size"],
    ["maxPatches", "max_num_patches"],
  ]);
}

async function verifyLlm(
  entry: LlmEntry,
  files: ReadonlySet<string>,
  revision: string,
  settings: HubSettings,
  report: VerifyReport,
): Promise<void> {
  if (!files.has(entry.file)) {
    const ggufs = [...files].filter((f) => f.endsWith(".gguf"));
    report.problems.push(
      `"${entry.file}" is not in the file listing; GGUF files listed: ${ggufs.length > 0 ? ggufs.slice(0, 12).join(", ") : "none"}`,
    );
    return;
  }
  const ref: FileRef = { repo: entry.repo, revision, file: entry.file };
  let metadata: ReadonlyMap<string, GgufCheckedValue>;
  try {
    metadata = await readRemoteGgufMetadata(ref, settings);
  } catch (cause) {
    if (!isEntryProblem(cause)) throw cause;
    report.problems.push(cause.message);
    return;
  }
  const scalar = (key: string) => {
    const v = metadata.get(key);
    return v?.type === "scalar" ? v.value : undefined;
  };
  const arch = String(scalar("general.architecture") ?? "");
  if (arch !== entry.architecture) {
    report.problems.push(`the GGUF's architecture is "${arch}", the entry says "${entry.architecture}"`);
    return;
  }
  const tokens = metadata.get("tokenizer.ggml.tokens");
  const found: LlmDims = {
    nEmbd: Number(scalar(`${arch}.embedding_length`)),
    nLayer: Number(scalar(`${arch}.block_count`)),
    nVocab: tokens?.type === "array" ? tokens.count : Number.NaN,
  };
  report.found = found;
  compareDims(report, "the GGUF header", entry.dims, found, [
    ["nEmbd", `${arch}.embedding_length`],
    ["nLayer", `${arch}.block_count`],
    ["nVocab", "tokenizer.ggml.tokens length"],
  ]);
}

function compareDims<T extends object>(
  report: VerifyReport,
  source: string,
  expected: T,
  found: T,
  fields: readonly (readonly [keyof T & string, string])[],
): void {
  for (const [key, name] of fields) {
    const want = expected[key];
    const got = found[key];
    if (want === undefined && got === undefined) continue;
    if (want !== got)
      report.problems.push(`${name}: the entry says ${String(want)}, ${source} says ${String(got)}`);
  }
}

/** Header bytes fetched first; the prefix grows 4× up to MAX_HEADER_BYTES until it holds the metadata. */
const FIRST_HEADER_BYTES = 1 << 20;
/** Largest GGUF header read: a 262k-token vocabulary takes about 5 MB. */
const MAX_HEADER_BYTES = 64 << 20;

/**
 * The metadata of a GGUF file on the hub, from a bounded prefix of it fetched with a Range request
 * (never the whole file), checked as `checkGgufFile` checks a header.
 */
async function readRemoteGgufMetadata(
  ref: FileRef,
  settings: HubSettings,
): Promise<ReadonlyMap<string, GgufCheckedValue>> {
  const { location, size } = await fetchFileMetadata(ref, settings);
  const name = `${ref.repo}/${ref.file}`;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-gguf-header-"));
  const file = path.join(dir, "header.gguf");
  try {
    for (let want = Math.min(FIRST_HEADER_BYTES, size); ; want = Math.min(want * 4, size)) {
      const prefix = await fetchByteRange(location, 0, want, {
        token: settings.token,
        tokenHost: hostOf(settings.endpoint),
        signal: settings.signal,
      });
      await fs.writeFile(file, prefix);
      const metadata = readGgufMetadataPrefix(file, size, name);
      if (metadata) return metadata;
      if (want >= size || want >= MAX_HEADER_BYTES) {
        throw new ModelFormatError(`GGUF file "${name}" has no complete metadata in its first ${want} bytes`);
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Runs `fn`, turning "host unreachable" into one HUB_OFFLINE error that says verification needs the hub. */
async function reachable<T>(settings: HubSettings, entry: ModelEntry, fn: () => Promise<T>): Promise<T> {
  if (settings.offline) {
    throw new HubError("HUB_OFFLINE", `checking ${entry.id} needs the hub, and HF_HUB_OFFLINE is set`);
  }
  try {
    return await fn();
  } catch (error) {
    const code = networkErrorCode(error);
    if (!code || error instanceof VlmkitError) throw error;
    throw new HubError(
      "HUB_OFFLINE",
      `cannot reach ${hostOf(settings.endpoint)} (${code}) to check ${entry.id}; checking needs the hub or a mirror (HF_ENDPOINT)`,
      { cause: error, details: { endpoint: redactUrl(settings.endpoint), code } },
    );
  }
}
