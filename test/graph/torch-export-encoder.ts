/**
 * A small SigLIP encoder written the way `torch.onnx` (TorchScript exporter, opset 14 as optimum and
 * transformers.js conversions use) exports HF `SiglipEncoder`, not the way vlmkit's builder writes it:
 * LayerNorm and gelu_pytorch_tanh spelled out in elementary ops with constants first, Linear as
 * `Add(bias, MatMul)`, head split/merge Reshapes whose targets are computed at run time from Shape,
 * kᵀ as two Transposes in one layer and one in the other, eager (`Mul` after the MatMul) and SDPA
 * (`Mul` on q and kᵀ) scaling, and the padding mask built as `_prepare_4d_attention_mask` exports.
 *
 * hidden [B, S, D] f32, attention_mask [B, S] int64 → last_hidden_state [B, S, D]
 */
import { attr, Graph, type Value } from "../../src/graph/index.js";
import { WeightFactory } from "../../src/tiny/siglip-weights.js";

export const TORCH_SIZES = { hidden: 32, heads: 4, mlp: 64, layers: 2 };

export function torchExportEncoder(): Graph {
  const { hidden: D, heads: H, mlp: F, layers } = TORCH_SIZES;
  const Dh = D / H;
  const g = new Graph("torch_export_encoder");
  const w = new WeightFactory(g, 7);
  const x0 = g.input("hidden", "float32", ["batch", "seq", D]);
  const maskIn = g.input("attention_mask", "int64", ["batch", "seq"]);
  const shape = g.shapeOf(x0);
  const dim = (i: number) => g.unsqueeze(g.gather(shape, g.scalar(i, "int64")), [0]); // [1]
  const c = (v: number) => g.scalar(v, "float32");

  // _prepare_4d_attention_mask: expand [B, S] → [B, 1, S, S], invert, fill with finfo.min.
  const target = g.concat([dim(0), g.ints([1]), dim(1), dim(1)], 0);
  const expanded = g.cast(
    g.expand(g.unsqueeze(maskIn, [1, 2]), target, ["batch", 1, "seq", "seq"]),
    "float32",
  );
  const inverted = g.sub(c(1), expanded);
  const mask = g.where(g.cast(inverted, "bool"), c(-3.4028234663852886e38), inverted); // [B, 1, S, S]

  const linear = (x: Value, prefix: string, i: number, o: number) => {
    const p = w.linear(prefix, i, o);
    return g.add(p.b, g.matmul(x, p.w));
  };
  // ReduceMean with the opset-13 `axes` attribute (an input from opset 18 on).
  const mean = (v: Value) =>
    g.node("ReduceMean", [v], [{ dtype: "float32", shape: ["batch", "seq", 1] }], {
      axes: attr.ints([-1]),
      keepdims: attr.int(1),
    })[0];
  const layerNorm = (x: Value, prefix: string) => {
    const p = w.layerNorm(prefix, D);
    const d = g.sub(x, mean(x));
    const variance = mean(g.pow(d, 2));
    const n = g.div(d, g.sqrt(g.add(variance, 1e-6)));
    return g.add(g.mul(n, p.scale), p.bias);
  };
  const gelu = (x: Value) => {
    const cube = g.mul(x, g.mul(x, x));
    const inner = g.mul(c(Math.sqrt(2 / Math.PI)), g.add(x, g.mul(c(0.044715), cube)));
    return g.mul(c(0.5), g.mul(x, g.add(c(1), g.tanh(inner))));
  };
  const splitTarget = g.concat([dim(0), dim(1), g.ints([-1]), g.ints([Dh])], 0);
  const heads = (v: Value) => g.reshapeTo(v, splitTarget, ["batch", "seq", H, Dh]);
  const mergeTarget = g.concat([dim(0), dim(1), g.ints([D])], 0);

  let x = x0;
  for (let i = 0; i < layers; i++) {
    const p = `encoder.layers.${i}`;
    const h = layerNorm(x, `${p}.layer_norm1`);
    const q = g.transpose(heads(linear(h, `${p}.self_attn.q_proj`, D, D)), [0, 2, 1, 3]);
    const kHeads = heads(linear(h, `${p}.self_attn.k_proj`, D, D));
    const v = g.transpose(heads(linear(h, `${p}.self_attn.v_proj`, D, D)), [0, 2, 1, 3]);
    let scores: Value;
    if (i % 2 === 0) {
      // eager: matmul(q, k.transpose(2, 3)) * scale, the two transposes kept apart
      const kT = g.transpose(g.transpose(kHeads, [0, 2, 1, 3]), [0, 1, 3, 2]);
      scores = g.mul(g.matmul(q, kT), c(Dh ** -0.5));
    } else {
      // SDPA: q · √scale and kᵀ · √scale before the MatMul
      const kT = g.transpose(kHeads, [0, 2, 3, 1]);
      const s = c(Math.sqrt(Dh ** -0.5));
      scores = g.matmul(g.mul(q, s), g.mul(kT, s));
    }
    const probs = g.softmax(g.add(scores, mask), -1);
    const ctx = g.transpose(g.matmul(probs, v), [0, 2, 1, 3]);
    const merged = g.reshapeTo(ctx, mergeTarget, ["batch", "seq", D]);
    const x1 = g.add(x, linear(merged, `${p}.self_attn.out_proj`, D, D));
    const h2 = layerNorm(x1, `${p}.layer_norm2`);
    const m = linear(gelu(linear(h2, `${p}.mlp.fc1`, D, F)), `${p}.mlp.fc2`, F, D);
    x = g.add(x1, m);
  }
  g.output(layerNorm(x, "post_layernorm"), "last_hidden_state");
  return g;
}
