/**
 * GELU with the tanh approximation (SigLIP's `gelu_pytorch_tanh`) → `com.microsoft.FastGelu`, the bias
 * of the Linear before it folded in. Two forms are matched:
 *
 * - `torch.onnx` below opset 20 writes `F.gelu(x, approximate="tanh")` out as
 *   `0.5 · x · (1 + Tanh(√(2/π) · (x + 0.044715 · x³)))`, with x³ as `Mul(x, Mul(x, x))` or `Pow(x, 3)`
 *   and the three final factors multiplied in any order;
 * - opset 20's `Gelu(x, approximate="tanh")`.
 *
 * onnxruntime turns the second form (not the first) into FastGelu by itself.
 */
import type { NodeProto } from "../proto/onnx_pb.js";
import { attrString, type GraphView, MS_DOMAIN } from "./graph-view.js";
import { biasedLinear, isOp, near, otherInput } from "./match.js";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Nodes computing x³ from x, or undefined. */
function cube(g: GraphView, value: string, x: string): NodeProto[] | undefined {
  const n = g.producer(value);
  if (isOp(n, "Pow") && n.input[0] === x && near(g.scalar(n.input[1]), 3, 1e-6)) return [n];
  if (!isOp(n, "Mul")) return undefined;
  const other = otherInput(n, x);
  const sq = other === undefined ? undefined : g.producer(other);
  if (isOp(sq, "Mul") && sq.input[0] === x && sq.input[1] === x && g.onlyConsumer(sq.output[0]))
    return [n, sq];
  return undefined;
}

/** Leaves of a product tree rooted at `value` (Muls whose result has one reader, `stop` kept whole). */
function factors(g: GraphView, value: string, stop: string, nodes: NodeProto[]): string[] {
  const n = g.producer(value);
  if (value === stop || !isOp(n, "Mul")) return [value];
  nodes.push(n);
  const expand = (v: string) => (g.onlyConsumer(v) ? factors(g, v, stop, nodes) : [v]);
  return [...expand(n.input[0]), ...expand(n.input[1])];
}

/** Matches the decomposed form around one Tanh: its input x and the nodes from x³ to the last Mul. */
function decomposedGelu(
  g: GraphView,
  tanh: NodeProto,
): { x: string; nodes: NodeProto[]; out: string } | undefined {
  const inner = g.producer(tanh.input[0]);
  if (!isOp(inner, "Mul") || !g.onlyConsumer(inner.output[0])) return undefined;
  const [a, b] = inner.input;
  const sum = near(g.scalar(a), SQRT_2_OVER_PI) ? b : near(g.scalar(b), SQRT_2_OVER_PI) ? a : undefined;
  const add = sum === undefined ? undefined : g.producer(sum);
  if (!isOp(add, "Add") || !g.onlyConsumer(add.output[0])) return undefined;
  for (const [x, k] of [
    [add.input[0], add.input[1]],
    [add.input[1], add.input[0]],
  ]) {
    const kMul = g.producer(k);
    if (!isOp(kMul, "Mul") || !g.onlyConsumer(k)) continue;
    const [c, d] = kMul.input;
    const cubed = near(g.scalar(c), 0.044715) ? d : near(g.scalar(d), 0.044715) ? c : undefined;
    const cubeNodes = cubed === undefined || !g.onlyConsumer(cubed) ? undefined : cube(g, cubed, x);
    if (!cubeNodes) continue;
    const onePlus = g.onlyConsumer(tanh.output[0]);
    if (!isOp(onePlus, "Add") || !near(g.scalar(otherInput(onePlus, tanh.output[0]) ?? ""), 1, 1e-6))
      continue;
    // The last Mul is one or two steps after 1 + tanh(…); its factors must be {x, 0.5, 1 + tanh(…)}.
    let last = g.onlyConsumer(onePlus.output[0]);
    for (let step = 0; step < 2 && isOp(last, "Mul"); step++) {
      const products: NodeProto[] = [];
      const leaves = factors(g, last.output[0], x, products);
      const rest = leaves.filter((v) => v !== x && v !== onePlus.output[0]);
      if (
        leaves.length === 3 &&
        leaves.includes(x) &&
        rest.length === 1 &&
        near(g.scalar(rest[0]), 0.5, 1e-6)
      ) {
        const nodes = [inner, add, kMul, ...cubeNodes, tanh, onePlus, ...products];
        return { x, nodes, out: last.output[0] };
      }
      last = g.onlyConsumer(last.output[0]);
    }
  }
  return undefined;
}

/** Replaces GELU(x) by FastGelu(x·W, b) when x is a biased Linear read by the GELU alone, else FastGelu(x). */
function emitFastGelu(g: GraphView, x: string, nodes: NodeProto[], out: string): void {
  const linear = biasedLinear(g, x);
  g.remove(nodes);
  if (linear && g.usedOnlyBy(x, nodes)) {
    g.remove([linear.add]);
    g.addNode("FastGelu", [linear.matmul.output[0], linear.bias], [out], {}, MS_DOMAIN);
  } else {
    g.addNode("FastGelu", [x], [out], {}, MS_DOMAIN);
  }
}

export function fuseGelu(g: GraphView): number {
  let fused = 0;
  for (const tanh of g.nodesOf("Tanh")) {
    const m = decomposedGelu(g, tanh);
    if (!m) continue;
    emitFastGelu(g, m.x, m.nodes, m.out);
    fused++;
  }
  for (const gelu of g.nodesOf("Gelu")) {
    if (attrString(gelu, "approximate") !== "tanh") continue;
    emitFastGelu(g, gelu.input[0], [gelu], gelu.output[0]);
    fused++;
  }
  return fused;
}
