/**
 * Gathers: the gradient is scattered back with addition, since one row may be gathered many times.
 * Indices get no gradient. Indices are assumed non-negative.
 */
import { attr, type Dim, type Value } from "../types.js";
import { range, type VjpRule, when } from "./context.js";

/**
 * Gather(data, indices, axis): dy [pre, I…, post] → one index axis [nI, pre, post] → ScatterND with
 * reduction "add" into zeros [N, pre, post] → transpose back to data's layout [pre, N, post].
 */
const gather: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const [data, indices] = node.inputs as Value[];
  const rawAxis = node.attrs.axis?.value as number | undefined;
  const axis = (rawAxis ?? 0) < 0 ? (rawAxis as number) + data.shape.length : (rawAxis ?? 0);
  const q = indices.shape.length;
  const grad = (): Value => {
    const pre = data.shape.slice(0, axis);
    const post = data.shape.slice(axis + 1);
    const nI: Dim = indices.shape.every((d) => typeof d === "number")
      ? (indices.shape as number[]).reduce((a, b) => a * b, 1)
      : g.freshDim("gather_n");
    // [pre, I…, post] → [pre, nI, post]
    let d1 = dy!;
    if (q === 0) d1 = g.unsqueeze(d1, [axis]);
    else if (q > 1) {
      const merged = [...pre, nI, ...post];
      if (merged.every((d) => typeof d === "number")) d1 = g.reshape(d1, merged as number[]);
      else {
        const dims = g.shapeOf(d1);
        const target = g.concat(
          [g.slice(dims, [0], [axis]), g.ints([-1]), g.slice(dims, [axis + q], [Number.MAX_SAFE_INTEGER])],
          0,
        );
        d1 = g.reshapeTo(d1, target, merged);
      }
    }
    // [pre, nI, post] → [nI, pre, post]
    const toFront = [axis, ...range(axis), ...range(post.length, axis + 1)];
    if (axis !== 0) d1 = g.transpose(d1, toFront);
    const idx = g.reshape(indices.dtype === "int64" ? indices : g.cast(indices, "int64"), [-1, 1]);
    const zerosShape = [data.shape[axis], ...pre, ...post];
    const zeros = axis === 0 ? ctx.zerosLike(data) : zerosOf(ctx, data, zerosShape, toFront);
    let out = g.node("ScatterND", [zeros, idx, d1], [{ dtype: data.dtype, shape: zerosShape }], {
      reduction: attr.string("add"),
    })[0];
    // [N, pre, post] → [pre, N, post]
    if (axis !== 0) {
      const back = new Array<number>(toFront.length);
      toFront.forEach((a, i) => {
        back[a] = i;
      });
      out = g.transpose(out, back);
    }
    return out;
  };
  return [when(wants[0], grad), null];
};

/** Zeros shaped like `data` with axes permuted by `perm`. */
function zerosOf(ctx: Parameters<VjpRule>[0], data: Value, shape: Dim[], perm: number[]): Value {
  const g = ctx.g;
  if (shape.every((d) => typeof d === "number")) return g.expand(g.scalar(0, data.dtype), shape as number[]);
  const dims = g.gather(g.shapeOf(data), g.ints(perm));
  return g.expand(g.scalar(0, data.dtype), dims, shape);
}

/** GatherElements(data, indices, axis): ScatterElements with reduction "add" into zeros of data. */
const gatherElements: VjpRule = (ctx, node, [dy], wants) => {
  const [data, indices] = node.inputs as Value[];
  const axis = (node.attrs.axis?.value as number | undefined) ?? 0;
  const grad = () =>
    ctx.g.node(
      "ScatterElements",
      [ctx.zerosLike(data), indices, dy!],
      [{ dtype: data.dtype, shape: data.shape }],
      { axis: attr.int(axis), reduction: attr.string("add") },
    )[0];
  return [when(wants[0], grad), null];
};

export const gatherRules: Record<string, VjpRule> = {
  Gather: gather,
  GatherElements: gatherElements,
};
