/**
 * LayerNorm written out in elementary ops, as `torch.onnx` exports `nn.LayerNorm` below opset 17:
 *
 *   μ = ReduceMean(x, -1);  d = Sub(x, μ);  v = ReduceMean(Pow(d, 2) | Mul(d, d), -1)
 *   y = Add(Mul(Div(d, Sqrt(Add(v, ε))), γ), β)
 *
 * → `LayerNormalization(x, γ, β, axis = -1, epsilon = ε)`. onnxruntime fuses this itself when a session
 * loads; the pass does it first so that the residual Add before it can become SkipLayerNormalization.
 */
import type { NodeProto } from "../proto/onnx_pb.js";
import type { GraphView } from "./graph-view.js";
import { isOp, otherInput, reducesLastAxis } from "./match.js";

export function fuseLayerNorm(g: GraphView): number {
  let fused = 0;
  for (const mean of g.nodesOf("ReduceMean")) {
    if (!reducesLastAxis(g, mean)) continue;
    const x = mean.input[0];
    const sub = g
      .consumers(mean.output[0])
      .find((n) => isOp(n, "Sub") && n.input[0] === x && n.input[1] === mean.output[0]);
    if (!sub || g.consumers(mean.output[0]).length !== 1) continue;
    const d = sub.output[0];
    const users = g.consumers(d);
    const square = users.find(
      (n) =>
        (isOp(n, "Pow") && n.input[0] === d && g.scalar(n.input[1]) === 2) ||
        (isOp(n, "Mul") && n.input[0] === d && n.input[1] === d),
    );
    const div = users.find((n) => isOp(n, "Div") && n.input[0] === d);
    if (!square || !div || users.length !== 2) continue;
    const varMean = g.onlyConsumer(square.output[0]);
    if (!isOp(varMean, "ReduceMean") || !reducesLastAxis(g, varMean)) continue;
    const addEps = g.onlyConsumer(varMean.output[0]);
    if (!isOp(addEps, "Add")) continue;
    const eps = g.scalar(otherInput(addEps, varMean.output[0]) ?? "");
    const sqrt = g.onlyConsumer(addEps.output[0]);
    if (eps === undefined || !isOp(sqrt, "Sqrt") || div.input[1] !== sqrt.output[0]) continue;
    if (!g.onlyConsumer(sqrt.output[0])) continue;
    const mul = g.onlyConsumer(div.output[0]);
    const gamma = mul && isOp(mul, "Mul") ? otherInput(mul, div.output[0]) : undefined;
    if (!mul || !gamma || !g.initializer(gamma)) continue;
    const add = g.onlyConsumer(mul.output[0]);
    const beta = add && isOp(add, "Add") ? otherInput(add, mul.output[0]) : undefined;
    if (!add || !beta || !g.initializer(beta)) continue;
    const nodes: NodeProto[] = [mean, sub, square, varMean, addEps, sqrt, div, mul, add];
    g.remove(nodes);
    g.addNode("LayerNormalization", [x, gamma, beta], [add.output[0]], { axis: { int: -1 }, epsilon: eps });
    fused++;
  }
  return fused;
}
