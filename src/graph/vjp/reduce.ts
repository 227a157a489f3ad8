/**
 * Reductions: the gradient of the reduced value is broadcast back over the reduced axes. Axes come
 * from the constant `axes` input (absent: all axes); `keepdims=0` outputs regain their axes first.
 */
import type { Node, Value } from "../types.js";
import { range, type VjpContext, type VjpRule, when } from "./context.js";

/** The normalized reduced axes and `keepdims` of a Reduce* node. */
function reduction(ctx: VjpContext, node: Node): { axes: number[]; keep: boolean } {
  const x = node.inputs[0]!;
  const rank = x.shape.length;
  const given = node.inputs[1] ? ctx.requireConst(node, 1, "axes") : null;
  const axes = (given && given.length > 0 ? given : range(rank)).map((a) => (a < 0 ? a + rank : a));
  const keep = node.attrs.keepdims?.value !== 0;
  return { axes: [...new Set(axes)].sort((p, q) => p - q), keep };
}

/** `v` (the output or its gradient) with the reduced axes back as size 1. */
function kept(ctx: VjpContext, v: Value, axes: number[], keep: boolean): Value {
  return keep ? v : ctx.g.unsqueeze(v, axes);
}

const reduceSum: VjpRule = (ctx, node, [dy], wants) => {
  const { axes, keep } = reduction(ctx, node);
  return [when(wants[0], () => ctx.expandLike(kept(ctx, dy!, axes, keep), node.inputs[0]!)), null];
};

const reduceMean: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const x = node.inputs[0]!;
  const { axes, keep } = reduction(ctx, node);
  const grad = () => {
    const dims = axes.map((a) => x.shape[a]);
    let scale: Value;
    if (dims.every((d) => typeof d === "number")) {
      scale = g.scalar(1 / (dims as number[]).reduce((p, q) => p * q, 1), x.dtype);
    } else {
      // Symbolic reduced dims: count = size(x) / size(y) at run time.
      const size = (v: Value) => g.cast(g.node("Size", [v], [{ dtype: "int64", shape: [] }])[0], x.dtype);
      scale = g.div(size(node.outputs[0]), size(x));
    }
    // Scale before expanding: the kept tensor is the smaller one.
    return ctx.expandLike(g.mul(kept(ctx, dy!, axes, keep), scale), x);
  };
  return [when(wants[0], grad), null];
};

/** ReduceMax: the gradient is shared equally among the positions that hold the maximum. */
const reduceMax: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const x = node.inputs[0]!;
  const { axes, keep } = reduction(ctx, node);
  const grad = () => {
    const mask = g.cast(g.equal(x, kept(ctx, node.outputs[0], axes, keep)), x.dtype);
    const ties = g.reduceSum(mask, axes, true);
    return g.mul(mask, g.div(kept(ctx, dy!, axes, keep), ties));
  };
  return [when(wants[0], grad), null];
};

/** ReduceL2: y = ‖x‖, dx = dy · x / y. */
const reduceL2: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const x = node.inputs[0]!;
  const { axes, keep } = reduction(ctx, node);
  const grad = () => g.mul(x, g.div(kept(ctx, dy!, axes, keep), kept(ctx, node.outputs[0], axes, keep)));
  return [when(wants[0], grad), null];
};

export const reduceRules: Record<string, VjpRule> = {
  ReduceSum: reduceSum,
  ReduceMean: reduceMean,
  ReduceMax: reduceMax,
  ReduceL2: reduceL2,
};
