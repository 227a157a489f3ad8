/**
 * Runs the adapter loss graph (`loss-graph.ts`) on one example at a time: pads the example to a
 * (length, outputs) bucket, builds one onnxruntime session per bucket on first use and feeds the
 * frozen LLM weights (dequantized once, shared by every session) with the adapter's current W and b.
 */
import * as ort from "onnxruntime-node";
import { kindSpec } from "../../adapter/kinds/registry.js";
import type { Adapter } from "../../adapter/kinds/types.js";
import { DisposedError, InvalidArgumentError, ShapeError } from "../../errors.js";
import type { Tensor } from "../../tensor.js";
import type { ExampleLayout } from "../data/example-layout.js";
import { attentionMask } from "./attention-mask.js";
import type { Gemma3Spec } from "./gemma3-spec.js";
import type { LoadWeightsOptions } from "./gemma3-weights.js";
import {
  buildAdapterLossGraph,
  FEATURES,
  gradOutput,
  LOSS,
  paramInput,
  TARGET_WEIGHTS,
  TARGETS,
} from "./loss-graph.js";
import { readGemma3, SessionCache, smallestFit } from "./sessions.js";

export interface AdapterLossOptions extends LoadWeightsOptions {
  /**
   * Text lengths added to the image rows to make the length buckets: an example of N image rows and
   * L − N text rows runs at T = N + the smallest entry ≥ L − N. Default [32, 64, 128, 256, 512].
   */
  textBuckets?: readonly number[];
  /** Output-row buckets P (answer tokens + the end token). Default [4, 8, 16, 32, 64, 128, 256]. */
  outputBuckets?: readonly number[];
  /** onnxruntime intra-op threads. Default `defaultThreads()` (physical cores). */
  threads?: number;
}

/**
 * One example's inputs: its token layout and its image's tokens [N, W]: the cached patch features
 * [N, Dv] for the per-patch kinds, the merged tokens (`TokenMerger`) for pixel-shuffle and avgpool.
 */
export interface LossExample {
  layout: ExampleLayout;
  features: Tensor;
}

export interface LossResult {
  /** Mean negative log-likelihood of the answer tokens (nats per token). */
  loss: number;
  /** Answer tokens the mean is over. */
  tokens: number;
  /** d loss / d parameter, by safetensors name, each row-major in the parameter's shape (with gradients only). */
  gradients?: Map<string, Float32Array>;
}

const TEXT_BUCKETS = [32, 64, 128, 256, 512];
const OUTPUT_BUCKETS = [4, 8, 16, 32, 64, 128, 256];

export class AdapterLoss {
  readonly #sessions: SessionCache;
  #weights: Map<string, ort.Tensor> | null;

  private constructor(
    readonly spec: Gemma3Spec,
    weights: Map<string, ort.Tensor>,
    private readonly options: AdapterLossOptions,
  ) {
    this.#weights = weights;
    this.#sessions = new SessionCache({ threads: options.threads });
  }

  /** Over weights already loaded (`loadGemma3Weights`), e.g. shared with a `Gemma3Forward`. */
  static fromWeights(spec: Gemma3Spec, weights: Map<string, ort.Tensor>, options: AdapterLossOptions = {}) {
    return new AdapterLoss(spec, weights, options);
  }

  /** Reads the spec and every weight of a gemma3 GGUF (dequantized to float32). */
  static async load(ggufPath: string, options: AdapterLossOptions = {}): Promise<AdapterLoss> {
    const { spec, weights } = await readGemma3(ggufPath, options);
    return new AdapterLoss(spec, weights, options);
  }

  /**
   * RMS of the token embeddings in the scaled space (`token_embd` × √E): the scale adapter outputs
   * should start at so the LLM sees image rows of the size it knows.
   */
  tokenEmbeddingRms(): number {
    const t = this.#weights?.get("token_embd.weight");
    if (!t) throw new DisposedError("AdapterLoss");
    const data = t.data as Float32Array;
    let sum = 0;
    for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
    return Math.sqrt((sum / data.length) * this.spec.embedding);
  }

  /** The (T, P) bucket an example runs in. */
  bucket(layout: ExampleLayout): { length: number; outputs: number } {
    const n = layout.imageTokens;
    const text = layout.tokens.length - n;
    return {
      length: n + smallestFit(this.options.textBuckets ?? TEXT_BUCKETS, text, "text length"),
      outputs: smallestFit(
        this.options.outputBuckets ?? OUTPUT_BUCKETS,
        layout.targets.length,
        "answer length",
      ),
    };
  }

  /** The session for (T, P) and the adapter's kind, factor and Dv, with or without the backward pass; built on first use. */
  session(length: number, outputs: number, adapter: Adapter, withGradients: boolean) {
    const { kind, factor, inputSize: featureSize } = adapter;
    const key = `${length}x${outputs}x${featureSize}:${kind}:${factor}${withGradients ? "g" : ""}`;
    return this.#sessions.get(
      key,
      `the ${kind} adapter loss graph (T ${length}, P ${outputs})`,
      () =>
        buildAdapterLossGraph(this.spec, {
          length,
          outputs,
          featureSize,
          kind,
          factor,
          gradients: withGradients,
        }).graph,
    );
  }

  /** Loss of one example under `adapter`, and its gradients unless `gradients` is false. */
  async run(
    example: LossExample,
    adapter: Adapter,
    options: { gradients?: boolean } = {},
  ): Promise<LossResult> {
    const weights = this.#weights;
    if (!weights) throw new DisposedError("AdapterLoss");
    const withGradients = options.gradients ?? true;
    const feeds = this.feeds(example, adapter);
    const [T] = feeds.tokens.dims as number[];
    const [P] = feeds.targets.dims as number[];
    const session = await this.session(T, P, adapter, withGradients);
    const out = await session.run({ ...Object.fromEntries(weights), ...feeds });
    const result: LossResult = {
      loss: (out[LOSS].data as Float32Array)[0],
      tokens: example.layout.targets.length,
    };
    if (withGradients) {
      result.gradients = new Map(
        [...adapter.toTensors().keys()].map((name) => [name, out[gradOutput(name)].data as Float32Array]),
      );
    }
    return result;
  }

  /** Padded input tensors of one example. */
  private feeds(example: LossExample, adapter: Adapter): Record<string, ort.Tensor> {
    const { layout, features } = example;
    const { embedding: E, vocab } = this.spec;
    const W = kindSpec(adapter.kind).tokenWidth(adapter.inputSize, adapter.factor);
    if (adapter.outputSize !== E) {
      throw new ShapeError(`adapter outputs ${adapter.outputSize} values per row; the LLM's n_embd is ${E}`);
    }
    const N = layout.imageTokens;
    if (features.dims.length !== 2 || features.dims[0] !== N || features.dims[1] !== W) {
      throw new ShapeError(
        `features [${features.dims.join(", ")}]; the layout has ${N} image rows and the ${adapter.kind} adapter takes tokens of width ${W}`,
      );
    }
    const L = layout.tokens.length;
    const { length: T, outputs: P } = this.bucket(layout);
    const tokens = new BigInt64Array(T);
    for (let i = 0; i < L; i++) {
      const id = layout.tokens[i];
      if (id < 0 || id >= vocab)
        throw new InvalidArgumentError(`token ${i} is ${id}; expected an id in [0, ${vocab})`);
      tokens[i] = BigInt(id);
    }
    const start = layout.imageStart;
    if (!Number.isInteger(start) || start < 0 || start + N > L) {
      throw new InvalidArgumentError(`image block [${start}, ${start + N}) is outside the ${L} rows`);
    }
    const feats = new Float32Array(T * W); // [T, W], zeros outside the image block
    feats.set(features.data, start * W);
    const useEmbeds = new Uint8Array(T).fill(1, start, start + N);
    const positions = BigInt64Array.from({ length: T }, (_, i) => BigInt(i)); // padding rows are masked
    const outputPositions = new BigInt64Array(P);
    const targets = new BigInt64Array(P);
    const targetWeights = new Float32Array(P);
    const count = layout.targets.length;
    for (let i = 0; i < count; i++) {
      const row = layout.outputPositions[i];
      const id = layout.targets[i];
      if (!Number.isInteger(row) || row < 0 || row >= L) {
        throw new InvalidArgumentError(`output row ${i} is ${row}; expected a row in [0, ${L})`);
      }
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new InvalidArgumentError(`target ${i} is ${id}; expected an id in [0, ${vocab})`);
      }
      outputPositions[i] = BigInt(row);
      targets[i] = BigInt(id);
      targetWeights[i] = 1 / count;
    }
    const params: Record<string, ort.Tensor> = {};
    for (const [name, t] of adapter.toTensors())
      params[paramInput(name)] = new ort.Tensor("float32", t.data, t.dims);
    return {
      ...params,
      [FEATURES]: new ort.Tensor("float32", feats, [T, W]),
      tokens: new ort.Tensor("int64", tokens, [T]),
      use_embeds: new ort.Tensor("bool", useEmbeds, [T, 1]),
      positions: new ort.Tensor("int64", positions, [T]),
      mask: new ort.Tensor(
        "float32",
        attentionMask({ length: L, size: T, bidirectional: layout.bidirectional }),
        [T, T],
      ),
      output_positions: new ort.Tensor("int64", outputPositions, [P]),
      [TARGETS]: new ort.Tensor("int64", targets, [P]),
      [TARGET_WEIGHTS]: new ort.Tensor("float32", targetWeights, [P]),
    };
  }

  /** Releases the sessions and the weights. */
  async dispose(): Promise<void> {
    this.#weights = null;
    await this.#sessions.release();
  }
}
