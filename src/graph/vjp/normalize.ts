/**
 * Softmax, LogSoftmax and LayerNormalization, each in terms of its forward output where possible.
 */
import { InvalidArgumentError } from "../../errors.js";
import type { Value } from "../types.js";
import { range, type VjpRule, when } from "./context.js";

function axisOf(node: Parameters<VjpRule>[1]): number {
  const a = (node.attrs.axis?.value as number | undefined) ?? -1;
  return a < 0 ? a + node.inputs[0]!.shape.length : a;
}

// y = softmax(x): dx = y ⊙ (dy − Σ dy ⊙ y)
const softmax: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const y = node.outputs[0];
  const grad = () => g.mul(y, g.sub(dy!, g.reduceSum(g.mul(dy!, y), [axisOf(node)], true)));
  return [when(wants[0], grad)];
};

// y = log softmax(x): dx = dy − exp(y) ⊙ Σ dy
const logSoftmax: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const grad = () => g.sub(dy!, g.mul(g.exp(node.outputs[0]), g.reduceSum(dy!, [axisOf(node)], true)));
  return [when(wants[0], grad)];
};

/**
 * LayerNormalization over axes [axis, rank). The statistics are recomputed (the builder's node has
 * only the Y output): x̂ = (x − μ)·r, r = 1/√(σ² + ε);
 * dx = r ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) with g = dy ⊙ scale; dscale = Σ dy ⊙ x̂; dbias = Σ dy.
 */
const layerNorm: VjpRule = (ctx, node, dys, wants) => {
  const g = ctx.g;
  if (dys.slice(1).some((d) => d)) {
    throw new InvalidArgumentError(
      `gradients: LayerNormalization node "${node.name}": only the Y output may carry a gradient, not Mean or InvStdDev`,
    );
  }
  const dy = dys[0]!;
  const [x, scale] = node.inputs as Value[];
  const rank = x.shape.length;
  const axis = axisOf(node);
  const normAxes = range(rank - axis, axis);
  const lead = range(axis);
  // The attribute is a float32; match the value the kernel adds.
  const eps = Math.fround((node.attrs.epsilon?.value as number | undefined) ?? 1e-5);
  const mean = g.reduceMean(x, normAxes, true);
  const xc = g.sub(x, mean);
  const r = g.reciprocal(g.sqrt(g.add(g.reduceMean(g.mul(xc, xc), normAxes, true), eps)));
  const xhat = g.mul(xc, r);
  const sumLead = (v: Value) => (lead.length > 0 ? g.reduceSum(v, lead, false) : v);
  const dx = () => {
    const gx = g.mul(dy, scale);
    const inner = g.sub(
      g.sub(gx, g.reduceMean(gx, normAxes, true)),
      g.mul(xhat, g.reduceMean(g.mul(gx, xhat), normAxes, true)),
    );
    return g.mul(r, inner);
  };
  return [
    when(wants[0], dx),
    when(wants[1], () => sumLead(g.mul(dy, xhat))),
    when(!!wants[2], () => sumLead(dy)),
  ];
};

export const normalizeRules: Record<string, VjpRule> = {
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  LayerNormalization: layerNorm,
};
