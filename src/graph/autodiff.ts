/**
 * Reverse-mode differentiation that emits ONNX nodes into the same graph, so one session computes
 * the forward pass and the gradients. Only nodes on a path from a `wrt` value to the loss get
 * backward nodes: frozen weights fed as inputs, and branches that do not reach the loss, emit nothing.
 */
import { InvalidArgumentError } from "../errors.js";
import type { Graph } from "./graph.js";
import { isStatic } from "./shape.js";
import type { Node, Value } from "./types.js";
import { VjpContext, type VjpRule } from "./vjp/context.js";
import { elementwiseRules } from "./vjp/elementwise.js";
import { gatherRules } from "./vjp/gather.js";
import { layoutRules } from "./vjp/layout.js";
import { matmul } from "./vjp/linear.js";
import { normalizeRules } from "./vjp/normalize.js";
import { reduceRules } from "./vjp/reduce.js";

const RULES: Record<string, VjpRule> = {
  ...elementwiseRules,
  ...layoutRules,
  ...gatherRules,
  ...reduceRules,
  ...normalizeRules,
  MatMul: matmul,
};

/** Ops that have a gradient rule (default domain). */
export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(RULES).sort();

const FLOAT = new Set(["float32", "float16", "float64"]);

export interface GradientOptions {
  /**
   * Gradient of the loss to start from, with the loss's dtype and shape. Default: ones (a scalar 1
   * for a scalar loss), i.e. the gradient of the sum of the loss's elements.
   */
  seed?: Value;
  /**
   * MatMul gradients as onnxruntime's `com.microsoft` FusedMatMul with transA/transB (float32 and
   * float64), so no transposed copy of an operand is made. Default true; false emits Transpose +
   * MatMul in the default domain for runtimes without onnxruntime's contrib ops.
   */
  fusedMatMul?: boolean;
}

/**
 * Appends to `g` the nodes that compute d(loss)/d(w) for each `w` in `wrt` and returns them by `w`.
 * `wrt` may be inputs, initializers or intermediate values; a `w` that does not reach the loss gets
 * zeros. Throws `InvalidArgumentError` for an op on a gradient path that has no rule, naming the op
 * and the node, and for non-float losses or `wrt` values.
 */
export function gradients(
  g: Graph,
  loss: Value,
  wrt: readonly Value[],
  options: GradientOptions = {},
): Map<Value, Value> {
  if (g.parent)
    throw new InvalidArgumentError(`gradients: graph "${g.name}" is a subgraph; use the main graph`);
  for (const v of [loss, ...wrt]) {
    if (!FLOAT.has(v.dtype)) {
      throw new InvalidArgumentError(
        `gradients: "${v.name}" is "${v.dtype}"; only float values have gradients`,
      );
    }
    if (v.graph !== g) {
      throw new InvalidArgumentError(
        `gradients: "${v.name}" belongs to graph "${v.graph.name}", not "${g.name}"`,
      );
    }
  }
  const forward = [...g.nodes];
  const active = activeNodes(forward, loss, wrt);
  const ctx = new VjpContext(g, { fusedMatMul: options.fusedMatMul ?? true });

  // Gradient contributions per value, summed when the value is first needed (all its consumers
  // come later in topological order, so by then every contribution is in).
  const parts = new Map<Value, Value[]>();
  const push = (v: Value, d: Value) => {
    const list = parts.get(v);
    if (list) list.push(d);
    else parts.set(v, [d]);
  };
  const total = (v: Value): Value | null => {
    const list = parts.get(v);
    if (!list) return null;
    const sum = ctx.sum(list);
    parts.set(v, [sum]);
    return sum;
  };

  push(loss, options.seed ? checkSeed(options.seed, loss) : seedOnes(ctx, loss));
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    if (!active.nodes.has(node)) continue;
    const rule = node.domain === "" ? RULES[node.op] : undefined;
    if (!rule) {
      throw new InvalidArgumentError(
        `gradients: op "${node.domain ? `${node.domain}.` : ""}${node.op}" (node "${node.name}") is on a gradient path and has no gradient rule; supported: ${DIFFERENTIABLE_OPS.join(", ")}`,
      );
    }
    const dys = node.outputs.map((o) => total(o));
    const wants = node.inputs.map((v) => !!v && active.needs.has(v));
    const grads = rule(ctx, node, dys, wants);
    grads.forEach((d, k) => {
      const v = node.inputs[k];
      if (!d || !v || !wants[k]) return;
      const dimsDiffer = d.shape.some(
        (e, j) => typeof e === "number" && typeof v.shape[j] === "number" && e !== v.shape[j],
      );
      if (d.dtype !== v.dtype || d.shape.length !== v.shape.length || dimsDiffer) {
        throw new InvalidArgumentError(
          `gradients: rule for ${node.op} (node "${node.name}") gave "${d.dtype}" [${d.shape.join(", ")}] for input "${v.name}" "${v.dtype}" [${v.shape.join(", ")}]`,
        );
      }
      push(v, d);
    });
  }

  const out = new Map<Value, Value>();
  for (const w of wrt) out.set(w, total(w) ?? ctx.zerosLike(w));
  return out;
}

/**
 * `needs`: float values that depend on a `wrt` value; `nodes`: nodes with an input in `needs` and
 * an output that reaches the loss. Only these get backward nodes.
 */
function activeNodes(
  nodes: readonly Node[],
  loss: Value,
  wrt: readonly Value[],
): { needs: Set<Value>; nodes: Set<Node> } {
  // A Loop body may read main-graph values without listing them as inputs; count those as inputs,
  // so that such a node on a gradient path is refused instead of silently passing no gradient.
  const inputsOf = (n: Node): Value[] => {
    const direct = n.inputs.filter((v): v is Value => v !== null);
    const bodies = Object.values(n.attrs).filter((a) => a.type === "graph");
    return bodies.length === 0
      ? direct
      : [...direct, ...bodies.flatMap((a) => outerValues(a.value as Graph))];
  };
  const needs = new Set<Value>(wrt);
  for (const n of nodes) {
    if (!inputsOf(n).some((v) => needs.has(v))) continue;
    for (const o of n.outputs) if (FLOAT.has(o.dtype)) needs.add(o);
  }
  const reaches = new Set<Value>([loss]);
  const active = new Set<Node>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((o) => reaches.has(o))) continue;
    for (const v of inputsOf(n)) reaches.add(v);
    if (n.outputs.some((o) => reaches.has(o) && needs.has(o))) active.add(n);
  }
  // A value's gradient only matters where it both depends on `wrt` and reaches the loss.
  for (const v of needs) if (!reaches.has(v)) needs.delete(v);
  return { needs, nodes: active };
}

/** Values of enclosing graphs that the nodes of `body` (and of its own subgraphs) read. */
function outerValues(body: Graph, out: Value[] = []): Value[] {
  const inside = (v: Value) => {
    for (let h: Graph | null = v.graph; h; h = h.parent) if (h === body) return true;
    return false;
  };
  for (const n of body.nodes) {
    for (const v of n.inputs) if (v && !inside(v)) out.push(v);
    for (const a of Object.values(n.attrs)) {
      if (a.type === "graph") for (const v of outerValues(a.value, [])) if (!inside(v)) out.push(v);
    }
  }
  return out;
}

function seedOnes(ctx: VjpContext, loss: Value): Value {
  const one = ctx.g.scalar(1, loss.dtype);
  if (loss.shape.length === 0) return one;
  return isStatic(loss.shape) ? ctx.g.expand(one, loss.shape) : ctx.expandLike(one, loss);
}

function checkSeed(seed: Value, loss: Value): Value {
  const same = seed.shape.length === loss.shape.length && seed.shape.every((d, i) => d === loss.shape[i]);
  if (seed.dtype !== loss.dtype || !same) {
    throw new InvalidArgumentError(
      `gradients: seed "${seed.name}" is "${seed.dtype}" [${seed.shape.join(", ")}]; expected the loss's "${loss.dtype}" [${loss.shape.join(", ")}]`,
    );
  }
  return seed;
}
