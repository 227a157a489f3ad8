/**
 * The gemma3 hyperparameters the training graph needs, read from a GGUF's metadata the way llama.cpp
 * reads them (src/models/gemma3.cpp `load_arch_hparams`, src/llama-model.cpp shared hparams,
 * src/llama-hparams.cpp `set_swa_pattern`), so that the graph computes what llama.cpp computes.
 */
import type { GgufFileInfo } from "node-llama-cpp";
import { ModelFormatError } from "../../errors.js";

export interface Gemma3Spec {
  /** Hidden size E (`embedding_length`). */
  embedding: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** Per-head size of queries and keys (`attention.key_length`; default E / heads). */
  headDim: number;
  /** MLP hidden size (`feed_forward_length`). */
  ff: number;
  vocab: number;
  rmsEps: number;
  /** Per layer: true for a sliding-window (local) layer. */
  local: boolean[];
  /** Window of local layers: a query at p sees keys at p' with p − p' < window. 0 = no local layers. */
  slidingWindow: number;
  /** RoPE base of global layers (`rope.freq_base`, default 1e4). */
  ropeBase: number;
  /** RoPE base of local layers (`rope.freq_base_swa`, default 1e4). */
  ropeBaseLocal: number;
  /** Position multiplier of global layers: 1 / `rope.scaling.factor` (linear scaling), 1 without it. */
  ropeScale: number;
  /** Queries are multiplied by this before QKᵀ (llama.cpp's `f_attention_scale`). */
  attentionScale: number;
  /** `final_logit_softcapping`; 0 = none. */
  finalLogitSoftcap: number;
  /** Whether the GGUF has a separate `output.weight` (otherwise the head is tied to token_embd). */
  separateOutput: boolean;
}

type Meta = Record<string, unknown>;

function lookup(meta: Meta, key: string): unknown {
  let at: unknown = meta;
  for (const part of key.split(".")) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Meta)[part];
  }
  return at;
}

function num(meta: Meta, key: string, fallback?: number): number {
  const v = lookup(meta, key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(`GGUF metadata "${key}" is missing; llama.cpp requires it for gemma3`);
  }
  if (typeof v !== "number" && typeof v !== "bigint") {
    throw new ModelFormatError(`GGUF metadata "${key}" is ${JSON.stringify(v)}; expected a number`);
  }
  return Number(v);
}

/** Layer `il` is local when `il % pattern < pattern − 1` (llama.cpp `set_swa_pattern`, dense_first false). */
export function localLayers(layers: number, pattern: number): boolean[] {
  return Array.from({ length: layers }, (_, il) => pattern === 0 || il % pattern < pattern - 1);
}

/**
 * Reads the spec from `readGgufFileInfo`'s result. Throws ModelFormatError for another architecture,
 * partial rotary dims, per-layer head counts, or a rope scaling other than linear.
 */
export function gemma3SpecFromGguf(info: GgufFileInfo): Gemma3Spec {
  const meta = info.metadata as unknown as Meta;
  const arch = lookup(meta, "general.architecture");
  if (arch !== "gemma3") {
    throw new ModelFormatError(
      `GGUF architecture is "${String(arch)}"; the training graph supports "gemma3"`,
    );
  }
  const k = (key: string) => `gemma3.${key}`;
  const embedding = num(meta, k("embedding_length"));
  const layers = num(meta, k("block_count"));
  for (const key of ["attention.head_count", "attention.head_count_kv"]) {
    if (Array.isArray(lookup(meta, k(key)))) {
      throw new ModelFormatError(`GGUF metadata "${k(key)}" is per-layer; expected one value for all layers`);
    }
  }
  const heads = num(meta, k("attention.head_count"));
  const kvHeads = num(meta, k("attention.head_count_kv"), heads);
  const headDim = num(meta, k("attention.key_length"), embedding / heads);
  const valueDim = num(meta, k("attention.value_length"), embedding / heads);
  if (valueDim !== headDim) {
    throw new ModelFormatError(
      `gemma3 value_length ${valueDim} differs from key_length ${headDim}; expected equal`,
    );
  }
  const rot = num(meta, k("rope.dimension_count"), headDim);
  if (rot !== headDim) {
    throw new ModelFormatError(
      `gemma3 rope.dimension_count ${rot} is partial; expected key_length ${headDim}`,
    );
  }
  if (heads % kvHeads !== 0) {
    throw new ModelFormatError(`gemma3 head_count ${heads} is not a multiple of head_count_kv ${kvHeads}`);
  }
  const scalingType = lookup(meta, k("rope.scaling.type")) ?? "linear";
  const scalingFactor = num(meta, k("rope.scaling.factor"), num(meta, k("rope.scale_linear"), 0));
  if (scalingType !== "linear" && scalingType !== "none" && scalingFactor !== 0) {
    throw new ModelFormatError(
      `gemma3 rope.scaling.type "${String(scalingType)}"; expected "linear" or none`,
    );
  }

  const window = num(meta, k("attention.sliding_window"), 0);
  const patternValue = lookup(meta, k("attention.sliding_window_pattern"));
  if (Array.isArray(patternValue)) {
    throw new ModelFormatError(`gemma3 attention.sliding_window_pattern is an array; expected one number`);
  }
  // llama.cpp's default period is 6 (every sixth layer global), right for released Gemma 3.
  const local = window > 0 ? localLayers(layers, num(meta, k("attention.sliding_window_pattern"), 6)) : [];
  while (local.length < layers) local.push(false);

  const token = info.tensorInfo?.find((t) => t.name === "token_embd.weight");
  if (!token) throw new ModelFormatError(`GGUF has no "token_embd.weight" tensor`);
  const vocab = Number(token.dimensions[1]);
  const is27b = layers === 62; // llama.cpp's LLM_TYPE_27B scales by 1/√(E / heads)
  return {
    embedding,
    layers,
    heads,
    kvHeads,
    headDim,
    ff: num(meta, k("feed_forward_length")),
    vocab,
    rmsEps: num(meta, k("attention.layer_norm_rms_epsilon")),
    local,
    slidingWindow: window,
    ropeBase: num(meta, k("rope.freq_base"), 10_000),
    ropeBaseLocal: num(meta, k("rope.freq_base_swa"), 10_000),
    ropeScale: scalingFactor === 0 || scalingType === "none" ? 1 : 1 / scalingFactor,
    attentionScale: 1 / Math.sqrt(is27b ? Math.floor(embedding / heads) : headDim),
    finalLogitSoftcap: num(meta, k("final_logit_softcapping"), 0),
    separateOutput: (info.tensorInfo ?? []).some((t) => t.name === "output.weight"),
  };
}
