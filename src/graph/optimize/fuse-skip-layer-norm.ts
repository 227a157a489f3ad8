/**
 * A residual Add feeding a LayerNorm → `com.microsoft.SkipLayerNormalization`, with the bias of the
 * Linear on one side folded in:
 *
 *   LayerNormalization(Add(a·W + b, skip), γ, β)  →  SkipLayerNormalization(a·W, skip, γ, β, b)
 *
 * The sum itself (output 3) stays available to the next residual Add. Embedding sums with a constant
 * side (position tables, which broadcast over the batch) are left alone.
 */
import { attrInt, type GraphView, MS_DOMAIN } from "./graph-view.js";
import { biasedLinear, isOp } from "./match.js";

export function fuseSkipLayerNorm(g: GraphView): number {
  let fused = 0;
  for (const ln of g.nodesOf("LayerNormalization")) {
    const axis = attrInt(ln, "axis") ?? -1;
    const [sum, gamma, beta] = ln.input;
    const add = g.producer(sum);
    // SkipLayerNormalization works on [B, S, D]: the last axis, as -1 or 2.
    if ((axis !== -1 && axis !== 2) || !isOp(add, "Add") || !gamma || !beta) continue;
    const gammaT = g.initializer(gamma);
    const betaT = g.initializer(beta);
    if (!gammaT || !betaT || gammaT.dims.length !== 1 || betaT.dims.length !== 1) continue;
    if (add.input.some((v) => g.isConstantDerived(v))) continue;
    const eps = ln.attribute.find((a) => a.name === "epsilon")?.f ?? 1e-5;
    let input = add.input[0];
    let skip = add.input[1];
    let bias: string | undefined;
    for (const [p, q] of [
      [add.input[0], add.input[1]],
      [add.input[1], add.input[0]],
    ]) {
      const linear = biasedLinear(g, p);
      if (
        linear &&
        g.usedOnlyBy(p, [add]) &&
        linear.bias &&
        g.initializer(linear.bias)?.dims[0] === gammaT.dims[0]
      ) {
        g.remove([linear.add]);
        input = linear.matmul.output[0];
        skip = q;
        bias = linear.bias;
        break;
      }
    }
    const keepSum = !g.usedOnlyBy(sum, [ln]);
    g.remove([add, ln]);
    g.addNode(
      "SkipLayerNormalization",
      bias ? [input, skip, gamma, beta, bias] : [input, skip, gamma, beta],
      keepSum ? [ln.output[0], "", "", sum] : [ln.output[0]],
      { epsilon: eps },
      MS_DOMAIN,
    );
    fused++;
  }
  return fused;
}
