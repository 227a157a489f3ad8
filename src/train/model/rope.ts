/**
 * Rotary position embedding in llama.cpp's NEOX style (gemma3's rope type, `llama_model_rope_type`):
 * dimension i of the first half pairs with i + hd/2, rotated by θ_i = scale · p · base^(−2i/hd).
 */
import type { Graph, Value } from "../../graph/index.js";

/**
 * base^(−2i/hd) for i < hd/2, as ggml's CPU rope builds them: `theta_scale = powf(base, −2/hd)`
 * multiplied up step by step in float32 (ggml-cpu ops.cpp `ggml_rope_cache_init`).
 */
export function ropeInverseFrequencies(base: number, headDim: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  const step = Math.fround(base ** (-2 / headDim));
  let theta = 1;
  for (let i = 0; i < out.length; i++) {
    out[i] = theta;
    theta = Math.fround(theta * step);
  }
  return out;
}

/** cos θ and sin θ for every position, to be shared by all layers with the same base. */
export interface RopeTables {
  /** [T, 1, hd/2] */
  cos: Value;
  /** [T, 1, hd/2] */
  sin: Value;
}

/**
 * Tables from int64 positions [T]: θ[t, i] = scale · (pos[t] · invFreq[i]).
 * `scale` is llama.cpp's `freq_scale` (1 / linear rope factor).
 */
export function ropeTables(g: Graph, positions: Value, base: number, headDim: number, scale = 1): RopeTables {
  const invFreq = g.constant("float32", ropeInverseFrequencies(base, headDim), [1, headDim / 2]);
  const pos = g.unsqueeze(g.cast(positions, "float32"), [1]); // [T] → [T, 1]
  let theta = g.mul(pos, invFreq); // [T, hd/2]
  if (scale !== 1) theta = g.mul(theta, scale);
  const cos = g.node("Cos", [theta], [{ dtype: "float32", shape: theta.shape }])[0];
  const sin = g.node("Sin", [theta], [{ dtype: "float32", shape: theta.shape }])[0];
  return { cos: g.unsqueeze(cos, [1]), sin: g.unsqueeze(sin, [1]) }; // [T, 1, hd/2]
}

/** Rotates x [T, n_heads, hd] (NEOX pairs: i with i + hd/2). */
export function applyRope(g: Graph, x: Value, tables: RopeTables): Value {
  const hd = x.shape[2] as number;
  const x1 = g.slice(x, [0], [hd / 2], [2]); // [T, n, hd/2]
  const x2 = g.slice(x, [hd / 2], [hd], [2]);
  const first = g.sub(g.mul(x1, tables.cos), g.mul(x2, tables.sin));
  const second = g.add(g.mul(x1, tables.sin), g.mul(x2, tables.cos));
  return g.concat([first, second], 2); // [T, n, hd]
}
