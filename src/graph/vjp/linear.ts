/**
 * MatMul with numpy semantics (batched, broadcast batch dims, 1-D operands promoted):
 * dA = dY·Bᵀ and dB = Aᵀ·dY, summed over the batch dims the operand was broadcast along.
 * The transposes are GEMM flags (com.microsoft FusedMatMul) rather than Transpose nodes: left to
 * itself, onnxruntime fuses Transpose into MatMul only sometimes (a MatMul+Add fused into Gemm first
 * kept a materialized [2048, 640] weight transpose), and a transposed weight copy costs a full pass.
 */
import type { Graph } from "../graph.js";
import { matmulShape } from "../shape.js";
import { attr, type Value } from "../types.js";
import { range, type VjpContext, type VjpRule } from "./context.js";

const FUSABLE = new Set(["float32", "float64"]);

/** The shape with its last two axes swapped. */
function swapped<T>(shape: readonly T[]): T[] {
  const s = [...shape];
  [s[s.length - 2], s[s.length - 1]] = [s[s.length - 1], s[s.length - 2]];
  return s;
}

function transposeLast(g: Graph, x: Value): Value {
  return g.transpose(x, swapped(range(x.shape.length)));
}

/** The input of a Transpose that swaps only the last two axes, else `null`. */
function swappedFrom(v: Value): Value | null {
  const p = v.producer;
  if (p?.op !== "Transpose" || p.domain !== "" || v.shape.length < 2) return null;
  const perm = p.attrs.perm;
  const want = swapped(range(v.shape.length));
  return perm?.type === "ints" && perm.value.every((axis, i) => axis === want[i]) ? p.inputs[0] : null;
}

/**
 * op(A)·op(B) where op transposes the last two axes when asked; both operands have rank ≥ 2.
 * An operand that is itself a last-two-axes Transpose (a linear layer's `x·Wᵀ`) is read through and
 * its flag flips: dX = dY·(Wᵀ)ᵀ becomes a plain MatMul dY·W, with no transpose in the backward pass.
 */
function matmulT(ctx: VjpContext, a0: Value, b0: Value, transA0: boolean, transB0: boolean): Value {
  const g = ctx.g;
  const aSrc = swappedFrom(a0);
  const bSrc = swappedFrom(b0);
  const [a, transA] = aSrc ? [aSrc, !transA0] : [a0, transA0];
  const [b, transB] = bSrc ? [bSrc, !transB0] : [b0, transB0];
  if (!transA && !transB) return g.matmul(a, b);
  if (!ctx.fusedMatMul || !FUSABLE.has(a.dtype)) {
    return g.matmul(transA ? transposeLast(g, a) : a, transB ? transposeLast(g, b) : b);
  }
  const shape = matmulShape(transA ? swapped(a.shape) : a.shape, transB ? swapped(b.shape) : b.shape);
  return g.node(
    "FusedMatMul",
    [a, b],
    [{ dtype: a.dtype, shape }],
    { transA: attr.int(transA ? 1 : 0), transB: attr.int(transB ? 1 : 0), alpha: attr.float(1) },
    "com.microsoft",
  )[0];
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
    // [..., M, N] · [..., K, N]ᵀ → [..., M, K] → A's batch dims
    const full = matmulT(ctx, dy2, b2(), false, true);
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
      out = matmulT(ctx, flat(a, k), flat(dy2, n), true, false);
    } else {
      const target = { name: b.name, shape: b.shape.length === 1 ? [...b.shape, 1] : b.shape };
      out = ctx.unbroadcast(matmulT(ctx, a2(), dy2, true, false), target);
    }
    return b.shape.length === 1 ? g.squeeze(out, [1]) : out;
  };

  return [wants[0] ? da() : null, wants[1] ? db() : null];
};
