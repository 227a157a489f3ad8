/**
 * `mlp`: Linear(Dv → Dl) → GELU → Linear(Dl → Dl) per patch (LLaVA-1.5's `mlp2x_gelu`). Parameters
 * `mlp.0.weight` [Dl, Dv], `mlp.0.bias` [Dl], `mlp.2.weight` [Dl, Dl], `mlp.2.bias` [Dl] (the indices of
 * a PyTorch `nn.Sequential(Linear, GELU, Linear)`). GELU is the tanh approximation, the one llama.cpp's
 * `mlp` projector computes (`ggml_gelu`).
 */
import { type Tensor, tensor } from "../../tensor.js";
import { fanInWeight, param, projectRows, SeededRandom } from "./linear.js";
import type { KindSpec } from "./types.js";

export const MLP_NAMES = {
  w0: "mlp.0.weight",
  b0: "mlp.0.bias",
  w2: "mlp.2.weight",
  b2: "mlp.2.bias",
} as const;

/** RMS of GELU(z) for z ~ N(0, 1): √E[GELU(z)²] ≈ √0.4252. */
const GELU_RMS = 0.652;

export const mlpKind: KindSpec = {
  name: "mlp",
  merges: false,
  tokenWidth: (dv) => dv,
  params: (dv, dl) => [
    { name: MLP_NAMES.w0, dims: [dl, dv], decay: true },
    { name: MLP_NAMES.b0, dims: [dl], decay: false },
    { name: MLP_NAMES.w2, dims: [dl, dl], decay: true },
    { name: MLP_NAMES.b2, dims: [dl], decay: false },
  ],
  head(g, x, p) {
    const hidden = g.gelu(g.add(projectRows(g, x, param(p, MLP_NAMES.w0)), param(p, MLP_NAMES.b0)), "tanh"); // [M, Dv] → [M, Dl]
    return g.add(projectRows(g, hidden, param(p, MLP_NAMES.w2)), param(p, MLP_NAMES.b2)); // [M, Dl] → [M, Dl]
  },
  init({ inputSize: dv, outputSize: dl, seed = 0, targetRms = 1, inputRms = 1 }) {
    const random = new SeededRandom(seed);
    // The hidden layer starts at unit RMS; the output layer scales GELU's output to the target.
    return new Map<string, Tensor>([
      [MLP_NAMES.w0, fanInWeight(random, dl, dv, 1, inputRms)],
      [MLP_NAMES.b0, tensor(new Float32Array(dl), [dl])],
      [MLP_NAMES.w2, fanInWeight(random, dl, dl, targetRms, GELU_RMS)],
      [MLP_NAMES.b2, tensor(new Float32Array(dl), [dl])],
    ]);
  },
};
