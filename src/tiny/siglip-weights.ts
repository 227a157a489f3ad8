/**
 * Seeded random weights for tiny models. Each tensor draws from its own generator seeded by
 * (model seed, tensor name), so a tower's weights are identical whether it is written alone or
 * inside the combined model, and whatever order the tensors are created in.
 */
import type { Graph, Value } from "../graph/index.js";
import { SeededRandom } from "../util/random.js";

/** FNV-1a hash of a string, mixed with the model seed. */
function hashSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** `n` samples of N(mean, std²) from the tensor's own generator. */
export function normalArray(seed: number, name: string, n: number, std: number, mean = 0): Float32Array {
  const rng = new SeededRandom(hashSeed(seed, name));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal(mean, std);
  return out;
}

/** Creates named float32 initializers with seeded normal values. */
export class WeightFactory {
  constructor(
    readonly graph: Graph,
    readonly seed: number,
  ) {}

  normal(name: string, dims: readonly number[], std: number, mean = 0): Value {
    const n = dims.reduce((a, b) => a * b, 1);
    return this.graph.initializer(name, "float32", dims, normalArray(this.seed, name, n, std, mean));
  }

  /** A Linear layer stored as MatMul weight [in, out] (transposed from PyTorch's [out, in]) + bias. */
  linear(prefix: string, inDim: number, outDim: number): { w: Value; b: Value } {
    return {
      w: this.normal(`${prefix}.weight`, [inDim, outDim], 1 / Math.sqrt(inDim)),
      b: this.normal(`${prefix}.bias`, [outDim], 0.02),
    };
  }

  /** LayerNorm scale near 1 and bias near 0, perturbed so a test would notice them being ignored. */
  layerNorm(prefix: string, dim: number): { scale: Value; bias: Value } {
    return {
      scale: this.normal(`${prefix}.weight`, [dim], 0.1, 1),
      bias: this.normal(`${prefix}.bias`, [dim], 0.05),
    };
  }
}
