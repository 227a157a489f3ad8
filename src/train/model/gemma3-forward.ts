/**
 * Runs the gemma3 ONNX graph on a GGUF's weights: weights are dequantized once at load, sessions are
 * built per (length bucket, output count) on first use, inputs are padded to the bucket and the
 * padding is masked.
 */
import * as ort from "onnxruntime-node";
import { DisposedError, InvalidArgumentError, ShapeError } from "../../errors.js";
import type { TokenRange } from "../../prompt/token-layout.js";
import { type Tensor, tensor } from "../../tensor.js";
import { attentionMask } from "./attention-mask.js";
import { buildGemma3Graph } from "./gemma3-graph.js";
import type { Gemma3Spec } from "./gemma3-spec.js";
import type { LoadWeightsOptions } from "./gemma3-weights.js";
import { readGemma3, SessionCache, smallestFit } from "./sessions.js";

export interface Gemma3ForwardOptions extends LoadWeightsOptions {
  /** Length buckets T; an input runs in the smallest bucket that holds it. Default [32, 64, 128, 256, 512, 1024]. */
  lengths?: readonly number[];
  /** onnxruntime intra-op threads. Default `defaultThreads()` (physical cores). */
  threads?: number;
  /** Round like llama.cpp's CPU backend (see `Gemma3GraphOptions.roundLikeLlamaCpp`). Default false. */
  roundLikeLlamaCpp?: boolean;
}

/** An input embedding block: rows [n, E] placed at positions start … start + n − 1. */
export interface EmbeddingBlock {
  start: number;
  data: Tensor;
}

export interface ForwardInput {
  /** One id per position (L of them); ids at embedding rows are ignored. */
  tokens: ArrayLike<number>;
  /** Input embeddings in the scaled token-embedding space (fed ×1, as llama.cpp does). Default none. */
  embeddings?: readonly EmbeddingBlock[];
  /** Ranges with bidirectional attention (`TokenLayout.bidirectional`). Default [] (causal). */
  bidirectional?: readonly TokenRange[];
  /** RoPE position of each row. Default 0 … L − 1. */
  positions?: ArrayLike<number>;
  /** Rows whose logits are returned. Default [L − 1]. */
  outputPositions?: ArrayLike<number>;
}

const DEFAULT_LENGTHS = [32, 64, 128, 256, 512, 1024];

export class Gemma3Forward {
  readonly #sessions: SessionCache;
  #weights: Map<string, ort.Tensor> | null;

  private constructor(
    readonly spec: Gemma3Spec,
    weights: Map<string, ort.Tensor>,
    private readonly options: Gemma3ForwardOptions,
  ) {
    this.#weights = weights;
    this.#sessions = new SessionCache({ threads: options.threads });
  }

  /** A runner over weights already loaded (`loadGemma3Weights`), e.g. shared with a trainer. */
  static fromWeights(spec: Gemma3Spec, weights: Map<string, ort.Tensor>, options: Gemma3ForwardOptions = {}) {
    return new Gemma3Forward(spec, weights, options);
  }

  /** Reads the spec and all weights of a gemma3 GGUF (dequantized to float32). */
  static async load(ggufPath: string, options: Gemma3ForwardOptions = {}): Promise<Gemma3Forward> {
    const { spec, weights } = await readGemma3(ggufPath, options);
    return new Gemma3Forward(spec, weights, options);
  }

  /** The bucket T for a sequence of `length` rows. */
  bucket(length: number): number {
    return smallestFit(this.options.lengths ?? DEFAULT_LENGTHS, length, "sequence length");
  }

  /** The session for (T, P), built on first use (build only: no weights are copied). */
  session(length: number, outputs: number): Promise<ort.InferenceSession> {
    return this.#sessions.get(
      `${length}x${outputs}`,
      `the gemma3 graph (T ${length}, P ${outputs})`,
      () =>
        buildGemma3Graph(this.spec, { length, outputs, roundLikeLlamaCpp: this.options.roundLikeLlamaCpp })
          .graph,
    );
  }

  /** Logits [P, V] of the requested rows. */
  async logits(input: ForwardInput): Promise<Tensor> {
    const weights = this.#weights;
    if (!weights) throw new DisposedError("Gemma3Forward");
    const feeds = this.feeds(input);
    const P = feeds.output_positions.dims[0] as number;
    const session = await this.session(feeds.tokens.dims[0] as number, P);
    const out = await session.run({ ...Object.fromEntries(weights), ...feeds });
    const logits = out.logits;
    return tensor(logits.data as Float32Array, logits.dims as number[]);
  }

  /** Padded input tensors for one sequence. */
  private feeds(input: ForwardInput): Record<string, ort.Tensor> {
    const { embedding: E, vocab } = this.spec;
    const L = input.tokens.length;
    if (L < 1) throw new InvalidArgumentError("tokens is empty; expected one id per position");
    const T = this.bucket(L);
    const tokens = new BigInt64Array(T);
    for (let i = 0; i < L; i++) {
      const id = input.tokens[i];
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new InvalidArgumentError(`tokens[${i}] is ${id}; expected an id in [0, ${vocab})`);
      }
      tokens[i] = BigInt(id);
    }
    const embeds = new Float32Array(T * E);
    const useEmbeds = new Uint8Array(T);
    for (const block of input.embeddings ?? []) {
      const [n, width] = block.data.dims;
      if (block.data.dims.length !== 2 || width !== E) {
        throw new ShapeError(
          `embedding block at ${block.start}: dims [${block.data.dims.join(", ")}]; expected [n, ${E}]`,
        );
      }
      if (!Number.isInteger(block.start) || block.start < 0 || block.start + n > L) {
        throw new InvalidArgumentError(
          `embedding block [${block.start}, ${block.start + n}) is outside the ${L} positions`,
        );
      }
      embeds.set(block.data.data, block.start * E);
      useEmbeds.fill(1, block.start, block.start + n);
    }
    if (input.positions && input.positions.length !== L) {
      throw new InvalidArgumentError(`positions has ${input.positions.length} entries; expected ${L}`);
    }
    const positions = new BigInt64Array(T);
    for (let i = 0; i < T; i++) {
      const p = i < L ? (input.positions?.[i] ?? i) : i; // padding rows are masked; any position does
      if (!Number.isInteger(p) || p < 0) {
        throw new InvalidArgumentError(`positions[${i}] is ${p}; expected a non-negative integer`);
      }
      positions[i] = BigInt(p);
    }
    const rows = input.outputPositions ?? [L - 1];
    const outputPositions = new BigInt64Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      if (!Number.isInteger(rows[i]) || rows[i] < 0 || rows[i] >= L) {
        throw new InvalidArgumentError(`outputPositions[${i}] is ${rows[i]}; expected a row in [0, ${L})`);
      }
      outputPositions[i] = BigInt(rows[i]);
    }
    return {
      tokens: new ort.Tensor("int64", tokens, [T]),
      embeds: new ort.Tensor("float32", embeds, [T, E]),
      use_embeds: new ort.Tensor("bool", useEmbeds, [T, 1]),
      positions: new ort.Tensor("int64", positions, [T]),
      mask: new ort.Tensor(
        "float32",
        attentionMask({ length: L, size: T, bidirectional: input.bidirectional }),
        [T, T],
      ),
      output_positions: new ort.Tensor("int64", outputPositions, [rows.length]),
    };
  }

  /** Releases the sessions and the weights. */
  async dispose(): Promise<void> {
    this.#weights = null;
    await this.#sessions.release();
  }
}
