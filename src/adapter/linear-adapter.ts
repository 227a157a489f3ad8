/**
 * The linear adapter: patch features from the vision encoder → vectors in the LLM's scaled
 * token-embedding space (docs/adapter.md#embedding-scale), `y = W·x + b`.
 *
 * `weight` is stored [Dl, Dv] and `bias` [Dl], the layout of a PyTorch `nn.Linear(Dv, Dl)`
 * (`weight` is [out, in]), saved as `linear.weight` / `linear.bias`.
 */
import * as ort from "onnxruntime-node";
import { DisposedError, InvalidArgumentError, ModelFormatError } from "../errors.js";
import { Graph, serializeModel } from "../graph/index.js";
import { createOnnxSession, type OnnxSessionOptions } from "../runtime/onnx-session.js";
import { assertDims, type Tensor, tensor } from "../tensor.js";
import { SeededRandom } from "../util/random.js";
import type { Adapter } from "./kinds/types.js";

/** Tensor names in `adapter.safetensors`. */
export const WEIGHT_NAME = "linear.weight";
export const BIAS_NAME = "linear.bias";

export interface LinearAdapterInitOptions {
  /** Dv: width of the encoder's patch features. */
  inputSize: number;
  /** Dl: the LLM's n_embd. */
  outputSize: number;
  /** PRNG seed; the same seed gives the same weights on every platform. Default 0. */
  seed?: number;
  /**
   * RMS the outputs should have: the RMS of the LLM's token embeddings in scaled space
   * (`token_embd` rows × √n_embd for Gemma). Default 1.
   */
  targetRms?: number;
  /** RMS of the input features (per component), so the output lands on `targetRms`. Default 1. */
  inputRms?: number;
}

/**
 * Owns one small onnxruntime session, opened on the first `apply` and released by `dispose`; an
 * adapter that is never applied (one being trained) holds none.
 */
export class LinearAdapter implements Adapter {
  readonly kind = "linear";
  /** Maps each patch on its own: no merging. */
  readonly factor = 1;
  /** [Dl, Dv] */
  readonly weight: Tensor;
  /** [Dl] */
  readonly bias: Tensor;
  readonly #sessionOptions: OnnxSessionOptions;
  #session: Promise<ort.InferenceSession> | undefined;
  /** Runs in flight, so `dispose` releases the session only after they finish. */
  readonly #running = new Set<Promise<unknown>>();
  #disposed = false;

  /** @param sessionOptions threads, spinning and providers of the projection session (defaults: `OnnxSessionOptions`). */
  constructor(weight: Tensor, bias: Tensor, sessionOptions: OnnxSessionOptions = {}) {
    if (weight.dims.length !== 2) {
      throw new ModelFormatError(`${WEIGHT_NAME}: expected dims [Dl, Dv], got [${weight.dims.join(", ")}]`);
    }
    assertDims(bias, [weight.dims[0]], `${BIAS_NAME} (weight is [${weight.dims.join(", ")}])`);
    this.weight = weight;
    this.bias = bias;
    this.#sessionOptions = sessionOptions;
  }

  /** Dv: the feature width this adapter accepts. */
  get inputSize(): number {
    return this.weight.dims[1];
  }

  /** Dl: the embedding width this adapter produces. */
  get outputSize(): number {
    return this.weight.dims[0];
  }

  /**
   * Random weights scaled so that inputs with RMS `inputRms` give outputs with RMS ≈ `targetRms`:
   * W ~ N(0, σ²) with σ = targetRms / (inputRms · √Dv) (LeCun-style fan-in scaling, rescaled to the
   * target space), b = 0.
   */
  static init(options: LinearAdapterInitOptions): LinearAdapter {
    const { inputSize: dv, outputSize: dl, seed = 0, targetRms = 1, inputRms = 1 } = options;
    for (const [name, v] of [
      ["inputSize", dv],
      ["outputSize", dl],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0)
        throw new InvalidArgumentError(`${name} must be a positive integer, got ${v}`);
    }
    for (const [name, v] of [
      ["targetRms", targetRms],
      ["inputRms", inputRms],
    ] as const) {
      if (!(v > 0) || !Number.isFinite(v))
        throw new InvalidArgumentError(`${name} must be a positive number, got ${v}`);
    }
    const std = targetRms / (inputRms * Math.sqrt(dv));
    const weight = tensor(new SeededRandom(seed).normalArray(dl * dv, std), [dl, dv]);
    return new LinearAdapter(weight, tensor(new Float32Array(dl), [dl]));
  }

  /** Builds an adapter from the tensors of `adapter.safetensors`; `source` names the file in errors. */
  static fromTensors(
    tensors: ReadonlyMap<string, Tensor>,
    source: string,
    sessionOptions: OnnxSessionOptions = {},
  ): LinearAdapter {
    const weight = tensors.get(WEIGHT_NAME);
    const bias = tensors.get(BIAS_NAME);
    const names = [...tensors.keys()].join(", ") || "none";
    if (!weight || !bias) {
      throw new ModelFormatError(
        `${source} must hold "${WEIGHT_NAME}" and "${BIAS_NAME}"; it holds: ${names}`,
      );
    }
    if (tensors.size !== 2) {
      throw new ModelFormatError(
        `${source} must hold only "${WEIGHT_NAME}" and "${BIAS_NAME}"; it holds: ${names}`,
      );
    }
    try {
      return new LinearAdapter(weight, bias, sessionOptions);
    } catch (cause) {
      throw new ModelFormatError(`${source}: ${(cause as Error).message}`, { cause });
    }
  }

  /** The tensors to save, under their safetensors names. */
  toTensors(): Map<string, Tensor> {
    return new Map([
      [WEIGHT_NAME, this.weight],
      [BIAS_NAME, this.bias],
    ]);
  }

  /**
   * `features · Wᵀ + b`. [N, Dv] → [N, Dl]. Runs in onnxruntime (multithreaded, off the JS thread, so
   * a server's event loop keeps streaming while images are projected). Throws `DisposedError` after
   * `dispose`.
   */
  async apply(features: Tensor): Promise<Tensor> {
    if (this.#disposed) throw new DisposedError("LinearAdapter");
    const dv = this.inputSize;
    const dl = this.outputSize;
    assertDims(features, ["N", dv], `adapter input (adapter expects Dv = ${dv})`);
    const n = features.dims[0];
    if (n === 0) return tensor(new Float32Array(0), [0, dl]);
    const run = this.#project(features, n);
    this.#running.add(run);
    try {
      return await run;
    } finally {
      this.#running.delete(run);
    }
  }

  /**
   * Releases the projection session (once the runs in flight have finished); `apply` throws
   * `DisposedError` afterwards. Calling it again does nothing.
   */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.allSettled([...this.#running]);
    const session = await this.#session?.catch(() => undefined);
    this.#session = undefined;
    await session?.release();
  }

  async #project(features: Tensor, n: number): Promise<Tensor> {
    const dv = this.inputSize;
    const dl = this.outputSize;
    this.#session ??= this.#openSession();
    const session = await this.#session;
    const out = await session.run({
      x: new ort.Tensor("float32", features.data, [n, dv]),
      w: new ort.Tensor("float32", this.weight.data, [dl, dv]),
      b: new ort.Tensor("float32", this.bias.data, [dl]),
    });
    return tensor(out.y.data as Float32Array, [n, dl]);
  }

  /** y = x · wᵀ + b as an ONNX graph with the weights as inputs: [N, Dv], [Dl, Dv], [Dl] → [N, Dl]. */
  #openSession(): Promise<ort.InferenceSession> {
    const dv = this.inputSize;
    const dl = this.outputSize;
    const g = new Graph("linear_adapter");
    const x = g.input("x", "float32", ["n", dv]);
    const w = g.input("w", "float32", [dl, dv]);
    const b = g.input("b", "float32", [dl]);
    g.output(g.add(g.matmul(x, g.transpose(w, [1, 0])), b), "y");
    const session = createOnnxSession(
      serializeModel(g),
      this.#sessionOptions,
      `the ${dv}→${dl} adapter projection`,
    );
    // A failed open is forgotten so the next apply retries it.
    session.catch(() => {
      if (this.#session === session) this.#session = undefined;
    });
    return session;
  }
}
