/**
 * Rules for ops that move elements without arithmetic: the gradient moves back the same way
 * (inverse permutation, reshape to the input's shape, split a concat, pad a slice).
 */
import { InvalidArgumentError } from "../../errors.js";
import { attr, type Node, type Value } from "../types.js";
import type { VjpContext, VjpRule } from "./context.js";
import { range, when } from "./context.js";

/** Reshapes `dy` to `x`'s shape: a constant target when static, else Shape(x) at run time. */
export function reshapeLike(ctx: VjpContext, dy: Value, x: Value): Value {
  const s = x.shape;
  if (s.every((d) => typeof d === "number")) return ctx.g.reshape(dy, s as number[]);
  return ctx.g.reshapeTo(dy, ctx.g.shapeOf(x), s);
}

const transpose: VjpRule = (ctx, node, [dy], wants) => {
  const p = node.attrs.perm;
  const rank = node.inputs[0]!.shape.length;
  const perm = p?.type === "ints" ? p.value : range(rank).reverse();
  const inverse = new Array<number>(rank);
  perm.forEach((axis, i) => {
    inverse[axis] = i;
  });
  return [when(wants[0], () => ctx.g.transpose(dy!, inverse))];
};

/** Reshape, Flatten: the input's shape back. */
const reshape: VjpRule = (ctx, node, [dy], wants) => [
  when(wants[0], () => reshapeLike(ctx, dy!, node.inputs[0]!)),
  ...node.inputs.slice(1).map(() => null),
];

/** Unsqueeze ↔ Squeeze on the same constant axes; a reshape when the axes are computed. */
function inverseAxes(op: "squeeze" | "unsqueeze"): VjpRule {
  return (ctx, node, [dy], wants) => {
    const x = node.inputs[0]!;
    const axes = ctx.constValues(node.inputs[1]);
    const back = () => {
      if (!axes || x.shape.every((d) => typeof d === "number")) return reshapeLike(ctx, dy!, x);
      return op === "squeeze" ? ctx.g.squeeze(dy!, axes) : ctx.g.unsqueeze(dy!, axes);
    };
    return [when(wants[0], back), null];
  };
}

/** Concat: one Split of the gradient into the operands' sizes along the axis. */
const concat: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const xs = node.inputs as Value[];
  const a = node.attrs.axis.value as number;
  const axis = a < 0 ? a + dy!.shape.length : a;
  const sizes = xs.map((x) => x.shape[axis]);
  const split = sizes.every((d) => typeof d === "number")
    ? g.ints(sizes as number[])
    : g.concat(
        xs.map((x) => g.gather(g.shapeOf(x), g.ints([axis]))),
        0,
      );
  const parts = g.node(
    "Split",
    [dy!, split],
    xs.map((x) => ({ dtype: dy!.dtype, shape: x.shape })),
    { axis: attr.int(axis) },
  );
  return parts.map((p, i) => (wants[i] ? p : null));
};

/** `end` at or past this is read as "to the end of the axis" on a symbolic dim. */
const TO_END = 2 ** 31 - 1;

/** A pad amount: `dim · k + offset`, where `dim` is the axis size at run time. */
interface Affine {
  k: 0 | 1;
  offset: number;
}

/**
 * Slice with constant starts/ends/axes/steps. Unit steps: Pad the gradient with zeros back to the
 * input's size. Other steps (static shapes only): ScatterElements into zeros at the sliced positions.
 */
const slice: VjpRule = (ctx, node, [dy], wants) => {
  if (!wants[0]) return node.inputs.map(() => null);
  const g = ctx.g;
  const x = node.inputs[0]!;
  const rank = x.shape.length;
  const starts = ctx.requireConst(node, 1, "starts");
  const ends = ctx.requireConst(node, 2, "ends");
  const axes = node.inputs[3] ? ctx.requireConst(node, 3, "axes") : range(starts.length);
  const steps = node.inputs[4] ? ctx.requireConst(node, 4, "steps") : starts.map(() => 1);
  const begin: Affine[] = range(rank).map(() => ({ k: 0, offset: 0 }));
  const end: Affine[] = range(rank).map(() => ({ k: 0, offset: 0 }));
  const strided: { axis: number; start: number; step: number }[] = [];
  axes.forEach((ax, i) => {
    const axis = ax < 0 ? ax + rank : ax;
    const dim = x.shape[axis];
    if (typeof dim === "number") {
      const norm = (v: number) => (v < 0 ? v + dim : v);
      if (steps[i] === 1) {
        const s = Math.min(Math.max(norm(starts[i]), 0), dim);
        const e = Math.max(Math.min(Math.max(norm(ends[i]), 0), dim), s);
        begin[axis] = { k: 0, offset: s };
        end[axis] = { k: 0, offset: dim - e };
      } else {
        const s =
          steps[i] > 0
            ? Math.min(Math.max(norm(starts[i]), 0), dim)
            : Math.min(Math.max(norm(starts[i]), 0), dim - 1);
        strided.push({ axis, start: s, step: steps[i] });
      }
      return;
    }
    if (steps[i] !== 1) {
      throw new InvalidArgumentError(
        `gradients: Slice node "${node.name}" steps by ${steps[i]} along symbolic axis ${axis} ("${dim}"); only unit steps are supported there`,
      );
    }
    // Symbolic size: bounds are assumed in range at run time (no clamping).
    begin[axis] = starts[i] >= 0 ? { k: 0, offset: starts[i] } : { k: 1, offset: starts[i] };
    if (ends[i] >= TO_END) end[axis] = { k: 0, offset: 0 };
    else end[axis] = ends[i] >= 0 ? { k: 1, offset: -ends[i] } : { k: 0, offset: -ends[i] };
  });

  let grad = dy!;
  for (const { axis, start, step } of strided.reverse())
    grad = scatterStrided(ctx, node, grad, axis, start, step, x);
  const pads = [...begin, ...end];
  if (pads.some((p) => p.k !== 0 || p.offset !== 0)) {
    let padValue: Value;
    if (pads.every((p) => p.k === 0)) padValue = g.ints(pads.map((p) => p.offset));
    else {
      const dims = g.shapeOf(x);
      const parts = pads.map((p, i) =>
        p.k === 0 ? g.ints([p.offset]) : g.add(g.gather(dims, g.ints([i % rank])), g.ints([p.offset])),
      );
      padValue = g.concat(parts, 0);
    }
    grad = g.node("Pad", [grad, padValue], [{ dtype: grad.dtype, shape: x.shape }], {
      mode: attr.string("constant"),
    })[0];
  }
  return [grad, ...node.inputs.slice(1).map(() => null)];
};

/** Puts `grad`'s entries along `axis` at positions start, start+step, … of a zero tensor. */
function scatterStrided(
  ctx: VjpContext,
  node: Node,
  grad: Value,
  axis: number,
  start: number,
  step: number,
  x: Value,
): Value {
  const g = ctx.g;
  if (!grad.shape.every((d) => typeof d === "number")) {
    throw new InvalidArgumentError(
      `gradients: Slice node "${node.name}" with step ${step} needs static shapes, got "${grad.name}" [${grad.shape.join(", ")}]`,
    );
  }
  const count = grad.shape[axis] as number;
  const positions = range(count).map((k) => start + k * step);
  const along = grad.shape.map((_, i) => (i === axis ? count : 1));
  const indices = g.expand(g.constant("int64", positions, along), grad.shape as number[]);
  const target = grad.shape.map((d, i) => (i === axis ? x.shape[axis] : d)) as number[];
  const zeros = g.expand(g.scalar(0, grad.dtype), target);
  return g.node("ScatterElements", [zeros, indices, grad], [{ dtype: grad.dtype, shape: target }], {
    axis: attr.int(axis),
  })[0];
}

/** Split: concatenate the parts' gradients, with zeros for parts that do not reach the loss. */
const split: VjpRule = (ctx, node, dys, wants) => {
  const x = node.inputs[0]!;
  const a = (node.attrs.axis?.value as number | undefined) ?? 0;
  const grad = () =>
    ctx.g.concat(
      node.outputs.map((o, i) => dys[i] ?? ctx.zerosLike(o)),
      a < 0 ? a + x.shape.length : a,
    );
  return [when(wants[0], grad), ...node.inputs.slice(1).map(() => null)];
};

/**
 * Tile with constant repeats: dy [r₀·n₀, r₁·n₁, …] → [r₀, n₀, r₁, n₁, …] → sum over the r axes.
 * Needs the input's shape at build time.
 */
const tile: VjpRule = (ctx, node, [dy], wants) => {
  if (!wants[0]) return [null, null];
  const x = node.inputs[0]!;
  const repeats = ctx.requireConst(node, 1, "repeats");
  if (!x.shape.every((d) => typeof d === "number")) {
    throw new InvalidArgumentError(
      `gradients: Tile node "${node.name}" needs a static input shape, got "${x.name}" [${x.shape.join(", ")}]`,
    );
  }
  const dims = x.shape as number[];
  const tiled = dims.flatMap((n, i) => [repeats[i], n]);
  if (repeats.every((r) => r === 1)) return [dy!, null];
  const rAxes = range(dims.length).map((i) => 2 * i);
  return [ctx.g.reduceSum(ctx.g.reshape(dy!, tiled), rAxes, false), null];
};

const expand: VjpRule = (ctx, node, [dy], wants) => [
  when(wants[0], () => ctx.unbroadcast(dy!, node.inputs[0]!)),
  null,
];

export const layoutRules: Record<string, VjpRule> = {
  Transpose: transpose,
  Reshape: reshape,
  Flatten: reshape,
  Squeeze: inverseAxes("unsqueeze"),
  Unsqueeze: inverseAxes("squeeze"),
  Concat: concat,
  Slice: slice,
  Expand: expand,
  Split: split,
  Tile: tile,
};
