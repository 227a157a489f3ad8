/** `linear`: y = x·Wᵀ + b per patch (PaliGemma's projector). Parameters `linear.weight` [Dl, Dv], `linear.bias` [Dl]. */
import { InvalidArgumentError } from "../../errors.js";
import type { Graph, Value } from "../../graph/index.js";
import { type Tensor, tensor } from "../../tensor.js";
import { SeededRandom } from "../../util/random.js";
import { BIAS_NAME, LinearAdapter, WEIGHT_NAME } from "../linear-adapter.js";
import type { KindInitOptions, KindSpec } from "./types.js";

/** x · wᵀ: [M, in] and a PyTorch-layout weight [out, in] → [M, out]. */
export function projectRows(g: Graph, x: Value, weight: Value): Value {
  return g.matmul(x, g.transpose(weight, [1, 0]));
}

/** The graph value of parameter `name`; the caller built the map from the kind's `params`. */
export function param(params: ReadonlyMap<string, Value>, name: string): Value {
  const v = params.get(name);
  if (!v) throw new InvalidArgumentError(`adapter graph: parameter "${name}" was not provided`);
  return v;
}

/** W ~ N(0, σ²) with σ = targetRms / (inputRms · √fanIn): [out, in] weights whose outputs start at RMS ≈ targetRms. */
export function fanInWeight(
  random: SeededRandom,
  out: number,
  fanIn: number,
  targetRms: number,
  inputRms: number,
): Tensor {
  return tensor(random.normalArray(out * fanIn, targetRms / (inputRms * Math.sqrt(fanIn))), [out, fanIn]);
}

export { SeededRandom };

export const linearKind: KindSpec = {
  name: "linear",
  merges: false,
  tokenWidth: (dv) => dv,
  params: (dv, dl) => [
    { name: WEIGHT_NAME, dims: [dl, dv], decay: true },
    { name: BIAS_NAME, dims: [dl], decay: false },
  ],
  head: (g, x, p) => g.add(projectRows(g, x, param(p, WEIGHT_NAME)), param(p, BIAS_NAME)), // [M, Dv] → [M, Dl]
  init: (o: KindInitOptions) => LinearAdapter.init(o).toTensors(),
};
