/**
 * `pixel-shuffle`: space-to-depth on the patch grid by r (each r×r block of patches becomes one token,
 * the block's r² feature vectors concatenated in (dy, dx) row-major order: input column
 * (dy·r + dx)·Dv + c), then Linear(r²·Dv → Dl) without bias (nanoVLM, Idefics3, SmolVLM; the order
 * llama.cpp's idefics3 projector uses). Parameter `proj.weight` [Dl, r²·Dv]. Blocks that stick out of the
 * grid have zeros in their missing slots (`token-grid.ts`).
 */
import { fanInWeight, param, projectRows, SeededRandom } from "./linear.js";
import type { KindSpec } from "./types.js";

export const PROJ_WEIGHT = "proj.weight";

export const pixelShuffleKind: KindSpec = {
  name: "pixel-shuffle",
  merges: true,
  tokenWidth: (dv, r) => r * r * dv,
  params: (dv, dl, r) => [{ name: PROJ_WEIGHT, dims: [dl, r * r * dv], decay: true }],
  head: (g, x, p) => projectRows(g, x, param(p, PROJ_WEIGHT)), // [M, r²Dv] → [M, Dl]
  init: ({ inputSize: dv, outputSize: dl, factor: r, seed = 0, targetRms = 1, inputRms = 1 }) =>
    new Map([[PROJ_WEIGHT, fanInWeight(new SeededRandom(seed), dl, r * r * dv, targetRms, inputRms)]]),
};
