/**
 * Reads an mmproj GGUF (or a model GGUF that carries the `v.*`/`mm.*` tensors itself) whose vision tower
 * is SigLIP-style, and checks everything before anything is built from it: the projector type, every
 * hyperparameter against bounds and against the others, the graph features vlmkit's SigLIP graph does
 * not compute (pre-layernorm, class embedding, fused QKV, tiling grids, other activations), and every
 * tensor's presence, dims and type. A file that fails any check is a `ModelFormatError` naming the
 * file and what is wrong; nothing it declares is trusted before that.
 */
import { IncompatibleModelError, ModelFormatError, quoteValue } from "../errors.js";
import { GgufReader } from "../llm/gguf-read.js";
import { vocabFingerprint } from "../llm/identity.js";
import { type Tensor, tensor } from "../tensor.js";
import {
  GEMMA3_DEFAULT_MERGE,
  KEY,
  PROJECTOR_TYPES,
  type ProjectorType,
  projectorTensors,
  type TensorMapping,
  towerTensors,
  transpose2d,
} from "./mmproj-format.js";
import type { TowerConfig } from "./tower-onnx.js";

/** Bounds on what a file may declare (real towers: ≤ 1664 wide, ≤ 48 layers, ≤ 896 px, patches of 14–16). */
export const MMPROJ_BOUNDS = Object.freeze({
  maxWidth: 16384,
  maxFfn: 65536,
  maxBlocks: 256,
  maxImageSize: 4096,
  maxPatch: 64,
  maxHeads: 256,
  maxProjection: 65536,
  maxMerge: 64,
});

/** The LLM a model GGUF carries next to its vision tensors. */
export interface CarriedLlm {
  architecture: string;
  nEmbd: number;
  nVocab: number;
  vocabFingerprint: string;
  name: string;
}

/** An mmproj file's vision tower (the fields `writeTowerDir` takes) and projector. */
export interface Mmproj extends Omit<TowerConfig, "resample"> {
  file: string;
  projector: ProjectorType;
  /** Layers stored in the file (`layers`: those llama.cpp runs: all for gemma3 / idefics3; the feature layer for mlp, default all but the last). */
  blocks: number;
  /** Merge factor: k (gemma3), r (idefics3), 1 (mlp). */
  factor: number;
  /** Dl */
  projectionDim: number;
  /** Tower weights under their ONNX names, in vlmkit's layout (fp32, dequantized). */
  tower: Map<string, Tensor>;
  /** Adapter tensors under their safetensors names, in vlmkit's layout. */
  adapter: Map<string, Tensor>;
  /** Present when the file is a model GGUF carrying its LLM too. */
  llm?: CarriedLlm;
}

/** Value of a dotted key in node-llama-cpp's nested metadata (also when it flattened colliding keys). */
function metaGet(node: unknown, key: string): unknown {
  if (node === null || typeof node !== "object") return undefined;
  const record = node as Record<string, unknown>;
  if (Object.hasOwn(record, key)) return record[key];
  const parts = key.split(".");
  for (let i = 1; i < parts.length; i++) {
    const head = parts.slice(0, i).join(".");
    if (Object.hasOwn(record, head)) {
      const found = metaGet(record[head], parts.slice(i).join("."));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * A metadata value or key for an error message: a GGUF string may be megabytes long and an array
 * millions of values, and 64-bit integers arrive as bigints (which JSON cannot write). At most the
 * first 8 values of an array, each cut to 40 characters; the whole cut as `quoteValue` does.
 */
function quote(v: unknown): string {
  const one = (x: unknown) => (typeof x === "bigint" ? String(x) : quoteValue(x, 40));
  if (!Array.isArray(v)) return typeof v === "bigint" ? String(v) : quoteValue(v);
  const head = v.slice(0, 8).map(one).join(", ");
  return `[${head}${v.length > 8 ? `, … (${v.length} values)` : ""}]`;
}

const DECODABLE = new Set(["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"]);

class Checker {
  constructor(
    readonly file: string,
    readonly meta: unknown,
  ) {}

  fail(message: string): never {
    throw new ModelFormatError(`${this.file}: ${message}`);
  }

  raw(key: string): unknown {
    return metaGet(this.meta, key);
  }

  int(key: string, min: number, max: number, fallback?: number): number {
    const v = this.raw(key);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      this.fail(`metadata ${quote(key)} is missing`);
    }
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      this.fail(`metadata ${quote(key)} is ${quote(v)}; expected an integer in ${min}..${max}`);
    }
    return n;
  }

  float(key: string, min: number, max: number): number {
    const v = this.raw(key);
    if (typeof v !== "number" || !Number.isFinite(v) || v <= min || v >= max) {
      this.fail(`metadata ${quote(key)} is ${quote(v)}; expected a number in (${min}, ${max})`);
    }
    return v;
  }

  triple(key: string, positive: boolean): [number, number, number] {
    const v = this.raw(key);
    const ok =
      Array.isArray(v) &&
      v.length >= 3 &&
      v.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0));
    if (!ok)
      this.fail(
        `metadata ${quote(key)} is ${quote(v)}; expected an array of at least 3 finite${positive ? " positive" : ""} numbers`,
      );
    return [v[0], v[1], v[2]];
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") this.fail(`metadata ${quote(key)} is ${quote(v)}; expected a boolean`);
    return v;
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") this.fail(`metadata ${quote(key)} is ${quote(v)}; expected a string`);
    return v;
  }
}

/** Tensors llama.cpp would read for a SigLIP tower but vlmkit's graph has no place for. */
const UNSUPPORTED_TENSORS: readonly [RegExp, string][] = [
  [/^v\.pre_ln\./, "a pre-layernorm (CLIP-style towers)"],
  [/^v\.class_embd$/, "a class embedding (CLIP-style towers)"],
  [/^v\.blk\.\d+\.attn_qkv\./, "fused QKV attention"],
  [/^v\.blk\.\d+\.attn_[qk]_norm\./, "QK normalization"],
  [
    /^v\.blk\.\d+\.(ls1|ls2|out_scale|attn_post_norm|ffn_post_norm|ffn_gate)\./,
    "layer scales, post-norms or a gated FFN",
  ],
  [/^v\.patch_embd\.weight\.1$/, "a second patch embedding (video towers)"],
  [/^mm\.(1|3|4)\./, "an MLP projector with normalization layers (Yi-style LLaVA)"],
];

/**
 * Reads and checks `file`. Throws `ModelFormatError` for anything vlmkit cannot reproduce faithfully,
 * naming the supported projector types when the type is the problem.
 */
export async function readMmproj(file: string): Promise<Mmproj> {
  const reader = await GgufReader.open(file);
  try {
    return await readOpen(reader, file);
  } finally {
    await reader.close();
  }
}

async function readOpen(reader: GgufReader, file: string): Promise<Mmproj> {
  const c: Checker = new Checker(file, reader.info.metadata);
  const type = c.string(KEY.projectorType) ?? c.string(KEY.visionProjectorType);
  if (type === undefined) {
    c.fail(
      `no "${KEY.projectorType}" metadata: this is not an mmproj file, nor a model GGUF that carries a vision tower`,
    );
  }
  if (!(PROJECTOR_TYPES as string[]).includes(type)) {
    c.fail(
      `projector type ${quote(type)} is not supported; vlmkit imports ${PROJECTOR_TYPES.map((p) => `"${p}"`).join(", ")} (SigLIP towers)`,
    );
  }
  const projector = type as ProjectorType;
  if (c.bool(KEY.hasVision) === false) c.fail(`"${KEY.hasVision}" is false: the file has no vision tower`);
  if (c.bool(KEY.useGelu) !== true || c.bool(KEY.useSilu) === true) {
    c.fail(
      `"${KEY.useGelu}" is not true: llama.cpp then runs the tower's FFN with gelu_quick or silu, but a SigLIP tower uses gelu (tanh)`,
    );
  }
  const B = MMPROJ_BOUNDS;
  const width = c.int(KEY.width, 1, B.maxWidth);
  const ffn = c.int(KEY.ffn, 1, B.maxFfn);
  const blocks = c.int(KEY.blocks, 1, B.maxBlocks);
  const heads = c.int(KEY.heads, 1, B.maxHeads);
  if (width % heads !== 0) c.fail(`embedding_length ${width} is not divisible by head_count ${heads}`);
  if (c.raw(KEY.headsKv) !== undefined && c.int(KEY.headsKv, 1, B.maxHeads) !== heads) {
    c.fail(`"${KEY.headsKv}" differs from head_count: grouped-query attention is not a SigLIP tower`);
  }
  if (c.raw(KEY.headDim) !== undefined && c.int(KEY.headDim, 1, B.maxWidth) * heads !== width) {
    c.fail(`"${KEY.headDim}" × head_count is not embedding_length`);
  }
  const eps = c.float(KEY.eps, 0, 1);
  const imageSize = c.int(KEY.imageSize, 1, B.maxImageSize);
  const patch = c.int(KEY.patchSize, 1, B.maxPatch);
  if (imageSize % patch !== 0) c.fail(`image_size ${imageSize} is not a multiple of patch_size ${patch}`);
  const side = imageSize / patch;
  const imageMean = c.triple(KEY.imageMean, false);
  const imageStd = c.triple(KEY.imageStd, true);
  const projectionDim = c.int(KEY.projectionDim, 1, B.maxProjection, 0);
  if (c.raw(KEY.gridPinpoints) !== undefined) {
    c.fail(
      `"${KEY.gridPinpoints}" is set: llama.cpp tiles images (LLaVA-NeXT), which vlmkit's fixed-resolution encoder does not`,
    );
  }

  let factor = 1;
  let layers = blocks;
  if (projector === "gemma3") {
    factor = c.int(KEY.scaleFactor, 1, B.maxMerge, GEMMA3_DEFAULT_MERGE);
    if (factor < 2 || side % factor !== 0) {
      c.fail(
        `gemma3 pools ${factor}×${factor} patches, which must be ≥ 2 and divide the ${side}×${side} patch grid`,
      );
    }
  } else if (projector === "idefics3") {
    factor = c.int(KEY.scaleFactor, 0, B.maxMerge, 0);
    if (factor < 2 || side % factor !== 0) {
      c.fail(
        `idefics3 needs "${KEY.scaleFactor}" ≥ 2 dividing the ${side}×${side} patch grid, got ${factor}`,
      );
    }
  } else {
    const feature = c.raw(KEY.featureLayer);
    if (feature !== undefined) {
      const list = Array.isArray(feature) ? feature.map(Number) : [Number(feature)];
      if (list.length !== 1 || !Number.isInteger(list[0]) || list[0] < 1 || list[0] > blocks) {
        c.fail(
          `"${KEY.featureLayer}" is ${quote(feature)}; vlmkit takes one feature layer in 1..${blocks} (several are concatenated, as Granite does, which it does not)`,
        );
      }
      layers = list[0];
    } else {
      // llama.cpp's llava graph takes the second-to-last layer when no feature layer is given.
      if (blocks < 2)
        c.fail(
          `an mlp projector without "${KEY.featureLayer}" uses layer ${blocks - 1}, so it needs ≥ 2 blocks`,
        );
      layers = blocks - 1;
    }
  }

  for (const name of reader.tensors.keys()) {
    for (const [pattern, what] of UNSUPPORTED_TENSORS) {
      if (pattern.test(name))
        c.fail(`tensor "${name}" means ${what}, which vlmkit's SigLIP graph does not compute`);
    }
  }

  // Dl from the projector's own tensors (checked against projection_dim when that is given).
  const dl = projectorWidth(reader, c, projector);
  if (projectionDim !== 0 && projectionDim !== dl) {
    c.fail(`"${KEY.projectionDim}" is ${projectionDim} but the projector outputs ${dl}`);
  }
  // llama.cpp's is_ffn_swapped: fc1 is in ffn_down when that tensor's ggml ne[0] is the width D.
  const swapped = reader.tensors.get("v.blk.0.ffn_down.weight")?.ggmlDims[0] === width;
  const mappings = [
    ...towerTensors({ width, ffn, blocks, patch, positions: side * side }, swapped),
    ...projectorTensors(projector, width, dl, factor),
  ];
  const tower = new Map<string, Tensor>();
  const adapter = new Map<string, Tensor>();
  for (const m of mappings) {
    const blockIndex = /^v\.blk\.(\d+)\./.exec(m.gguf);
    if (blockIndex && Number(blockIndex[1]) >= layers) continue; // layers llama.cpp does not run
    const t = await readChecked(reader, c, m);
    (m.part === "tower" ? tower : adapter).set(m.vlmkit, t);
  }
  return {
    file,
    projector,
    hidden: width,
    mlp: ffn,
    heads,
    blocks,
    layers,
    eps,
    imageSize,
    patch,
    imageMean,
    imageStd,
    factor,
    projectionDim: dl,
    tower,
    adapter,
    llm: carriedLlm(reader, c),
  };
}

function projectorWidth(reader: GgufReader, c: Checker, projector: ProjectorType): number {
  const name = { gemma3: "mm.input_projection.weight", idefics3: "mm.model.fc.weight", mlp: "mm.2.weight" }[
    projector
  ];
  const t = reader.tensors.get(name);
  if (!t) c.fail(`a ${projector} projector needs tensor "${name}", which is missing`);
  if (t.dims.length !== 2) c.fail(`tensor "${name}" is [${t.dims.join(", ")}]; expected 2 dims`);
  // gemma3's is [Dv, Dl] row-major; idefics3's and mlp's [Dl, in].
  const dl = projector === "gemma3" ? t.dims[1] : t.dims[0];
  if (dl < 1 || dl > MMPROJ_BOUNDS.maxProjection) c.fail(`tensor "${name}" gives an output width of ${dl}`);
  return dl;
}

/** Reads one mapped tensor after checking its presence, type and dims; returns it in vlmkit's layout. */
async function readChecked(reader: GgufReader, c: Checker, m: TensorMapping): Promise<Tensor> {
  const entry = reader.tensors.get(m.gguf);
  if (!entry) c.fail(`tensor "${m.gguf}" is missing`);
  const typeName = entry.type?.name;
  if (!typeName || !DECODABLE.has(typeName)) {
    c.fail(
      `tensor "${m.gguf}" has ggml type ${typeName ?? `id ${entry.typeId}`}; vlmkit decodes ${[...DECODABLE].join(", ")}`,
    );
  }
  const dims = [...entry.dims];
  // ggml drops trailing dims of 1 nowhere in these tensors, but a 1-D tensor may be written as [n, 1].
  while (dims.length > m.ggufDims.length && dims[0] === 1) dims.shift();
  if (dims.length !== m.ggufDims.length || dims.some((d, i) => d !== m.ggufDims[i])) {
    c.fail(`tensor "${m.gguf}" is [${entry.dims.join(", ")}]; expected [${m.ggufDims.join(", ")}]`);
  }
  const t = await reader.readTensor(m.gguf);
  for (const v of t.data) {
    if (!Number.isFinite(v)) c.fail(`tensor "${m.gguf}" holds a non-finite value`);
  }
  if (!m.transpose) return tensor(t.data, m.ggufDims);
  const [rows, cols] = m.ggufDims;
  return tensor(transpose2d(t.data, rows, cols), [cols, rows]);
}

/** The identity of the LLM in the GGUF `file` (architecture, n_embd, vocabulary), read from its metadata. */
export async function readLlmIdentity(file: string): Promise<CarriedLlm> {
  const reader = await GgufReader.open(file);
  try {
    const llm = carriedLlm(reader, new Checker(file, reader.info.metadata));
    if (!llm)
      throw new ModelFormatError(
        `${file} is not an LLM GGUF (no architecture, vocabulary or token_embd.weight)`,
      );
    return llm;
  } finally {
    await reader.close();
  }
}

/** The LLM identity of a model GGUF that carries one (an architecture with a vocabulary), else undefined. */
function carriedLlm(reader: GgufReader, c: Checker): CarriedLlm | undefined {
  const architecture = c.string(KEY.architecture);
  const tokens = c.raw("tokenizer.ggml.tokens");
  if (!architecture || architecture === "clip" || !Array.isArray(tokens)) return undefined;
  const nEmbd = c.int(`${architecture}.embedding_length`, 1, MMPROJ_BOUNDS.maxProjection);
  if (!reader.tensors.has("token_embd.weight")) return undefined;
  return {
    architecture,
    nEmbd,
    nVocab: tokens.length,
    vocabFingerprint: vocabFingerprint(tokens as string[]),
    name: c.string(KEY.name) ?? architecture,
  };
}

/** Throws when Dl of the projector is not the LLM's n_embd. */
export function checkProjectorFits(m: Mmproj, llm: { nEmbd: number; name: string }): void {
  if (m.projectionDim !== llm.nEmbd) {
    throw new IncompatibleModelError(
      `${m.file} projects to ${m.projectionDim} but the LLM "${llm.name}" has n_embd ${llm.nEmbd}`,
    );
  }
}
