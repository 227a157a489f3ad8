/**
 * The SigLIP transformer blocks (HF `modeling_siglip.py` / `modeling_siglip2.py`) as ONNX subgraphs:
 * pre-LN encoder layers with biased multi-head attention and a gelu-tanh MLP, and the MAP
 * (multihead attention pooling) head.
 */
import type { Graph, Value } from "../graph/index.js";
import type { WeightFactory } from "./siglip-weights.js";

export interface BlockSizes {
  hidden: number;
  heads: number;
  mlp: number;
  /** LayerNorm epsilon; SigLIP configs use 1e-6. */
  eps: number;
}

/** float32 minimum, the additive mask value HF uses (`torch.finfo(float32).min`). */
export const MASK_MIN = -3.4028234663852886e38;

export function linear(g: Graph, x: Value, p: { w: Value; b: Value }): Value {
  return g.add(g.matmul(x, p.w), p.b);
}

/** [B, S, D] → [B, H, S, Dh] */
function splitHeads(g: Graph, x: Value, heads: number, headDim: number): Value {
  return g.transpose(g.reshape(x, [0, 0, heads, headDim]), [0, 2, 1, 3]);
}

/**
 * Scaled dot-product attention with biased projections.
 * query [Bq, Sq, D], keyValue [B, S, D], mask (additive) [B, 1, 1, S] or null → [B, Sq, D].
 */
export function attention(
  g: Graph,
  w: WeightFactory,
  prefix: string,
  query: Value,
  keyValue: Value,
  mask: Value | null,
  s: BlockSizes,
): Value {
  const headDim = s.hidden / s.heads;
  const q = splitHeads(
    g,
    linear(g, query, w.linear(`${prefix}.q_proj`, s.hidden, s.hidden)),
    s.heads,
    headDim,
  );
  const kp = linear(g, keyValue, w.linear(`${prefix}.k_proj`, s.hidden, s.hidden));
  const k = g.transpose(g.reshape(kp, [0, 0, s.heads, headDim]), [0, 2, 3, 1]); // [B, H, Dh, S]
  const v = splitHeads(
    g,
    linear(g, keyValue, w.linear(`${prefix}.v_proj`, s.hidden, s.hidden)),
    s.heads,
    headDim,
  );
  let scores = g.mul(g.matmul(q, k), headDim ** -0.5); // [B, H, Sq, S]
  if (mask) scores = g.add(scores, mask);
  const ctx = g.matmul(g.softmax(scores, -1), v); // [B, H, Sq, Dh]
  const merged = g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [0, 0, s.hidden]); // [B, Sq, D]
  return linear(g, merged, w.linear(`${prefix}.out_proj`, s.hidden, s.hidden));
}

/** fc1 → gelu(tanh) → fc2, as SigLIP's `gelu_pytorch_tanh`. [.., D] → [.., D] */
export function mlp(g: Graph, w: WeightFactory, prefix: string, x: Value, s: BlockSizes): Value {
  const h = g.gelu(linear(g, x, w.linear(`${prefix}.fc1`, s.hidden, s.mlp)), "tanh");
  return linear(g, h, w.linear(`${prefix}.fc2`, s.mlp, s.hidden));
}

export function layerNorm(g: Graph, w: WeightFactory, prefix: string, x: Value, s: BlockSizes): Value {
  const p = w.layerNorm(prefix, s.hidden);
  return g.layerNorm(x, p.scale, p.bias, { epsilon: s.eps });
}

/** Pre-LN encoder layer. [B, S, D] → [B, S, D] */
export function encoderLayer(
  g: Graph,
  w: WeightFactory,
  prefix: string,
  x: Value,
  mask: Value | null,
  s: BlockSizes,
): Value {
  const h = layerNorm(g, w, `${prefix}.layer_norm1`, x, s);
  const x1 = g.add(x, attention(g, w, `${prefix}.self_attn`, h, h, mask, s));
  const h2 = layerNorm(g, w, `${prefix}.layer_norm2`, x1, s);
  return g.add(x1, mlp(g, w, `${prefix}.mlp`, h2, s));
}

export function encoder(
  g: Graph,
  w: WeightFactory,
  prefix: string,
  x: Value,
  mask: Value | null,
  layers: number,
  s: BlockSizes,
): Value {
  let h = x;
  for (let i = 0; i < layers; i++) h = encoderLayer(g, w, `${prefix}.layers.${i}`, h, mask, s);
  return h;
}

/**
 * MAP head: a learned probe attends over the patches, then a residual MLP. [B, N, D] → [B, D]
 */
export function attentionPoolingHead(
  g: Graph,
  w: WeightFactory,
  prefix: string,
  x: Value,
  mask: Value | null,
  s: BlockSizes,
): Value {
  const probe = w.normal(`${prefix}.probe`, [1, 1, s.hidden], 1);
  const pooled = attention(g, w, `${prefix}.attention`, probe, x, mask, s); // [B, 1, D]
  const h = layerNorm(g, w, `${prefix}.layernorm`, pooled, s);
  const out = g.add(pooled, mlp(g, w, `${prefix}.mlp`, h, s));
  return g.squeeze(out, [1]);
}

/** pixel_attention_mask [B, N] (1 = real) → additive key mask [B, 1, 1, N] */
export function keyPaddingMask(g: Graph, mask: Value): Value {
  const zero = g.scalar(0, mask.dtype);
  const additive = g.where(g.equal(mask, zero), g.scalar(MASK_MIN, "float32"), g.scalar(0, "float32"));
  return g.unsqueeze(additive, [1, 2]);
}
