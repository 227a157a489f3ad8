/** Rescale and normalize, reproducing transformers' float32 arithmetic bit for bit. */
import type { PreprocessorConfig } from "./preprocessor-config.js";

/**
 * For each channel, the 256 possible outputs of `((v · rescaleFactor) − mean) / std`, rounded to
 * float32 after each step as numpy does (rescale in float64 → float32, then float32 subtract and divide).
 * Returns [3, 256].
 */
export function normalizationTable(cfg: PreprocessorConfig): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    const mean = Math.fround(cfg.imageMean[c]);
    const std = Math.fround(cfg.imageStd[c]);
    for (let v = 0; v < 256; v++) {
      let x = cfg.doRescale ? Math.fround(v * cfg.rescaleFactor) : v;
      if (cfg.doNormalize) x = Math.fround(Math.fround(x - mean) / std);
      table[v] = x;
    }
    return table;
  });
}
