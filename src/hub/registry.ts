/**
 * Known models: short ids → Hugging Face repo, the files vlmkit needs from it, and the dimensions other
 * stages check against. Runtime code still reads dims from the downloaded `config.json` / GGUF header;
 * the numbers here let `vlmkit models` answer without a download and let adapters be planned ahead.
 *
 * `evidence` says how each entry was checked and `note` what is still open; where each fact was seen:
 * docs/hub.md#where-each-fact-was-seen. `vlmkit models --verify` (src/cli/registry-check.ts) checks the entries
 * against the hub itself.
 */
import { InvalidArgumentError } from "../errors.js";
import { externalDataName, type OnnxDtype, onnxFileName } from "./dtypes.js";

/**
 * How an entry's repo, files and dims were confirmed, strongest first:
 * - `listing`: the repo's own file listing was seen on the hub, with the files vlmkit fetches;
 * - `manifests`: the files vlmkit fetches were seen with exact paths (and byte sizes or sha256) in
 *   published code that downloads them from this repo, and the dims in the checkpoint's config;
 * - `named`: the repo is named by published code; its files follow its verified siblings.
 */
export type Evidence = "listing" | "manifests" | "named";

interface BaseEntry {
  /** Short id used on the command line, e.g. `siglip2-base-patch16-224`. */
  id: string;
  /** `org/repo` on the hub. */
  repo: string;
  /** Branch, tag or commit to fetch. */
  revision: string;
  /** Upstream checkpoint the files were converted from. */
  source: string;
  evidence: Evidence;
  /** What could not be confirmed, or anything a user should know. */
  note?: string;
}

export interface VisionEncoderDims {
  /** Vision tower hidden size Dv: width of `last_hidden_state` [N, Dv]. */
  visionHidden: number;
  /** Width of the pooled text embedding (equal to the image embedding width in SigLIP). */
  textEmbed: number;
  /** Square input resolution for fixed-resolution models; absent for NaFlex. */
  imageSize?: number;
  patchSize: number;
  /** NaFlex only: default `max_num_patches` of the processor. */
  maxPatches?: number;
}

export interface VisionEncoderEntry extends BaseEntry {
  kind: "vision-encoder";
  family: "siglip" | "siglip2";
  naflex: boolean;
  dims: VisionEncoderDims;
  /**
   * The published repo was seen without `onnx/text_model*.onnx`: the text tower is fetched when present
   * and skipped otherwise (zero-shot scores and text embeddings then need another export). Default false.
   */
  textTowerMayBeMissing?: boolean;
}

export interface LlmDims {
  nEmbd: number;
  nLayer: number;
  nVocab: number;
}

export interface LlmEntry extends BaseEntry {
  kind: "llm";
  architecture: "gemma3";
  /** The GGUF file fetched by default. */
  file: string;
  dims: LlmDims;
}

export type ModelEntry = VisionEncoderEntry | LlmEntry;

/** One file to fetch; optional files are skipped when the hub answers 404. */
export interface FileSpec {
  path: string;
  optional: boolean;
}

const GOOGLE = "google/";

function siglip(
  id: string,
  repo: string,
  dims: VisionEncoderDims,
  extra: Partial<VisionEncoderEntry> & { evidence: Evidence },
): VisionEncoderEntry {
  const family = id.startsWith("siglip2") ? "siglip2" : "siglip";
  return {
    id,
    repo,
    revision: "main",
    source: GOOGLE + id,
    kind: "vision-encoder",
    family,
    naflex: false,
    dims,
    ...extra,
  };
}

/** What the onnx-community SigLIP 2 repos share (their root listings and download manifests agree). */
const TEXT_DATA = "the fp32 text tower keeps its weights in onnx/text_model.onnx_data (fetched with it)";

export const MODELS: readonly ModelEntry[] = [
  // SigLIP 1: the Xenova/* onnx/ listings show {vision,text}_model{,_fp16,_quantized}.onnx as single files.
  siglip(
    "siglip-base-patch16-224",
    "Xenova/siglip-base-patch16-224",
    { visionHidden: 768, textEmbed: 768, imageSize: 224, patchSize: 16 },
    {
      evidence: "listing",
    },
  ),
  siglip(
    "siglip-base-patch16-256",
    "Xenova/siglip-base-patch16-256",
    { visionHidden: 768, textEmbed: 768, imageSize: 256, patchSize: 16 },
    {
      evidence: "listing",
    },
  ),
  siglip(
    "siglip-base-patch16-384",
    "Xenova/siglip-base-patch16-384",
    { visionHidden: 768, textEmbed: 768, imageSize: 384, patchSize: 16 },
    {
      evidence: "listing",
    },
  ),
  siglip(
    "siglip-base-patch16-512",
    "Xenova/siglip-base-patch16-512",
    { visionHidden: 768, textEmbed: 768, imageSize: 512, patchSize: 16 },
    {
      evidence: "listing",
      note: "publishes fp32 and q8 (quantized) only: no fp16 files",
    },
  ),
  siglip(
    "siglip-large-patch16-256",
    "Xenova/siglip-large-patch16-256",
    { visionHidden: 1024, textEmbed: 1024, imageSize: 256, patchSize: 16 },
    {
      evidence: "listing",
    },
  ),
  // SigLIP 2, fixed resolution (config model_type "siglip"): onnx-community/* exports of google/siglip2-*.
  // Widths per size class as in transformers' conversion script: base 768, large 1024, so400m 1152;
  // giant-opt: vision 1536, text 1152 projected to 1536 (text_config.projection_size).
  siglip(
    "siglip2-base-patch16-224",
    "onnx-community/siglip2-base-patch16-224-ONNX",
    { visionHidden: 768, textEmbed: 768, imageSize: 224, patchSize: 16 },
    {
      evidence: "manifests",
    },
  ),
  siglip(
    "siglip2-base-patch16-256",
    "onnx-community/siglip2-base-patch16-256-ONNX",
    { visionHidden: 768, textEmbed: 768, imageSize: 256, patchSize: 16 },
    {
      evidence: "manifests",
      note: "root listing seen on the hub; onnx/ files from manifests",
    },
  ),
  siglip(
    "siglip2-base-patch16-384",
    "onnx-community/siglip2-base-patch16-384-ONNX",
    { visionHidden: 768, textEmbed: 768, imageSize: 384, patchSize: 16 },
    {
      evidence: "manifests",
    },
  ),
  siglip(
    "siglip2-base-patch16-512",
    "onnx-community/siglip2-base-patch16-512-ONNX",
    { visionHidden: 768, textEmbed: 768, imageSize: 512, patchSize: 16 },
    {
      evidence: "manifests",
    },
  ),
  siglip(
    "siglip2-base-patch32-256",
    "onnx-community/siglip2-base-patch32-256-ONNX",
    { visionHidden: 768, textEmbed: 768, imageSize: 256, patchSize: 32 },
    {
      evidence: "manifests",
    },
  ),
  siglip(
    "siglip2-large-patch16-256",
    "onnx-community/siglip2-large-patch16-256-ONNX",
    { visionHidden: 1024, textEmbed: 1024, imageSize: 256, patchSize: 16 },
    {
      evidence: "manifests",
      note: TEXT_DATA,
    },
  ),
  siglip(
    "siglip2-large-patch16-384",
    "onnx-community/siglip2-large-patch16-384-ONNX",
    { visionHidden: 1024, textEmbed: 1024, imageSize: 384, patchSize: 16 },
    {
      evidence: "manifests",
      note: TEXT_DATA,
    },
  ),
  siglip(
    "siglip2-large-patch16-512",
    "onnx-community/siglip2-large-patch16-512-ONNX",
    { visionHidden: 1024, textEmbed: 1024, imageSize: 512, patchSize: 16 },
    {
      evidence: "manifests",
      note: TEXT_DATA,
    },
  ),
  siglip(
    "siglip2-so400m-patch14-224",
    "onnx-community/siglip2-so400m-patch14-224-ONNX",
    { visionHidden: 1152, textEmbed: 1152, imageSize: 224, patchSize: 14 },
    {
      evidence: "named",
      note: `onnx/ listing not seen; ${TEXT_DATA} as in its siblings`,
    },
  ),
  siglip(
    "siglip2-so400m-patch14-384",
    "onnx-community/siglip2-so400m-patch14-384-ONNX",
    { visionHidden: 1152, textEmbed: 1152, imageSize: 384, patchSize: 14 },
    {
      evidence: "manifests",
      note: TEXT_DATA,
    },
  ),
  siglip(
    "siglip2-so400m-patch16-256",
    "onnx-community/siglip2-so400m-patch16-256-ONNX",
    { visionHidden: 1152, textEmbed: 1152, imageSize: 256, patchSize: 16 },
    {
      evidence: "manifests",
      note: TEXT_DATA,
    },
  ),
  siglip(
    "siglip2-so400m-patch16-384",
    "onnx-community/siglip2-so400m-patch16-384-ONNX",
    { visionHidden: 1152, textEmbed: 1152, imageSize: 384, patchSize: 16 },
    {
      evidence: "manifests",
      note: TEXT_DATA,
    },
  ),
  siglip(
    "siglip2-so400m-patch16-512",
    "onnx-community/siglip2-so400m-patch16-512-ONNX",
    { visionHidden: 1152, textEmbed: 1152, imageSize: 512, patchSize: 16 },
    {
      evidence: "named",
      note: `root listing seen on the hub, onnx/ listing not; ${TEXT_DATA} as in its siblings`,
    },
  ),
  siglip(
    "siglip2-giant-opt-patch16-256",
    "onnx-community/siglip2-giant-opt-patch16-256-ONNX",
    { visionHidden: 1536, textEmbed: 1536, imageSize: 256, patchSize: 16 },
    {
      evidence: "manifests",
      note: "vision fp32 and fp16 keep their weights in .onnx_data",
    },
  ),
  siglip(
    "siglip2-giant-opt-patch16-384",
    "onnx-community/siglip2-giant-opt-patch16-384-ONNX",
    { visionHidden: 1536, textEmbed: 1536, imageSize: 384, patchSize: 16 },
    {
      evidence: "manifests",
      note: "vision fp32 and fp16 keep their weights in .onnx_data",
    },
  ),
  // SigLIP 2 NaFlex: variable resolution, inputs pixel_values (B, N, 3·p²), pixel_attention_mask, spatial_shapes.
  siglip(
    "siglip2-base-patch16-naflex",
    "onnx-community/siglip2-base-patch16-naflex-ONNX",
    { visionHidden: 768, textEmbed: 768, patchSize: 16, maxPatches: 256 },
    {
      naflex: true,
      textTowerMayBeMissing: true,
      evidence: "manifests",
      note: "vision tower only (fp32, fp16, q4, q4f16, each with .onnx_data); no text tower published, so pull it with --no-text-tower for a VLM",
    },
  ),
  // Gemma 3 GGUF (llama.cpp). 270M dims read from a published GGUF header (token_embd [640, 262144],
  // block_count 18); 1B/4B dims from the HF configs of google/gemma-3-{1b,4b}-it.
  {
    id: "gemma-3-270m-it",
    kind: "llm",
    architecture: "gemma3",
    repo: "unsloth/gemma-3-270m-it-GGUF",
    revision: "main",
    source: "google/gemma-3-270m-it",
    file: "gemma-3-270m-it-Q8_0.gguf",
    dims: { nEmbd: 640, nLayer: 18, nVocab: 262144 },
    evidence: "manifests",
    note: "file seen in published download links and manifests (291545600 bytes); dims from a published GGUF header of the same model",
  },
  {
    id: "gemma-3-1b-it",
    kind: "llm",
    architecture: "gemma3",
    repo: "unsloth/gemma-3-1b-it-GGUF",
    revision: "main",
    source: "google/gemma-3-1b-it",
    file: "gemma-3-1b-it-Q4_K_M.gguf",
    dims: { nEmbd: 1152, nLayer: 26, nVocab: 262144 },
    evidence: "listing",
    note: "file listing confirmed; dims from the HF config, not read from this GGUF",
  },
  {
    id: "gemma-3-4b-it",
    kind: "llm",
    architecture: "gemma3",
    repo: "ggml-org/gemma-3-4b-it-GGUF",
    revision: "main",
    source: "google/gemma-3-4b-it",
    file: "gemma-3-4b-it-Q4_K_M.gguf",
    dims: { nEmbd: 2560, nLayer: 34, nVocab: 262208 },
    evidence: "listing",
    note: "file listing seen (Q4_K_M, Q8_0, f16, and mmproj-model-f16.gguf, which vlmkit does not use); dims from the HF config (vocab 262208), not read from this GGUF",
  },
];

export function listModels(): readonly ModelEntry[] {
  return MODELS;
}

/** Looks up a known model by short id or by its repo (`org/repo`, case-insensitive). */
export function findModel(idOrRepo: string): ModelEntry | undefined {
  const key = idOrRepo.toLowerCase();
  return MODELS.find((m) => m.id === key || m.repo.toLowerCase() === key);
}

export function getModel(id: string): ModelEntry {
  const entry = findModel(id);
  if (!entry) {
    throw new InvalidArgumentError(
      `unknown model "${id}"; expected a known id (see \`vlmkit models\`) or an org/repo`,
      { details: { model: id } },
    );
  }
  return entry;
}

export interface ModelFileOptions {
  /** ONNX weight variant for encoder towers. Default `fp32`. */
  dtype?: OnnxDtype;
  /** Also fetch the text tower (needed for zero-shot scores, not for a VLM). Default `true`. */
  textTower?: boolean;
}

/** The files to fetch for an entry, in download order (small config files first). */
export function modelFiles(entry: ModelEntry, options: ModelFileOptions = {}): FileSpec[] {
  if (entry.kind === "llm") return [{ path: entry.file, optional: false }];
  const dtype = options.dtype ?? "fp32";
  const files: FileSpec[] = [
    { path: "config.json", optional: false },
    { path: "preprocessor_config.json", optional: false },
    { path: "tokenizer.json", optional: false },
    { path: "tokenizer_config.json", optional: false },
    { path: "special_tokens_map.json", optional: true },
  ];
  const towers = options.textTower === false ? ["vision_model"] : ["vision_model", "text_model"];
  for (const tower of towers) {
    const onnx = onnxFileName(`onnx/${tower}`, dtype);
    files.push({ path: onnx, optional: tower === "text_model" && entry.textTowerMayBeMissing === true });
    // Towers over 2 GB keep their weights in a sibling file; which ones do varies per repo and dtype.
    files.push({ path: externalDataName(onnx), optional: true });
  }
  return files;
}
