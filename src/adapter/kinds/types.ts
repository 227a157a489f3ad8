/**
 * What every adapter kind shares: the kind names, the patch grid the encoder lays its features out
 * on, the `Adapter` interface the runtime and the trainer use, and `KindSpec`, a kind's trainable part
 * (its parameters, their initialization and the graph that maps merged tokens to LLM embeddings).
 */
import type { Graph, Value } from "../../graph/index.js";
import type { Tensor } from "../../tensor.js";

/** The adapter kinds, in the card's `adapter.kind` spelling. */
export const ADAPTER_KINDS = ["linear", "mlp", "pixel-shuffle", "avgpool"] as const;
export type AdapterKindName = (typeof ADAPTER_KINDS)[number];

/** The patch grid of one image, row-major: features row `r · cols + c` is patch (r, c). */
export interface Grid {
  rows: number;
  cols: number;
}

/** What the runtime, the trainer and the card need from an adapter of any kind. */
export interface Adapter {
  readonly kind: AdapterKindName;
  /** Merge factor on the patch grid (r for pixel-shuffle, k for avgpool); 1 for linear and mlp. */
  readonly factor: number;
  /** Dv: the feature width this adapter accepts. */
  readonly inputSize: number;
  /** Dl: the embedding width this adapter produces. */
  readonly outputSize: number;
  /**
   * Patch features [N, Dv] of one image on `grid` (rows · cols = N) → image embeddings [M, Dl], M the
   * merged token count (`mergedGrid`). Kinds that do not merge ignore `grid`; the merging kinds
   * require it.
   */
  apply(features: Tensor, grid?: Grid): Promise<Tensor>;
  /** The trainable tensors under their safetensors names (the same objects: updating them updates the adapter). */
  toTensors(): Map<string, Tensor>;
  /** Releases the adapter's onnxruntime session; `apply` throws `DisposedError` afterwards. */
  dispose(): Promise<void>;
}

/** One trainable tensor of a kind. */
export interface ParamSpec {
  /** safetensors name, e.g. `mlp.0.weight`. */
  name: string;
  dims: number[];
  /** Whether AdamW's decoupled weight decay applies (weights yes; biases and norm scales no). */
  decay: boolean;
}

export interface KindInitOptions {
  /** Dv */
  inputSize: number;
  /** Dl */
  outputSize: number;
  factor: number;
  /** PRNG seed. Default 0. */
  seed?: number;
  /** RMS the outputs should start at (the LLM's scaled token embeddings). Default 1. */
  targetRms?: number;
  /** RMS of the input features. Default 1. */
  inputRms?: number;
}

/** A kind's trainable part: merged tokens [M, tokenWidth] → embeddings [M, Dl]. */
export interface KindSpec {
  readonly name: AdapterKindName;
  /** Whether the kind merges patches on the grid (then `factor` ≥ 2), or maps each patch (factor 1). */
  readonly merges: boolean;
  /** Width of one merged token: Dv, or r²·Dv for pixel-shuffle. */
  tokenWidth(inputSize: number, factor: number): number;
  /** The parameters of an adapter Dv → Dl with this factor, in a fixed order. */
  params(inputSize: number, outputSize: number, factor: number): ParamSpec[];
  /**
   * Appends the trainable part to `g`: `tokens` [M, tokenWidth] and the parameters (graph values by
   * safetensors name) → [M, Dl].
   */
  head(g: Graph, tokens: Value, params: ReadonlyMap<string, Value>): Value;
  /** Seeded initial parameters, scaled so the outputs start at RMS ≈ `targetRms`. */
  init(options: KindInitOptions): Map<string, Tensor>;
}
