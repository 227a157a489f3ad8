import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import { attr, Graph, gradients, serializeModel, type Value } from "../../src/graph/index.js";
import { type CheckOptions, gradCheck, gradOf, type InputSpec } from "./gradcheck.js";

/** float64 checks: central differences are accurate to ~1e-10 here, so 1e-7 leaves a wide margin. */
const TOL64 = 1e-7;

async function expectGrad(
  build: (g: Graph, xs: Value[]) => Value,
  inputs: InputSpec[],
  options: CheckOptions & { tol?: number } = {},
) {
  const res = await gradCheck(build, inputs, options);
  for (const [name, err] of Object.entries(res.relErr)) {
    expect(res.norm[name], `gradient of ${name} is all zero`).toBeGreaterThan(1e-6);
    expect(err, `relative error for ${name}`).toBeLessThan(options.tol ?? TOL64);
  }
  return res;
}

const positive = (_i: number, r: () => number) => 0.5 + 1.5 * r();
/** Away from 0, so Relu and ReduceMax have no kinks within ±ε. */
const awayFromZero = (i: number, r: () => number) => (i % 2 ? 1 : -1) * (0.2 + r());
const distinct = (i: number, r: () => number) => i * 0.37 - 2 + 0.1 * r();

describe("elementwise rules against finite differences (float64)", () => {
  it("Add, Sub, Mul, Div with broadcasting and a symbolic batch dim", async () => {
    const inputs: InputSpec[] = [
      { name: "a", dims: ["b", 3, 4], run: [2, 3, 4] },
      { name: "c", dims: [4] },
      { name: "d", dims: [3, 1], gen: positive },
      { name: "e", dims: ["b", 1, 1], run: [2, 1, 1], gen: positive },
    ];
    await expectGrad((g, [a, c, d, e]) => g.add(g.div(g.mul(g.sub(a, c), d), e), g.div(c, d)), inputs);
  });

  it("Pow with constant exponents (2, 3, 0.5) and a tensor exponent", async () => {
    await expectGrad(
      (g, [x, p]) => g.add(g.add(g.pow(x, 2), g.pow(x, 3)), g.add(g.pow(x, 0.5), g.pow(x, p))),
      [
        { name: "x", dims: [2, 3], gen: positive },
        { name: "p", dims: [3] },
      ],
    );
  });

  it("Neg, Sqrt, Reciprocal, Exp, Log, Tanh, Sigmoid, Identity", async () => {
    await expectGrad(
      (g, [x]) =>
        g.concat(
          [g.neg(x), g.sqrt(x), g.reciprocal(x), g.exp(x), g.log(x), g.tanh(x), g.sigmoid(x), g.identity(x)],
          0,
        ),
      [{ name: "x", dims: [2, 3], gen: positive }],
    );
  });

  it("Relu away from the kink, Gelu (tanh form)", async () => {
    await expectGrad(
      (g, [x]) => g.add(g.relu(x), g.gelu(x, "tanh")),
      [{ name: "x", dims: [3, 4], gen: (i, r) => 2 * awayFromZero(i, r) }],
    );
  });

  it("Gelu (erf form) and Erf in float32: onnxruntime has no float64 Erf", async () => {
    const erf = (g: Graph, x: Value) => g.node("Erf", [x], [{ dtype: x.dtype, shape: x.shape }])[0];
    await expectGrad(
      (g, [x]) => g.add(g.gelu(x), erf(g, x)),
      [{ name: "x", dims: [3, 4], gen: (i, r) => 2 * awayFromZero(i, r) }],
      {
        dtype: "float32",
        tol: 5e-4,
      },
    );
  });

  it("Cast float32 → float64 gives the gradient back in float32", async () => {
    await expectGrad(
      (g, [x]) => {
        const x64 = g.cast(x, "float64");
        return g.mul(x64, x64);
      },
      [{ name: "x", dims: [2, 3], dtype: "float32" }],
      { eps: 2 ** -10 },
    );
  });

  it("Where: each branch gets the gradient where it was chosen; broadcasting branches", async () => {
    await expectGrad(
      (g, [a, b, c]) => g.where(g.greater(c, 0), g.mul(a, a), b),
      [
        { name: "a", dims: ["n", 3, 4], run: [2, 3, 4] },
        { name: "b", dims: [4] },
        { name: "c", dims: [3, 1], gen: awayFromZero, wrt: false },
      ],
    );
  });
});

describe("MatMul (float64)", () => {
  it("batched input against a shared weight (folded into one GEMM)", async () => {
    await expectGrad(
      (g, [x, w]) => g.matmul(x, w),
      [
        { name: "x", dims: ["b", 3, 4], run: [2, 3, 4] },
        { name: "w", dims: [4, 5] },
      ],
    );
  });

  it("broadcast batch dims on both sides", async () => {
    await expectGrad(
      (g, [a, b]) => g.matmul(a, b),
      [
        { name: "a", dims: [2, 1, 3, 4] },
        { name: "b", dims: [3, 4, 2] },
      ],
    );
  });

  it("Transpose + MatMul instead of FusedMatMul (fusedMatMul: false)", async () => {
    const options = { gradients: { fusedMatMul: false } };
    await expectGrad(
      (g, [a, b, w]) => g.matmul(g.matmul(a, b), w),
      [
        { name: "a", dims: [2, 1, 3, 4] },
        { name: "b", dims: [3, 4, 2] },
        { name: "w", dims: [2, 3] },
      ],
      options,
    );
  });

  it("linear layers over a Transpose (x·Wᵀ, Xᵀ·w): the gradient reads the untransposed operand", async () => {
    const res = await expectGrad(
      (g, [x, w, y]) => g.add(g.matmul(x, g.transpose(w, [1, 0])), g.matmul(g.transpose(y, [1, 0]), w)),
      [
        { name: "x", dims: [3, 4] },
        { name: "w", dims: [4, 4] },
        { name: "y", dims: [4, 3] },
      ],
    );
    expect(res.totalNodes).toBeGreaterThan(res.forwardNodes);
    const g = new Graph();
    const x = g.input("x", "float32", [3, 4]);
    const wt = g.transpose(g.input("w", "float32", [5, 4]), [1, 0]);
    const loss = g.reduceSum(g.matmul(x, wt), [0, 1], false);
    const before = g.nodes.length;
    gradients(g, loss, [x]);
    const backward = g.nodes.slice(before);
    expect(backward.filter((n) => n.inputs.includes(wt))).toHaveLength(0);
    expect(backward.filter((n) => n.op === "MatMul")).toHaveLength(1); // dY·W, no flags needed
  });

  it("1-D operands: vector·matrix, matrix·vector, vector·vector", async () => {
    await expectGrad(
      (g, [v, m, u]) => g.concat([g.matmul(v, m), g.matmul(m, u), g.unsqueeze(g.matmul(u, u), [0])], 0),
      [
        { name: "v", dims: [3] },
        { name: "m", dims: [3, 3] },
        { name: "u", dims: [3] },
      ],
    );
  });
});

describe("layout rules (float64)", () => {
  it("Transpose, Reshape with a symbolic dim, Unsqueeze, Squeeze, Expand", async () => {
    await expectGrad(
      (g, [x, s]) => {
        const t = g.transpose(x, [0, 2, 1]); // [b, 4, 3]
        const r = g.reshape(t, [0, -1]); // [b, 12]
        const u = g.squeeze(g.unsqueeze(r, [1, -1]), [-1]); // [b, 1, 12]
        return g.mul(u, g.expand(s, [1, 3, 12]));
      },
      [
        { name: "x", dims: ["b", 3, 4], run: [2, 3, 4] },
        { name: "s", dims: [3, 1] },
      ],
    );
  });

  it("Concat along a static and along a symbolic axis", async () => {
    await expectGrad(
      (g, [a, b, c]) => {
        const ab = g.concat([a, b], 0); // ["n+2", 3]
        return g.concat([g.mul(ab, ab), g.reshape(c, [1, 3])], 0);
      },
      [
        { name: "a", dims: ["n", 3], run: [2, 3] },
        { name: "b", dims: [2, 3] },
        { name: "c", dims: [3] },
      ],
    );
  });

  it("Slice: unit steps with negative bounds, step 2, step -1, a symbolic axis", async () => {
    await expectGrad(
      (g, [x, y]) => {
        const a = g.slice(x, [1, -3], [3, Number.MAX_SAFE_INTEGER], [0, 1]); // [2, 3]
        const b = g.slice(x, [0, 4], [4, 0], [0, 1], [2, -2]); // [2, 2]
        const c = g.slice(y, [1], [Number.MAX_SAFE_INTEGER], [0]); // [n-1, 5]
        const d = g.slice(y, [-2, 1], [Number.MAX_SAFE_INTEGER, 4], [0, 1]); // [2, 3]
        return g.concat([g.reshape(a, [-1]), g.reshape(b, [-1]), g.reshape(c, [-1]), g.reshape(d, [-1])], 0);
      },
      [
        { name: "x", dims: [4, 5] },
        { name: "y", dims: ["n", 5], run: [4, 5] },
      ],
    );
  });

  it("Split (one part unused) and Tile", async () => {
    await expectGrad(
      (g, [x]) => {
        const [a, , c] = g.node(
          "Split",
          [x, g.ints([1, 2, 1])],
          [1, 2, 1].map((n) => ({ dtype: x.dtype, shape: [2, n] })),
          { axis: attr.int(1) },
        );
        const t = g.node("Tile", [x, g.ints([2, 3])], [{ dtype: x.dtype, shape: [4, 12] }])[0];
        return g.concat([g.reshape(g.mul(a, c), [-1]), g.reshape(t, [-1])], 0);
      },
      [{ name: "x", dims: [2, 4] }],
    );
  });

  it("Gather along axis 0 (repeated rows) and axis 1 with 2-D indices; GatherElements", async () => {
    await expectGrad(
      (g, [t, x, idx, ge]) => {
        const rows = g.gather(t, idx, 0); // [2, 3, 4]
        const cols = g.gather(x, g.constant("int64", [2, 0, 2, 1], [2, 2]), 1); // [3, 2, 2]
        const picked = g.gatherElements(x, ge, 1); // [3, 2]
        return g.concat([g.reshape(rows, [-1]), g.reshape(cols, [-1]), g.reshape(picked, [-1])], 0);
      },
      [
        { name: "t", dims: [5, 4] },
        { name: "x", dims: [3, 4] },
        { name: "idx", dims: [2, 3], dtype: "int64", gen: (i) => [1, 3, 1, 4, 1, 0][i] },
        { name: "ge", dims: [3, 2], dtype: "int64", gen: (i) => [3, 3, 0, 1, 2, 2][i] },
      ],
    );
  });
});

describe("reductions and normalizations (float64)", () => {
  it("ReduceSum, ReduceMean (static and symbolic axes), ReduceMax, ReduceL2, keepdims 0 and 1", async () => {
    await expectGrad(
      (g, [x, y]) => {
        const s = g.reduceSum(x, [1], false); // [2, 4]
        const m = g.reduceMean(x, [0, 2], true); // [1, 3, 1]
        const mx = g.reduceMax(x, [-1], false); // [2, 3]
        const l2 = g.reduceL2(x, [1, 2], false); // [2]
        const my = g.reduceMean(y, [0], false); // [3]
        return g.concat([g.reshape(s, [-1]), g.reshape(m, [-1]), g.reshape(mx, [-1]), l2, g.mul(my, my)], 0);
      },
      [
        { name: "x", dims: [2, 3, 4], gen: distinct },
        { name: "y", dims: ["n", 3], run: [4, 3] },
      ],
    );
  });

  it("ReduceMax shares the gradient among tied maxima", async () => {
    // x = [1, 3, 3]: both 3s share dy equally.
    expect(await gradOf((g, x) => g.reduceMax(x, [0], false), [1, 3, 3])).toEqual([0, 0.5, 0.5]);
  });

  it("Softmax and LogSoftmax over the last and a middle axis", async () => {
    await expectGrad(
      (g, [x]) => g.concat([g.softmax(x, -1), g.logSoftmax(x, 1), g.softmax(x, 1)], 0),
      [{ name: "x", dims: [2, 3, 4] }],
    );
  });

  it("LayerNormalization: input, scale and bias; last axis and the last two axes", async () => {
    await expectGrad(
      (g, [x, s, b, s2]) =>
        g.concat(
          [g.layerNorm(x, s, b, { epsilon: 1e-5 }), g.layerNorm(x, s2, null, { axis: 1, epsilon: 1e-3 })],
          0,
        ),
      [
        { name: "x", dims: ["b", 3, 4], run: [2, 3, 4] },
        { name: "s", dims: [4] },
        { name: "b", dims: [4] },
        { name: "s2", dims: [3, 4] },
      ],
    );
  });
});

/** A 2-layer MLP: Linear → LayerNorm → Gelu → Linear → mean softmax cross-entropy. */
function mlpLoss(g: Graph, x: Value, w1: Value, b1: Value, ln: Value, w2: Value, targets: Value): Value {
  const h = g.gelu(g.layerNorm(g.add(g.matmul(x, w1), b1), ln, null), "tanh"); // [B, T, H]
  const logits = g.matmul(h, w2); // [B, T, V]
  const logp = g.logSoftmax(logits, -1);
  const picked = g.gatherElements(logp, targets, 2); // [B, T, 1]
  return g.neg(g.reduceMean(picked, [0, 1, 2], false));
}

describe("composites", () => {
  it("2-layer MLP with LayerNorm and softmax cross-entropy (LogSoftmax + GatherElements)", async () => {
    await expectGrad(
      (g, [x, w1, b1, ln, w2, t]) => mlpLoss(g, x, w1, b1, ln, w2, t),
      [
        { name: "x", dims: ["batch", 3, 4], run: [2, 3, 4] },
        { name: "w1", dims: [4, 5] },
        { name: "b1", dims: [5] },
        { name: "ln", dims: [5], gen: positive },
        { name: "w2", dims: [5, 6] },
        { name: "t", dims: ["batch", 3, 1], run: [2, 3, 1], dtype: "int64", gen: (i) => (i * 5) % 6 },
      ],
    );
  });

  it("cross-entropy from ReduceMax + Exp + ReduceSum + Log and a one-hot Mul", async () => {
    await expectGrad(
      (g, [z, onehot]) => {
        const m = g.reduceMax(z, [-1], true);
        const lse = g.add(g.log(g.reduceSum(g.exp(g.sub(z, m)), [-1], true)), m); // [B, V] → [B, 1]
        return g.reduceSum(g.mul(g.sub(lse, z), onehot), [0, 1], false);
      },
      [
        { name: "z", dims: [3, 5], gen: distinct },
        {
          name: "onehot",
          dims: [3, 5],
          gen: (i) => (i % 5 === [2, 0, 4][Math.floor(i / 5)] ? 1 : 0),
          wrt: false,
        },
      ],
    );
  });

  it("a value used several times accumulates its gradients", async () => {
    const res = await expectGrad(
      (g, [x, w]) => {
        const h = g.matmul(x, w); // used by three consumers
        return g.add(g.add(g.mul(h, h), g.exp(h)), g.matmul(h, g.transpose(w, [1, 0])));
      },
      [
        { name: "x", dims: [2, 3] },
        { name: "w", dims: [3, 3] },
      ],
    );
    expect(res.totalNodes).toBeGreaterThan(res.forwardNodes);
  });
});

/**
 * A decoder layer shaped like Gemma's (RMSNorm with 1 + w, rotary halves, one KV head shared by two
 * query heads through Expand, causal mask through Where, Gelu MLP), trained only through an adapter.
 */
function decoderLayer(g: Graph, feats: Value, adapter: Value, w: Value[]): Value {
  const [norm, wq, wk, wv, wo, cos, sin, up, down] = w;
  const T = 4;
  const rmsNorm = (x: Value) =>
    g.mul(g.mul(x, g.reciprocal(g.sqrt(g.add(g.reduceMean(g.mul(x, x), [-1]), 1e-6)))), g.add(norm, 1));
  const rope = (x: Value) => {
    const half = g.concat([g.neg(g.slice(x, [2], [4], [-1])), g.slice(x, [0], [2], [-1])], -1);
    return g.add(g.mul(x, cos), g.mul(half, sin));
  };
  const x = g.matmul(feats, adapter); // [T, Dv] → [T, 8]
  const h = rmsNorm(x);
  const q = rope(g.transpose(g.reshape(g.matmul(h, wq), [T, 2, 4]), [1, 0, 2])); // [2, T, 4]
  const k = rope(g.unsqueeze(g.matmul(h, wk), [0])); // [1, T, 4]
  const v = g.expand(g.unsqueeze(g.matmul(h, wv), [0]), [2, T, 4]); // one KV head → two
  const causal = g.less(g.unsqueeze(g.range(0, T, 1, T), [0]), g.unsqueeze(g.range(1, T + 1, 1, T), [1]));
  const scores = g.where(causal, g.mul(g.matmul(q, g.transpose(k, [0, 2, 1])), 0.5), -1e9); // [2, T, T]
  const attn = g.reshape(g.transpose(g.matmul(g.softmax(scores, -1), v), [1, 0, 2]), [T, 8]);
  const r = g.add(x, g.matmul(attn, wo));
  return g.add(r, g.matmul(g.gelu(g.matmul(rmsNorm(r), up), "tanh"), down));
}

describe("a Gemma-style decoder layer trained through an adapter", () => {
  it("gradients of the adapter and the features match finite differences", async () => {
    const frozen = (name: string, dims: number[], gen?: InputSpec["gen"]): InputSpec => ({
      name,
      dims,
      wrt: false,
      gen,
    });
    const res = await expectGrad(
      (g, [feats, adapter, ...w]) => decoderLayer(g, feats, adapter, w),
      [
        { name: "feats", dims: [4, 3] },
        { name: "adapter", dims: [3, 8] },
        frozen("norm", [8]),
        frozen("wq", [8, 8]),
        frozen("wk", [8, 4]),
        frozen("wv", [8, 4]),
        frozen("wo", [8, 8]),
        frozen("cos", [4, 4], (i) => Math.cos(Math.floor(i / 4) * (i % 2 ? 0.1 : 1))),
        frozen("sin", [4, 4], (i) => Math.sin(Math.floor(i / 4) * (i % 2 ? 0.1 : 1))),
        frozen("up", [8, 16]),
        frozen("down", [16, 8]),
      ],
    );
    expect(res.relErr.adapter).toBeLessThan(TOL64);
  });
});

describe("pruning and errors", () => {
  it("frozen weights and branches that do not reach the loss emit no backward nodes", async () => {
    const g = new Graph();
    const feats = g.input("feats", "float32", [8, 6]); // [N, Dv]
    const adapter = g.input("adapter", "float32", [6, 4]); // trained
    const w1 = g.input("w1", "float32", [4, 16]); // frozen LLM weights
    const w2 = g.input("w2", "float32", [16, 4]);
    const emb = g.matmul(feats, adapter); // [N, Dv] → [N, Dl]
    const h = g.add(emb, g.matmul(g.gelu(g.matmul(emb, w1), "tanh"), w2));
    const frozenOnly = g.reduceSum(g.mul(w1, w1), [0, 1], false); // depends on no trained value
    const dead = g.tanh(g.matmul(emb, w1)); // depends on the adapter but does not reach the loss
    const loss = g.add(g.reduceSum(g.mul(h, h), [0, 1], false), frozenOnly);
    const before = g.nodes.length;
    const grads = gradients(g, loss, [adapter]);
    const backward = g.nodes.slice(before);
    const produced = new Set(backward.flatMap((n) => n.outputs));
    // No gradient of a frozen weight is formed: the only weight-sized values are transposed weights.
    for (const v of produced) {
      expect(v.shape).not.toEqual(w1.shape);
      expect(v.shape).not.toEqual(w2.shape);
    }
    const deadValues = new Set([dead, dead.producer!.inputs[0]]);
    for (const n of backward) for (const v of n.inputs) expect(deadValues.has(v)).toBe(false);
    // dEmb = dh + (dGelu·w2ᵀ)·w1ᵀ, dAdapter = featsᵀ·dEmb: exactly 3 GEMMs.
    expect(backward.filter((n) => n.op === "FusedMatMul")).toHaveLength(3);
    expect(backward.filter((n) => n.op === "MatMul" || n.op === "Transpose")).toHaveLength(0);
    // Nothing in the backward pass reads a node of the frozen-only term.
    const frozenNodes = new Set([frozenOnly.producer!, frozenOnly.producer!.inputs[0]!.producer!]);
    for (const n of backward)
      for (const v of n.inputs) expect(frozenNodes.has(v?.producer as never)).toBe(false);
    expect(grads.get(adapter)!.shape).toEqual([6, 4]);
  });

  it("intermediate wrt values, a wrt that does not reach the loss, and an explicit seed", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", [3]);
    const other = g.input("other", "float64", [2, "n"]);
    const seed = g.input("seed", "float64", [3]);
    const h = g.exp(x);
    const y = g.mul(h, h); // non-scalar "loss", seeded with `seed`
    const grads = gradients(g, y, [h, x, other], { seed });
    for (const [k, v] of grads) g.output(v, `d_${k.name}`);
    const session = await ort.InferenceSession.create(serializeModel(g));
    const xs = [0.1, -0.4, 0.7];
    const ws = [1, -2, 0.5];
    const out = await session.run({
      x: new ort.Tensor("float64", Float64Array.from(xs), [3]),
      other: new ort.Tensor("float64", new Float64Array(8), [2, 4]),
      seed: new ort.Tensor("float64", Float64Array.from(ws), [3]),
    });
    const dh = xs.map((v, i) => 2 * Math.exp(v) * ws[i]);
    expect(Array.from(out[`d_${h.name}`].data as Float64Array)).toEqual(dh.map((d) => expect.closeTo(d, 12)));
    expect(Array.from(out.d_x.data as Float64Array)).toEqual(
      dh.map((d, i) => expect.closeTo(d * Math.exp(xs[i]), 12)),
    );
    expect(out.d_other.dims).toEqual([2, 4]);
    expect(Array.from(out.d_other.data as Float64Array)).toEqual(new Array(8).fill(0));
    expect(() => gradients(g, y, [x], { seed: x.graph.input("bad_seed", "float64", [1]) })).toThrow(
      /seed "bad_seed"/,
    );
  });

  it("an op without a rule on a gradient path is named in the error; off the path it is ignored", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", [3]);
    const frozen = g.input("frozen", "float64", [3]);
    const sin = g.node("Sin", [frozen], [{ dtype: "float64", shape: [3] }])[0];
    const ok = g.reduceSum(g.mul(x, sin), [0], false);
    expect(() => gradients(g, ok, [x])).not.toThrow();
    const bad = g.reduceSum(g.node("Cos", [x], [{ dtype: "float64", shape: [3] }])[0], [0], false);
    expect(() => gradients(g, bad, [x])).toThrow(InvalidArgumentError);
    expect(() => gradients(g, bad, [x])).toThrow(/"Cos" \(node "Cos_node"\)/);
    expect(() => gradients(g, bad, [g.input("i", "int64", [3])])).toThrow(/only float values/);
    // A Loop body that reads x from the enclosing graph is on the path even though x is not an input.
    const { scans } = g.loop({
      trip: g.constant("int64", [2]),
      tripDim: 2,
      body: (b) => ({ scans: [b.mul(x, 2)] }),
    });
    expect(() => gradients(g, g.reduceSum(scans[0], [0, 1], false), [x])).toThrow(
      /"Loop" \(node "Loop_node"\)/,
    );
  });
});
