/**
 * The linear adapter: patch features from the vision encoder → vectors in the LLM's scaled
 * token-embedding space (SPECS §5), `y = W·x + b`.
 *
 * `weight` is stored [Dl, Dv] and `bias` [Dl], the layout of a PyTorch `nn.Linear(Dv, Dl)`
 * (`weight` is [out, in]), saved as `linear.weight` / `linear.bias`.
 */
import { InvalidArgumentError, ModelFormatError } from "../errors.js";
import { assertDims, type Tensor, tensor } from "../tensor.js";
import { SeededRandom } from "../tiny/random.js";

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

export class LinearAdapter {
  /** [Dl, Dv] */
  readonly weight: Tensor;
  /** [Dl] */
  readonly bias: Tensor;

  constructor(weight: Tensor, bias: Tensor) {
    if (weight.dims.length !== 2) {
      throw new ModelFormatError(`${WEIGHT_NAME}: expected dims [Dl, Dv], got [${weight.dims.join(", ")}]`);
    }
    assertDims(bias, [weight.dims[0]], `${BIAS_NAME} (weight is [${weight.dims.join(", ")}])`);
    this.weight = weight;
    this.bias = bias;
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
  static fromTensors(tensors: ReadonlyMap<string, Tensor>, source: string): LinearAdapter {
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
      return new LinearAdapter(weight, bias);
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
   * `features · Wᵀ + b`. [N, Dv] → [N, Dl].
   *
   * W is [Dl, Dv] row-major, so each output is a dot product of two contiguous rows. Four feature
   * rows × two weight rows are done per pass: every loaded weight value is reused four times and
   * every feature value twice, with eight independent accumulators.
   */
  apply(features: Tensor): Tensor {
    const dv = this.inputSize;
    const dl = this.outputSize;
    assertDims(features, ["N", dv], `adapter input (adapter expects Dv = ${dv})`);
    const n = features.dims[0];
    const x = features.data;
    const w = this.weight.data;
    const b = this.bias.data;
    const out = new Float32Array(n * dl);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const x0 = i * dv;
      const x1 = x0 + dv;
      const x2 = x1 + dv;
      const x3 = x2 + dv;
      let j = 0;
      for (; j + 2 <= dl; j += 2) {
        const w0 = j * dv;
        const w1 = w0 + dv;
        let a00 = 0,
          a01 = 0,
          a10 = 0,
          a11 = 0,
          a20 = 0,
          a21 = 0,
          a30 = 0,
          a31 = 0;
        for (let k = 0; k < dv; k++) {
          const wa = w[w0 + k];
          const wb = w[w1 + k];
          const v0 = x[x0 + k];
          const v1 = x[x1 + k];
          const v2 = x[x2 + k];
          const v3 = x[x3 + k];
          a00 += v0 * wa;
          a01 += v0 * wb;
          a10 += v1 * wa;
          a11 += v1 * wb;
          a20 += v2 * wa;
          a21 += v2 * wb;
          a30 += v3 * wa;
          a31 += v3 * wb;
        }
        const bj = b[j];
        const bk = b[j + 1];
        out[i * dl + j] = a00 + bj;
        out[i * dl + j + 1] = a01 + bk;
        out[(i + 1) * dl + j] = a10 + bj;
        out[(i + 1) * dl + j + 1] = a11 + bk;
        out[(i + 2) * dl + j] = a20 + bj;
        out[(i + 2) * dl + j + 1] = a21 + bk;
        out[(i + 3) * dl + j] = a30 + bj;
        out[(i + 3) * dl + j + 1] = a31 + bk;
      }
      for (; j < dl; j++) {
        for (let r = 0; r < 4; r++) out[(i + r) * dl + j] = dot(x, x0 + r * dv, w, j * dv, dv) + b[j];
      }
    }
    for (; i < n; i++) {
      for (let j = 0; j < dl; j++) out[i * dl + j] = dot(x, i * dv, w, j * dv, dv) + b[j];
    }
    return tensor(out, [n, dl]);
  }
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, len: number): number {
  let s = 0;
  for (let k = 0; k < len; k++) s += a[ao + k] * b[bo + k];
  return s;
}
