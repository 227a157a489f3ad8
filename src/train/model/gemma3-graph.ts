/**
 * The gemma3 forward pass as an ONNX graph, for training an adapter through the frozen LLM and for
 * parity checks against llama.cpp. Weights are graph inputs named as the GGUF tensors
 * (`blk.0.attn_q.weight`, …) and shaped row-major as the reader returns them, so a session builds
 * in well under a second and the caller holds the only copy of the weights.
 *
 * Inputs (T = fixed length, P = output positions, E = embedding, V = vocabulary):
 *   tokens            int64   [T]     token ids (any valid id at embedding rows)
 *   embeds            float32 [T, E]  input embeddings in the scaled token-embedding space
 *   use_embeds        bool    [T, 1]  true where the row comes from `embeds`
 *   positions         int64   [T]     RoPE positions (padding rows: anything)
 *   mask              float32 [T, T]  additive attention mask (`attentionMask`)
 *   output_positions  int64   [P]     rows whose logits are computed
 * Output: logits float32 [P, V].
 */

import { InvalidArgumentError } from "../../errors.js";
import { Graph, type Value } from "../../graph/index.js";
import { MASKED } from "./attention-mask.js";
import { attention, geglu, linear, rmsNorm } from "./gemma3-layers.js";
import type { Gemma3Spec } from "./gemma3-spec.js";
import { applyRope, type RopeTables, ropeTables } from "./rope.js";

export interface Gemma3GraphOptions {
  /** T: the fixed sequence length of the graph (pad shorter inputs and mask the padding). */
  length: number;
  /** P: how many positions get logits. */
  outputs: number;
  /**
   * Accept input embeddings (`embeds` + `use_embeds`). Default true; false builds a token-only graph.
   * Ignored when `embeds` is given.
   */
  embeddings?: boolean;
  /** Build into this graph (e.g. one that computes the embeddings with an adapter). Default: a new graph. */
  graph?: Graph;
  /** A value [T, E] to use as the embeddings instead of an `embeds` input. Default: an input. */
  embeds?: Value;
  /**
   * Round to float16 where llama.cpp's CPU backend does with its default F16 KV cache and flash
   * attention off (K, V, Q·scale, attention weights, the GELU table), for bit-level parity tests.
   * Default false: float32 throughout.
   */
  roundLikeLlamaCpp?: boolean;
}

export interface Gemma3Graph {
  graph: Graph;
  /** [P, V], declared as the graph output "logits". */
  logits: Value;
  /** The inputs by role (`embeds` is the caller's value when one was given); `embeds`/`useEmbeds` are absent for a token-only graph. */
  inputs: {
    tokens: Value;
    embeds?: Value;
    useEmbeds?: Value;
    positions: Value;
    mask: Value;
    outputPositions: Value;
  };
  /** Weight inputs by GGUF tensor name, row-major dims as `GgufReader.readTensor` returns them. */
  weights: Map<string, Value>;
}

/** GGUF tensor names and row-major dims of every weight the graph takes. */
export function gemma3WeightShapes(spec: Gemma3Spec): Map<string, number[]> {
  const { embedding: E, heads: H, kvHeads: KV, headDim: hd, ff } = spec;
  const shapes = new Map<string, number[]>([
    ["token_embd.weight", [spec.vocab, E]],
    ["output_norm.weight", [E]],
  ]);
  if (spec.separateOutput) shapes.set("output.weight", [spec.vocab, E]);
  for (let i = 0; i < spec.layers; i++) {
    const p = `blk.${i}`;
    shapes.set(`${p}.attn_norm.weight`, [E]);
    shapes.set(`${p}.attn_q.weight`, [H * hd, E]);
    shapes.set(`${p}.attn_k.weight`, [KV * hd, E]);
    shapes.set(`${p}.attn_v.weight`, [KV * hd, E]);
    shapes.set(`${p}.attn_q_norm.weight`, [hd]);
    shapes.set(`${p}.attn_k_norm.weight`, [hd]);
    shapes.set(`${p}.attn_output.weight`, [E, H * hd]);
    shapes.set(`${p}.post_attention_norm.weight`, [E]);
    shapes.set(`${p}.ffn_norm.weight`, [E]);
    shapes.set(`${p}.ffn_gate.weight`, [ff, E]);
    shapes.set(`${p}.ffn_up.weight`, [ff, E]);
    shapes.set(`${p}.ffn_down.weight`, [E, ff]);
    shapes.set(`${p}.post_ffw_norm.weight`, [E]);
  }
  return shapes;
}

export function buildGemma3Graph(spec: Gemma3Spec, options: Gemma3GraphOptions): Gemma3Graph {
  const { length: T, outputs: P } = options;
  if (!Number.isInteger(T) || T < 1 || !Number.isInteger(P) || P < 1) {
    throw new InvalidArgumentError(`gemma3 graph: length ${T} and outputs ${P} must be positive integers`);
  }
  const g = options.graph ?? new Graph("gemma3");
  const round = options.roundLikeLlamaCpp ?? false;
  const { embedding: E, heads: H, kvHeads: KV, headDim: hd } = spec;
  const G = H / KV;

  const weights = new Map<string, Value>();
  for (const [name, dims] of gemma3WeightShapes(spec)) weights.set(name, g.input(name, "float32", dims));
  const w = (name: string) => weights.get(name) as Value;

  const tokens = g.input("tokens", "int64", [T]);
  const positions = g.input("positions", "int64", [T]);
  const mask = g.input("mask", "float32", [T, T]);
  const outputPositions = g.input("output_positions", "int64", [P]);

  // Token rows are scaled by √E (llama.cpp: sqrtf(n_embd)); input embeddings enter as they are.
  let x = g.mul(g.gather(w("token_embd.weight"), tokens), Math.sqrt(E)); // [T] → [T, E]
  let embeds: Value | undefined;
  let useEmbeds: Value | undefined;
  if (options.embeds || (options.embeddings ?? true)) {
    embeds = options.embeds ?? g.input("embeds", "float32", [T, E]);
    useEmbeds = g.input("use_embeds", "bool", [T, 1]);
    x = g.where(useEmbeds, embeds, x); // [T, E]
  }

  // Local layers also drop keys p' with p − p' ≥ window (llama.cpp `is_masked_swa`, standard type);
  // keys after the query, allowed inside a bidirectional range, stay allowed as in llama.cpp.
  let localMask = mask;
  if (spec.local.some(Boolean)) {
    const distance = g.sub(g.unsqueeze(positions, [1]), g.unsqueeze(positions, [0])); // [T, T]
    localMask = g.add(mask, g.where(g.less(distance, spec.slidingWindow), g.scalar(0, "float32"), MASKED));
  }
  const ropeGlobal = ropeTables(g, positions, spec.ropeBase, hd, spec.ropeScale);
  const ropeLocal = ropeTables(g, positions, spec.ropeBaseLocal, hd); // llama.cpp: freq_scale_swa = 1

  for (let i = 0; i < spec.layers; i++) {
    const p = `blk.${i}`;
    const local = spec.local[i];
    const rope: RopeTables = local ? ropeLocal : ropeGlobal;
    const h = rmsNorm(g, x, w(`${p}.attn_norm.weight`), spec.rmsEps); // [T, E]

    let q = g.reshape(linear(g, h, w(`${p}.attn_q.weight`)), [T, H, hd]); // [T, E] → [T, H, hd]
    q = applyRope(g, rmsNorm(g, q, w(`${p}.attn_q_norm.weight`), spec.rmsEps), rope);
    q = g.mul(q, spec.attentionScale);
    const qGrouped = g.reshape(g.transpose(q, [1, 0, 2]), [KV, G, T, hd]); // [T, H, hd] → [KV, G, T, hd]
    let k = g.reshape(linear(g, h, w(`${p}.attn_k.weight`)), [T, KV, hd]); // [T, KV, hd]
    k = applyRope(g, rmsNorm(g, k, w(`${p}.attn_k_norm.weight`), spec.rmsEps), rope);
    const v = g.reshape(linear(g, h, w(`${p}.attn_v.weight`)), [T, KV, hd]); // [T, KV, hd]

    const attn = attention(g, { q: qGrouped, k, v, mask: local ? localMask : mask }, round); // [T, H·hd]
    const attnOut = linear(g, attn, w(`${p}.attn_output.weight`)); // [T, H·hd] → [T, E]
    x = g.add(rmsNorm(g, attnOut, w(`${p}.post_attention_norm.weight`), spec.rmsEps), x);

    const f = rmsNorm(g, x, w(`${p}.ffn_norm.weight`), spec.rmsEps);
    const gated = geglu(
      g,
      linear(g, f, w(`${p}.ffn_gate.weight`)),
      linear(g, f, w(`${p}.ffn_up.weight`)),
      round,
    ); // [T, ff]
    const down = linear(g, gated, w(`${p}.ffn_down.weight`)); // [T, ff] → [T, E]
    x = g.add(rmsNorm(g, down, w(`${p}.post_ffw_norm.weight`), spec.rmsEps), x);
  }

  // The head runs on the selected rows only (norm and head are per row). [T, E] → [P, E] → [P, V]
  const selected = rmsNorm(g, g.gather(x, outputPositions), w("output_norm.weight"), spec.rmsEps);
  let logits = linear(g, selected, w(spec.separateOutput ? "output.weight" : "token_embd.weight"));
  if (spec.finalLogitSoftcap > 0) {
    const cap = spec.finalLogitSoftcap;
    logits = g.mul(g.tanh(g.mul(logits, 1 / cap)), cap);
  }
  return {
    graph: g,
    logits: g.output(logits, "logits"),
    inputs: { tokens, embeds, useEmbeds, positions, mask, outputPositions },
    weights,
  };
}
