/**
 * `avgpool`: k×k average pool on the patch grid → RMSNorm with a learned scale → Linear(Dv → Dl)
 * without bias (Gemma 3's projector: k = 4 takes 64×64 patches to 256 tokens). Parameters
 * `norm.weight` [Dv] (the multiplier itself, as llama.cpp stores `mm.soft_emb_norm.weight`; HF's
 * `Gemma3RMSNorm` stores it minus one) and `proj.weight` [Dl, Dv]. Partial blocks at the grid's edges
 * average the patches they hold (`token-grid.ts`).
 *
 *   RMSNorm(x) = x / √(mean(x²) + ε) ⊙ norm.weight,  ε = 1e-6 (SigLIP's layer_norm_eps, which llama.cpp
 *   also uses for this norm)
 */
import type { Graph, Value } from "../../graph/index.js";
import { tensor } from "../../tensor.js";
import { fanInWeight, param, projectRows, SeededRandom } from "./linear.js";
import { PROJ_WEIGHT } from "./pixel-shuffle.js";
import type { KindSpec } from "./types.js";

export const NORM_WEIGHT = "norm.weight";
export const RMS_NORM_EPS = 1e-6;

/** x / √(mean(x²) + ε) ⊙ weight over the last axis. [M, D] → [M, D] */
export function rmsNorm(g: Graph, x: Value, weight: Value, eps = RMS_NORM_EPS): Value {
  const meanSquare = g.reduceMean(g.mul(x, x), [x.shape.length - 1], true); // [M, 1]
  return g.mul(g.div(x, g.sqrt(g.add(meanSquare, eps))), weight);
}

export const avgpoolKind: KindSpec = {
  name: "avgpool",
  merges: true,
  tokenWidth: (dv) => dv,
  params: (dv, dl) => [
    { name: NORM_WEIGHT, dims: [dv], decay: false },
    { name: PROJ_WEIGHT, dims: [dl, dv], decay: true },
  ],
  head: (g, x, p) => projectRows(g, rmsNorm(g, x, param(p, NORM_WEIGHT)), param(p, PROJ_WEIGHT)), // [M, Dv] → [M, Dl]
  init: ({ inputSize: dv, outputSize: dl, seed = 0, targetRms = 1 }) =>
    new Map([
      [NORM_WEIGHT, tensor(new Float32Array(dv).fill(1), [dv])],
      // After the norm every token has RMS 1, whatever the features' scale.
      [PROJ_WEIGHT, fanInWeight(new SeededRandom(seed), dl, dv, targetRms, 1)],
    ]),
};
