/**
 * MatMul with numpy semantics (batched, broadcast batch dims, 1-D operands promoted):
 * dA = dY·Bᵀ and dB = Aᵀ·dY, summed over the batch dims the operand was broadcast along.
 * Transposes are plain Transpose nodes on the last two axes: onnxruntime's MatmulTransposeFusion
 * folds them into the GEMM (FusedMatMul transA/transB) for float32, so no transposed copy is made.
 */
import type { Graph } from "../graph.js";
import type { Value } from "../types.js";
import { range, type VjpRule } from "./context.js";

/** Swaps the last two axes. */
function swapLast(g: Graph, x: Value): Value {
  const r = x.shape.length;
  const perm = range(r);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return g.transpose(x, perm);
}

export const matmul: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const [a, b] = node.inputs as Value[];
  // Promote 1-D operands as the forward did: A [K] → [1, K], B [K] → [K, 1].
  const a2 = () => (a.shape.length === 1 ? g.unsqueeze(a, [0]) : a);
  const b2 = () => (b.shape.length === 1 ? g.unsqueeze(b, [1]) : b);
  // dY gains the axes the promotion added and the forward removed.
  let dy2 = dy!;
  if (a.shape.length === 1) dy2 = g.unsqueeze(dy2, [b.shape.length === 1 ? 0 : -2]);
  if (b.shape.length === 1) dy2 = g.unsqueeze(dy2, [dy2.shape.length]);

  const da = (): Value => {
    // [..., M, N] · [..., N, K] → [..., M, K] → A's batch dims
    const full = g.matmul(dy2, swapLast(g, b2()));
    const out = ctx.unbroadcast(full, {
      name: a.name,
      shape: a.shape.length === 1 ? [1, ...a.shape] : a.shape,
    });
    return a.shape.length === 1 ? g.squeeze(out, [0]) : out;
  };

  const db = (): Value => {
    const k = a.shape[a.shape.length - 1];
    const n = dy2.shape[dy2.shape.length - 1];
    let out: Value;
    if (b.shape.length === 2 && a.shape.length > 2 && typeof k === "number" && typeof n === "number") {
      // A shared weight: fold the batch dims into the rows, one GEMM instead of a batch and a sum.
      // [B…, M, K]ᵀ · [B…, M, N] → [K, N]
      const rows = a.shape.slice(0, -1).every((d) => typeof d === "number")
        ? (a.shape.slice(0, -1) as number[]).reduce((p, q) => p * q, 1)
        : g.freshDim("rows");
      // One row count for both reshapes, so the builder sees that the GEMM's inner dims agree.
      const flat = (v: Value, cols: number) => g.reshapeTo(v, g.ints([-1, cols]), [rows, cols]);
      out = g.matmul(swapLast(g, flat(a, k)), flat(dy2, n));
    } else {
      const target = { name: b.name, shape: b.shape.length === 1 ? [...b.shape, 1] : b.shape };
      out = ctx.unbroadcast(g.matmul(swapLast(g, a2()), dy2), target);
    }
    return b.shape.length === 1 ? g.squeeze(out, [1]) : out;
  };

  return [wants[0] ? da() : null, wants[1] ? db() : null];
};
