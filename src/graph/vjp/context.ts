/**
 * What vector-Jacobian rules share: the graph they emit into, constant lookup, and the few helpers
 * every family needs (sum a broadcast gradient back to an operand's shape, expand, zeros).
 */
import { InvalidArgumentError, ShapeError } from "../../errors.js";
import type { Graph } from "../graph.js";
import { isStatic } from "../shape.js";
import { formatShape, type InitializerData, type Node, type Shape, type Value } from "../types.js";

/**
 * One rule per op: given the node, the gradients of its outputs (`null` where an output does not
 * reach the loss) and which inputs need a gradient, returns one gradient per input (`null` for none).
 * A returned gradient has exactly its input's dtype and shape.
 */
export type VjpRule = (
  ctx: VjpContext,
  node: Node,
  dys: readonly (Value | null)[],
  wants: readonly boolean[],
) => (Value | null)[];

export class VjpContext {
  readonly g: Graph;
  /** Emit com.microsoft FusedMatMul (transA/transB) instead of Transpose + MatMul where it applies. */
  readonly fusedMatMul: boolean;
  private readonly consts = new Map<Value, InitializerData>();

  constructor(g: Graph, options: { fusedMatMul: boolean }) {
    this.g = g;
    this.fusedMatMul = options.fusedMatMul;
    for (const init of g.root.initializers) this.consts.set(init.value, init);
  }

  /** The values of a constant (initializer) input, or `null` when it is computed or fed at run time. */
  constValues(v: Value | null | undefined): number[] | null {
    const init = v ? this.consts.get(v) : undefined;
    if (!init) return null;
    return Array.from(init.data as ArrayLike<number | bigint>, (x) => Number(x));
  }

  /** Like `constValues`, but a computed value is an error naming the node and what was expected. */
  requireConst(node: Node, index: number, what: string): number[] {
    const values = this.constValues(node.inputs[index]);
    if (!values) {
      throw new InvalidArgumentError(
        `gradients: ${node.op} node "${node.name}" has a computed ${what} ("${node.inputs[index]?.name}"); its gradient needs a constant`,
      );
    }
    return values;
  }

  /** int64 [rank] holding `v`'s shape: a constant when all dims are sizes, else Shape(v). */
  shapeOf(v: Value): Value {
    return isStatic(v.shape) ? this.g.ints(v.shape) : this.g.shapeOf(v);
  }

  /** Broadcasts `x` to `like`'s shape (no node when the shapes already agree). */
  expandLike(x: Value, like: Value): Value {
    if (sameShape(x.shape, like.shape)) return x;
    if (isStatic(like.shape)) return this.g.expand(x, like.shape);
    return this.g.expand(x, this.g.shapeOf(like), like.shape);
  }

  /** Zeros of `like`'s dtype and shape (a broadcast scalar; nothing is stored). */
  zerosLike(like: Value): Value {
    return this.expandLike(this.g.scalar(0, like.dtype), like);
  }

  /**
   * Sums `grad`, shaped like a broadcast result, back to `target`'s shape: the extra leading axes and
   * every axis where `target` has size 1 and `grad` does not. The builder only lets a symbolic dim meet
   * itself or 1, so these axes are known at build time even with symbolic dims.
   */
  unbroadcast(grad: Value, target: Pick<Value, "name" | "shape">): Value {
    const gs = grad.shape;
    const ts = target.shape;
    if (sameShape(gs, ts)) return grad;
    const lead = gs.length - ts.length;
    if (lead < 0) {
      throw new ShapeError(
        `gradients: gradient ${formatShape(gs)} has lower rank than operand "${target.name}" ${formatShape(ts)}`,
      );
    }
    const axes: number[] = [];
    for (let i = 0; i < gs.length; i++) {
      if (i < lead) {
        axes.push(i);
        continue;
      }
      const t = ts[i - lead];
      if (t === gs[i]) continue;
      if (t === 1) axes.push(i);
      else {
        throw new ShapeError(
          `gradients: cannot sum gradient ${formatShape(gs)} to operand "${target.name}" ${formatShape(ts)} (dim ${i}: ${gs[i]} vs ${t})`,
        );
      }
    }
    // keepdims=1 then drop the leading axes, so that size-1 axes of the operand stay in place.
    let out = axes.length > 0 ? this.g.reduceSum(grad, axes, true) : grad;
    if (lead > 0) out = this.g.squeeze(out, range(lead));
    return out;
  }

  /** Sums gradient contributions of one value. */
  sum(parts: readonly Value[]): Value {
    if (parts.length === 1) return parts[0];
    if (parts.length === 2) return this.g.add(parts[0], parts[1]);
    return this.g.node("Sum", [...parts], [{ dtype: parts[0].dtype, shape: parts[0].shape }])[0];
  }
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/** The input's gradient when wanted, else `null`; keeps rules to one line per input. */
export function when(want: boolean, make: () => Value): Value | null {
  return want ? make() : null;
}
