/**
 * Self-attention with biased Q/K/V projections → `com.microsoft.Attention` (one packed QKV GEMM and
 * onnxruntime's fused attention kernel). Matched around each Softmax, in the forms `torch.onnx`
 * writes for HF `SiglipAttention` (eager and SDPA) and vlmkit's builder writes:
 *
 *   q = Transpose(Reshape(x·Wq + bq, [B, S, H|-1, Dh]), [0, 2, 1, 3])                       [B, H, S, Dh]
 *   kᵀ = Transpose(Reshape(x·Wk + bk, …), [0, 2, 3, 1])  or  Transpose(Transpose(…, [0, 2, 1, 3]), [0, 1, 3, 2])
 *   v = Transpose(Reshape(x·Wv + bv, …), [0, 2, 1, 3])
 *   scores = Mul(MatMul(q, kᵀ), c) | Div(MatMul(q, kᵀ), c) | MatMul(Mul(q, c₁), Mul(kᵀ, c₂)) | MatMul(q, kᵀ)
 *   out = Reshape(Transpose(MatMul(Softmax(scores [+ mask], -1), v), [0, 2, 1, 3]), [B, S, D])
 *
 * Reshape shapes may be constants or built at run time (Shape → Gather → Unsqueeze → Concat); the
 * head size comes from their last entry, or from the scale. An additive mask (e.g. [B, 1, 1, S] from a
 * padding mask) is expanded to [B, 1, S, S] and passed as `attention_bias`. Only self-attention whose
 * input depends on the model's inputs is fused (the pooling head's learned probe is a constant query
 * over different keys and is left alone).
 */
import type { NodeProto } from "../proto/onnx_pb.js";
import { attrInt, type GraphView, MS_DOMAIN } from "./graph-view.js";
import { biasedLinear, isOp, perm, samePerm } from "./match.js";

interface Projection {
  nodes: NodeProto[];
  x: string;
  weight: string;
  bias: string;
  reshape: NodeProto;
}

/** Transpose(Reshape(x·W + b, …), perm) → the projection; `perm` applies to the outer Transpose. */
function headProjection(g: GraphView, value: string, outerPerm: readonly number[]): Projection | undefined {
  const t = g.producer(value);
  let nodes: NodeProto[] = [];
  let reshapeOut: string | undefined;
  if (samePerm(perm(t), outerPerm)) {
    nodes = [t!];
    reshapeOut = t!.input[0];
  }
  // kᵀ as two transposes: [0, 2, 1, 3] then [0, 1, 3, 2].
  if (!reshapeOut && samePerm(outerPerm, [0, 2, 3, 1]) && samePerm(perm(t), [0, 1, 3, 2])) {
    const inner = g.producer(t!.input[0]);
    if (samePerm(perm(inner), [0, 2, 1, 3]) && g.onlyConsumer(inner!.output[0])) {
      nodes = [t!, inner!];
      reshapeOut = inner!.input[0];
    }
  }
  if (!reshapeOut || !g.onlyConsumer(reshapeOut)) return undefined;
  const reshape = g.producerOf(reshapeOut, "Reshape");
  if (!reshape || !g.onlyConsumer(reshape.input[0])) return undefined;
  const linear = biasedLinear(g, reshape.input[0]);
  if (!linear) return undefined;
  return {
    nodes: [...nodes, reshape, linear.add, linear.matmul],
    x: linear.x,
    weight: linear.weight,
    bias: linear.bias,
    reshape,
  };
}

/** The last two entries of a Reshape target ([…, H or -1, Dh]) when they are known. */
function reshapeTail(g: GraphView, reshape: NodeProto): [number | undefined, number | undefined] {
  const direct = g.ints(reshape.input[1]);
  if (direct && direct.length === 4) return [direct[2], direct[3]];
  const concat = g.producerOf(reshape.input[1], "Concat");
  if (concat?.input.length !== 4) return [undefined, undefined];
  const entry = (v: string): number | undefined => {
    const c =
      g.ints(v) ??
      (() => {
        const u = g.producerOf(v, "Unsqueeze");
        return u ? g.ints(u.input[0]) : undefined;
      })();
    return c && c.length === 1 ? c[0] : undefined;
  };
  return [entry(concat.input[2]), entry(concat.input[3])];
}

/** Scores before the mask: the scale and the q / kᵀ operands of the MatMul. */
function scaledScores(
  g: GraphView,
  value: string,
): { nodes: NodeProto[]; scale: number; q: string; kT: string } | undefined {
  const n = g.producer(value);
  if (!g.onlyConsumer(value) || !n || n.domain !== "") return undefined;
  if (n.opType === "MatMul") {
    // SDPA: MatMul(Mul(q, c₁), Mul(kᵀ, c₂)), or an unscaled MatMul.
    let scale = 1;
    const nodes = [n];
    const operand = (v: string): string => {
      const m = g.producerOf(v, "Mul");
      if (!m || !g.onlyConsumer(v)) return v;
      const c = g.scalar(m.input[1]) ?? g.scalar(m.input[0]);
      if (c === undefined) return v;
      scale *= c;
      nodes.push(m);
      return g.scalar(m.input[1]) !== undefined ? m.input[0] : m.input[1];
    };
    const q = operand(n.input[0]);
    const kT = operand(n.input[1]);
    return { nodes, scale, q, kT };
  }
  const div = n.opType === "Div";
  if (n.opType === "Mul" || div) {
    for (const [mm, c] of [
      [n.input[0], n.input[1]],
      [n.input[1], n.input[0]],
    ]) {
      if (div && mm !== n.input[0]) continue;
      const matmul = g.producerOf(mm, "MatMul");
      const k = g.scalar(c);
      if (!matmul || k === undefined || !g.onlyConsumer(mm)) continue;
      return { nodes: [n, matmul], scale: div ? 1 / k : k, q: matmul.input[0], kT: matmul.input[1] };
    }
  }
  return undefined;
}

function concatFloat(g: GraphView, names: readonly string[]): Float32Array[] {
  return names.map((n) => g.constant(n)!.values as Float32Array);
}

export function fuseAttention(g: GraphView): number {
  let fused = 0;
  const expandedMasks = new Map<string, string>();
  for (const softmax of g.nodesOf("Softmax")) {
    const axis = attrInt(softmax, "axis") ?? (g.opset() >= 13 ? -1 : 1);
    if (axis !== -1 && axis !== 3) continue;
    // Optional additive mask before the Softmax.
    let scoresOut = softmax.input[0];
    let mask: string | undefined;
    const nodes: NodeProto[] = [softmax];
    let scores = scaledScores(g, scoresOut);
    const maskAdd = g.producerOf(scoresOut, "Add");
    if (!scores && maskAdd && g.onlyConsumer(scoresOut)) {
      for (const [s, m] of [
        [maskAdd.input[0], maskAdd.input[1]],
        [maskAdd.input[1], maskAdd.input[0]],
      ]) {
        scores = scaledScores(g, s);
        if (scores) {
          mask = m;
          scoresOut = s;
          nodes.push(maskAdd);
          break;
        }
      }
    }
    if (!scores) continue;
    const q = headProjection(g, scores.q, [0, 2, 1, 3]);
    const k = headProjection(g, scores.kT, [0, 2, 3, 1]);
    const probs = g.onlyConsumer(softmax.output[0]);
    if (!q || !k || !isOp(probs, "MatMul") || probs.input[0] !== softmax.output[0]) continue;
    const v = headProjection(g, probs.input[1], [0, 2, 1, 3]);
    const merge = g.onlyConsumer(probs.output[0]);
    const outReshape =
      merge && samePerm(perm(merge), [0, 2, 1, 3]) ? g.onlyConsumer(merge.output[0]) : undefined;
    if (!v || !isOp(outReshape, "Reshape")) continue;
    const x = q.x;
    if (k.x !== x || v.x !== x || g.isConstantDerived(x)) continue;
    const [wq, wk, wv] = concatFloat(g, [q.weight, k.weight, v.weight]);
    const dims = g.initializer(q.weight)!.dims.map(Number); // [D, D]
    const [D, Dq] = dims;
    if (Dq !== D || wk.length !== wq.length || wv.length !== wq.length) continue;
    const [h, dh] = reshapeTail(g, q.reshape);
    let headSize = dh !== undefined && dh > 0 ? dh : h !== undefined && h > 0 ? D / h : undefined;
    if (headSize === undefined && scores.scale !== 1) headSize = Math.round(1 / scores.scale ** 2);
    if (!headSize || !Number.isInteger(D / headSize)) continue;
    const heads = D / headSize;
    // Packed weights [D, 3D] (rows of Wq | Wk | Wv side by side) and bias [3D].
    const packed = new Float32Array(D * 3 * D);
    for (let r = 0; r < D; r++) {
      packed.set(wq.subarray(r * D, (r + 1) * D), r * 3 * D);
      packed.set(wk.subarray(r * D, (r + 1) * D), r * 3 * D + D);
      packed.set(wv.subarray(r * D, (r + 1) * D), r * 3 * D + 2 * D);
    }
    const [bq, bk, bv] = concatFloat(g, [q.bias, k.bias, v.bias]);
    const bias = new Float32Array(3 * D);
    bias.set(bq, 0);
    bias.set(bk, D);
    bias.set(bv, 2 * D);
    const inputs = [
      x,
      g.addInitializer(`${q.weight}_qkv`, [D, 3 * D], packed),
      g.addInitializer(`${q.bias}_qkv`, [3 * D], bias),
    ];
    if (mask) {
      let expanded = expandedMasks.get(mask);
      if (!expanded) {
        // [B|1, 1|H, 1|S, S] → [B|1, 1|H, S, S]: broadcast against [1, 1, S, 1], S from x [B, S, D]
        // (self-attention: every layer reading this mask has the same S).
        const shape = g.fresh("attn_input_shape");
        g.addNode("Shape", [x], [shape]);
        const seq = g.fresh("attn_seq_len");
        g.addNode("Gather", [shape, g.addInitializer("one_index", [1], BigInt64Array.of(1n))], [seq], {
          axis: { int: 0 },
        });
        const target = g.fresh("attn_bias_shape");
        const ones = g.addInitializer("ones_2", [2], BigInt64Array.of(1n, 1n));
        const one = g.addInitializer("ones_1", [1], BigInt64Array.of(1n));
        g.addNode("Concat", [ones, seq, one], [target], { axis: { int: 0 } });
        expanded = g.fresh("attn_bias");
        g.addNode("Expand", [mask, target], [expanded]);
        expandedMasks.set(mask, expanded);
      }
      inputs.push("", "", expanded);
    }
    g.remove([...nodes, ...scores.nodes, ...q.nodes, ...k.nodes, ...v.nodes, probs, merge!, outReshape]);
    g.addNode(
      "Attention",
      inputs,
      [outReshape.output[0]],
      { num_heads: { int: heads }, scale: scores.scale },
      MS_DOMAIN,
    );
    fused++;
  }
  return fused;
}
