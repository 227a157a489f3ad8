/** Small helpers shared by the pattern matchers. */
import type { NodeProto } from "../proto/onnx_pb.js";
import { attrInts, type GraphView } from "./graph-view.js";

/** For a two-input node that reads `value`, the other input; undefined when it does not read it. */
export function otherInput(n: NodeProto, value: string): string | undefined {
  if (n.input[0] === value) return n.input[1];
  if (n.input[1] === value) return n.input[0];
  return undefined;
}

/** `n` is a default-domain `op`. */
export function isOp(n: NodeProto | undefined, op: string): n is NodeProto {
  return n !== undefined && n.opType === op && n.domain === "";
}

/** |a − b| ≤ tol·max(1, |b|). */
export function near(a: number | undefined, b: number, tol = 1e-4): boolean {
  return a !== undefined && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

/** Reduce axes from the `axes` attribute (opset < 18) or the second input (opset ≥ 18). */
export function reduceAxes(g: GraphView, n: NodeProto): number[] | undefined {
  return attrInts(n, "axes") ?? (n.input[1] ? g.ints(n.input[1]) : undefined);
}

/** A reduction over the last axis only (given as -1, or as rank-1 when `rank` is known). */
export function reducesLastAxis(g: GraphView, n: NodeProto, rank = 3): boolean {
  const axes = reduceAxes(g, n);
  return axes !== undefined && axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1);
}

/** Transpose permutation (undefined if `n` is not a Transpose). */
export function perm(n: NodeProto | undefined): number[] | undefined {
  return isOp(n, "Transpose") ? attrInts(n, "perm") : undefined;
}

export function samePerm(p: readonly number[] | undefined, want: readonly number[]): boolean {
  return p !== undefined && p.length === want.length && p.every((v, i) => v === want[i]);
}

/**
 * A biased linear layer `x·W + b` (MatMul then Add, bias on either side): the MatMul, the Add, the
 * weight and bias names. `value` is the Add's output.
 */
export function biasedLinear(
  g: GraphView,
  value: string,
): { matmul: NodeProto; add: NodeProto; x: string; weight: string; bias: string } | undefined {
  const add = g.producerOf(value, "Add");
  if (!add) return undefined;
  for (const [mm, b] of [
    [add.input[0], add.input[1]],
    [add.input[1], add.input[0]],
  ]) {
    const matmul = g.producerOf(mm, "MatMul");
    const bias = g.initializer(b);
    const weight = matmul ? g.initializer(matmul.input[1]) : undefined;
    if (!matmul || !bias || !weight || bias.dims.length !== 1 || weight.dims.length !== 2) continue;
    if (Number(bias.dims[0]) !== Number(weight.dims[1])) continue;
    if (g.consumers(mm).length !== 1) continue;
    return { matmul, add, x: matmul.input[0], weight: matmul.input[1], bias: b };
  }
  return undefined;
}
