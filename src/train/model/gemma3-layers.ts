/**
 * The pieces of a gemma3 decoder layer as ONNX nodes, in the order of operations llama.cpp uses
 * (src/models/gemma3.cpp, src/llama-graph.cpp `build_norm` / `build_ffn` / `build_attn`), so that a
 * float32 GGUF gives the same numbers.
 */
import { ShapeError } from "../../errors.js";
import { formatShape, type Graph, type Value } from "../../graph/index.js";

/**
 * Rounds to float16 and back. With `roundLikeLlamaCpp` the graph does this where llama.cpp's CPU
 * backend rounds: the F16 KV cache (K, V), the F16 conversion of Q and of the attention weights in
 * the F16 matmuls over that cache, and ggml's F16 GELU table.
 */
export function roundToHalf(g: Graph, x: Value): Value {
  return g.cast(g.cast(x, "float16"), "float32");
}

/**
 * RMSNorm over the last axis with the weight as the GGUF stores it: llama.cpp multiplies by the
 * stored value, which already holds HF Gemma's 1 + w. x · (1/√(mean(x²) + eps)) · w.
 */
export function rmsNorm(g: Graph, x: Value, weight: Value, eps: number): Value {
  const meanSquare = g.reduceMean(g.mul(x, x), [-1]); // [..., 1]
  const inv = g.reciprocal(g.sqrt(g.add(meanSquare, eps)));
  return g.mul(g.mul(x, inv), weight);
}

/**
 * x [T, in] · Wᵀ with W [out, in] as the GGUF holds it (ggml {in, out}). → [T, out]
 * MatMul over a Transpose rather than Gemm: the gradient rules know MatMul, and onnxruntime fuses
 * the pair into one FusedMatMul with transB, so the weight is never copied.
 */
export function linear(g: Graph, x: Value, w: Value): Value {
  if (x.shape.length !== 2 || w.shape.length !== 2 || x.shape[1] !== w.shape[1]) {
    throw new ShapeError(
      `linear: x ${formatShape(x.shape)} does not fit weight ${formatShape(w.shape)} (expected [T, in] and [out, in])`,
    );
  }
  return g.matmul(x, g.transpose(w, [1, 0]));
}

/**
 * GELU-gated MLP input: gelu_tanh(gate) · up (llama.cpp `ggml_geglu_split`, LLM_FFN_GELU + PAR).
 * `roundLikeLlamaCpp` reproduces ggml's CPU GELU: a float16 table indexed by the float16 of x, with
 * x ≥ 10 passed through and x ≤ −10 giving 0 (ggml-cpu vec.h `ggml_vec_geglu_f32`).
 */
export function geglu(g: Graph, gate: Value, up: Value, roundLikeLlamaCpp: boolean): Value {
  if (!roundLikeLlamaCpp) return g.mul(g.gelu(gate, "tanh"), up);
  let act = roundToHalf(g, g.gelu(roundToHalf(g, gate), "tanh"));
  act = g.where(g.less(gate, 10), act, gate);
  act = g.where(g.greater(gate, -10), act, 0);
  return g.mul(act, up);
}

export interface AttentionInputs {
  /** [KV, G, T, hd], already rotated and scaled */
  q: Value;
  /** [T, KV, hd], rotated */
  k: Value;
  /** [T, KV, hd] */
  v: Value;
  /** [T, T] additive */
  mask: Value;
}

/**
 * Grouped-query attention: query head h uses key/value head ⌊h / G⌋ (ggml's mul_mat broadcast and
 * HF's repeat_kv agree). → [T, H·hd]
 */
export function attention(g: Graph, inputs: AttentionInputs, roundLikeLlamaCpp: boolean): Value {
  const round = (x: Value) => (roundLikeLlamaCpp ? roundToHalf(g, x) : x);
  const [kvHeads, groups, T, hd] = inputs.q.shape as number[];
  const q = round(inputs.q);
  const kT = g.unsqueeze(g.transpose(round(inputs.k), [1, 2, 0]), [1]); // [T, KV, hd] → [KV, 1, hd, T]
  const v = g.unsqueeze(g.transpose(round(inputs.v), [1, 0, 2]), [1]); // [T, KV, hd] → [KV, 1, T, hd]
  const scores = g.add(g.matmul(q, kT), inputs.mask); // [KV, G, T, T]
  const probs = round(g.softmax(scores, -1));
  const out = g.matmul(probs, v); // [KV, G, T, hd]
  const heads = g.reshape(out, [kvHeads * groups, T, hd]); // [H, T, hd]
  return g.reshape(g.transpose(heads, [1, 0, 2]), [T, kvHeads * groups * hd]); // [T, H·hd]
}
