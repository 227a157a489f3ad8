/**
 * Gradient checks against central finite differences. The graph's output y is reduced to the scalar
 * loss Σ y ⊙ r with random r, so every output element's gradient is exercised with a distinct weight.
 * Finite differences divide by the perturbation as actually stored (float32 rounds x ± ε).
 */

import * as ort from "onnxruntime-node";
import {
  type Dim,
  type DType,
  type GradientOptions,
  Graph,
  gradients,
  serializeModel,
  type Value,
} from "../../src/graph/index.js";
import { SeededRandom } from "../../src/util/random.js";

export interface InputSpec {
  name: string;
  dims: Dim[];
  /** Concrete dims fed at run time; default `dims` (all numeric). */
  run?: number[];
  /** Default: the check's dtype. */
  dtype?: DType;
  /** Value of element i; default seeded uniform in [-1, 1). */
  gen?: (i: number, rnd: () => number) => number;
  /** Differentiate with respect to this input. Default true for float inputs. */
  wrt?: boolean;
}

export interface CheckOptions {
  /** Default "float64". */
  dtype?: "float64" | "float32";
  /** Central-difference step. Default 1e-5 (float64) or 2⁻⁸ (float32). */
  eps?: number;
  /** Seed of the input and weight generator. Default 1. */
  seed?: number;
  /** Passed to `gradients`. Default none. */
  gradients?: GradientOptions;
}

export interface CheckResult {
  /** ‖analytic − numeric‖ / ‖numeric‖ per wrt input. */
  relErr: Record<string, number>;
  /** ‖numeric‖ per wrt input, to show the check is not comparing zeros. */
  norm: Record<string, number>;
  /** Node count before and after `gradients`. */
  forwardNodes: number;
  totalNodes: number;
}

const typed = (dtype: DType, values: number[]) =>
  dtype === "float64"
    ? Float64Array.from(values)
    : dtype === "float32"
      ? Float32Array.from(values)
      : dtype === "int64"
        ? BigInt64Array.from(values.map((v) => BigInt(v)))
        : Int32Array.from(values);

const isFloat = (d: DType) => d === "float32" || d === "float64";

function allAxesSum(g: Graph, v: Value): Value {
  return v.shape.length === 0
    ? v
    : g.reduceSum(
        v,
        v.shape.map((_, i) => i),
        false,
      );
}

export async function gradCheck(
  build: (g: Graph, xs: Value[]) => Value,
  inputs: InputSpec[],
  options: CheckOptions = {},
): Promise<CheckResult> {
  const dtype = options.dtype ?? "float64";
  const eps = options.eps ?? (dtype === "float64" ? 1e-5 : 2 ** -8);
  const rng = new SeededRandom(options.seed ?? 1);
  const rnd = () => rng.next();
  const dtypeOf = (s: InputSpec) => s.dtype ?? dtype;
  const runDims = (s: InputSpec) => s.run ?? (s.dims as number[]);
  const data = inputs.map((s) => {
    const n = runDims(s).reduce((a, b) => a * b, 1);
    const gen = s.gen ?? ((_i: number, r: () => number) => 2 * r() - 1);
    return typed(
      dtypeOf(s),
      Array.from({ length: n }, (_, i) => gen(i, rnd)),
    );
  });
  const feeds = (override?: { k: number; data: ArrayLike<number> | BigInt64Array }) =>
    Object.fromEntries(
      inputs.map((s, k) => [
        s.name,
        new ort.Tensor(
          dtypeOf(s) as "float32",
          (override?.k === k ? override.data : data[k]) as Float32Array,
          runDims(s),
        ),
      ]),
    );

  // The output's concrete shape, to draw the weights r.
  const probe = new Graph();
  probe.output(
    build(
      probe,
      inputs.map((s) => probe.input(s.name, dtypeOf(s), s.dims)),
    ),
    "probe_out",
  );
  const yDims = (
    await (await ort.InferenceSession.create(serializeModel(probe))).run(feeds())
  ).probe_out.dims.slice() as number[];
  const rData = Array.from({ length: yDims.reduce((a, b) => a * b, 1) }, () => 2 * rnd() - 1);

  const g = new Graph();
  const xs = inputs.map((s) => g.input(s.name, dtypeOf(s), s.dims));
  const y = build(g, xs);
  const r = g.input("r_weights", y.dtype, y.shape);
  const loss = allAxesSum(g, g.mul(y, r));
  const wrtIdx = inputs.map((_, k) => k).filter((k) => inputs[k].wrt ?? isFloat(dtypeOf(inputs[k])));
  const forwardNodes = g.nodes.length;
  const grads = gradients(
    g,
    loss,
    wrtIdx.map((k) => xs[k]),
    options.gradients,
  );
  const totalNodes = g.nodes.length;
  g.output(loss, "loss");
  for (const k of wrtIdx) g.output(grads.get(xs[k])!, `grad_${inputs[k].name}`);
  const session = await ort.InferenceSession.create(serializeModel(g));
  const rTensor = new ort.Tensor(y.dtype as "float32", typed(y.dtype, rData) as Float32Array, yDims);
  const run = async (override?: { k: number; data: Float32Array | Float64Array }, fetch?: string[]) =>
    fetch
      ? session.run({ ...feeds(override), r_weights: rTensor }, fetch)
      : session.run({ ...feeds(override), r_weights: rTensor });
  const analytic = await run();

  const relErr: Record<string, number> = {};
  const norm: Record<string, number> = {};
  for (const k of wrtIdx) {
    const base = data[k] as Float32Array | Float64Array;
    const got = analytic[`grad_${inputs[k].name}`].data as Float64Array;
    let diff = 0;
    let ref = 0;
    for (let i = 0; i < base.length; i++) {
      const plus = base.slice();
      const minus = base.slice();
      plus[i] += eps;
      minus[i] -= eps;
      const lp = Number((await run({ k, data: plus }, ["loss"])).loss.data[0]);
      const lm = Number((await run({ k, data: minus }, ["loss"])).loss.data[0]);
      const numeric = (lp - lm) / (plus[i] - minus[i]);
      diff += (got[i] - numeric) ** 2;
      ref += numeric ** 2;
    }
    relErr[inputs[k].name] = Math.sqrt(diff) / Math.max(Math.sqrt(ref), 1e-300);
    norm[inputs[k].name] = Math.sqrt(ref);
  }
  return { relErr, norm, forwardNodes, totalNodes };
}

/** d(Σ build(x))/dx for a float64 vector x, computed by the emitted backward graph. */
export async function gradOf(build: (g: Graph, x: Value) => Value, x: number[]): Promise<number[]> {
  const g = new Graph();
  const xv = g.input("x", "float64", [x.length]);
  const grad = gradients(g, allAxesSum(g, build(g, xv)), [xv]).get(xv)!;
  g.output(grad, "dx");
  const session = await ort.InferenceSession.create(serializeModel(g));
  const out = await session.run({ x: new ort.Tensor("float64", Float64Array.from(x), [x.length]) });
  return Array.from(out.dx.data as Float64Array);
}
