import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { ShapeError } from "../../src/errors.js";
import {
  attr,
  float16ToFloat32,
  float32ToFloat16,
  Graph,
  initializerMap,
  readModel,
  saveModel,
  serializeModel,
  toModelProto,
} from "../../src/graph/index.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-graph-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function run(g: Graph, feeds: Record<string, ort.Tensor>) {
  const session = await ort.InferenceSession.create(serializeModel(g));
  return session.run(feeds);
}
const f32 = (data: number[], dims: number[]) => new ort.Tensor("float32", Float32Array.from(data), dims);
const seq = (n: number, k = 0.37) => Array.from({ length: n }, (_, i) => Math.sin(i * k + 1));
function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i] - b[i]), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThan(tol);
}

describe("shape checks at build time", () => {
  const g = new Graph();
  const x = g.input("x", "float32", ["batch", 4, 8]);
  const throwsShape = (fn: () => unknown, ...parts: string[]) => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(ShapeError);
      for (const p of parts) expect((e as Error).message).toContain(p);
      return;
    }
    throw new Error("expected a ShapeError");
  };

  it("broadcasting names the op and both shapes", () => {
    throwsShape(() => g.add(x, g.input("y", "float32", [5, 8])), "Add", "[batch, 4, 8]", "[5, 8]");
    throwsShape(() => g.mul(x, g.input("z", "float32", ["other", 4, 8])), "Mul");
    expect(g.add(x, g.input("b", "float32", [1, 8])).shape).toEqual(["batch", 4, 8]);
  });

  it("MatMul inner dims, Reshape counts, Transpose perms, Concat, LayerNorm, Conv, Squeeze", () => {
    throwsShape(() => g.matmul(x, g.input("w1", "float32", [4, 3])), "MatMul", "8 vs 4");
    expect(g.matmul(x, g.input("w2", "float32", [8, 3])).shape).toEqual(["batch", 4, 3]);
    throwsShape(() => g.reshape(x, [0, 5, -1]), "Reshape");
    expect(g.reshape(x, [0, -1]).shape).toEqual(["batch", 32]);
    expect(g.reshape(x, [0, 2, 2, 8]).shape).toEqual(["batch", 2, 2, 8]);
    expect(g.reshape(g.reshape(x, [-1, 8]), [-1, 4, 8]).shape).toHaveLength(3);
    throwsShape(() => g.transpose(x, [0, 0, 1]), "Transpose");
    expect(g.transpose(x, [2, 0, 1]).shape).toEqual([8, "batch", 4]);
    throwsShape(() => g.concat([x, g.input("c", "float32", ["batch", 5, 9])], 1), "Concat");
    expect(g.concat([x, g.input("c2", "float32", ["batch", 5, 8])], 1).shape).toEqual(["batch", 9, 8]);
    throwsShape(() => g.layerNorm(x, g.input("s", "float32", [4]), null), "LayerNormalization");
    const img = g.input("img", "float32", ["batch", 3, 32, 32]);
    expect(g.conv(img, g.input("k", "float32", [16, 3, 8, 8]), null, { strides: [8, 8] }).shape).toEqual([
      "batch",
      16,
      4,
      4,
    ]);
    throwsShape(() => g.conv(img, g.input("k2", "float32", [16, 4, 8, 8]), null), "Conv", "channels");
    throwsShape(() => g.squeeze(x, [1]), "Squeeze");
    expect(g.slice(x, [-1], [Number.MAX_SAFE_INTEGER], [1]).shape).toEqual(["batch", 1, 8]);
    expect(g.gather(x, g.input("i", "int64", [2, 3]), 1).shape).toEqual(["batch", 2, 3, 8]);
  });

  it("values record their producer; nodes are in creation order", () => {
    const h = new Graph();
    const a = h.input("a", "float32", [2]);
    const b = h.exp(h.add(a, 1));
    expect(b.producer?.op).toBe("Exp");
    expect(b.producer?.inputs[0]?.producer?.op).toBe("Add");
    expect(h.nodes.map((n) => n.op)).toEqual(["Add", "Exp"]);
  });
});

describe("ops through onnxruntime against plain TypeScript", () => {
  it("broadcast arithmetic, MatMul, Softmax, Gelu(tanh), ReduceMean, Where", async () => {
    const g = new Graph();
    const x = g.input("x", "float32", [2, 3]);
    const w = g.initializer("w", "float32", [3, 2], seq(6));
    g.output(g.matmul(g.sub(g.mul(x, 2), g.constant("float32", [1, 0, -1], [3])), w), "mm");
    g.output(g.softmax(x, -1), "sm");
    g.output(g.gelu(x, "tanh"), "gelu");
    g.output(g.reduceMean(x, [1], false), "mean");
    g.output(g.where(g.greater(x, 0), x, 0), "relu");
    const xs = seq(6, 1.3).map((v) => v * 3);
    const out = await run(g, { x: f32(xs, [2, 3]) });
    const W = seq(6);
    const mm = [0, 1].flatMap((r) =>
      [0, 1].map((c) =>
        [0, 1, 2].reduce((s, k) => s + (2 * xs[r * 3 + k] - [1, 0, -1][k]) * W[k * 2 + c], 0),
      ),
    );
    close(out.mm.data as Float32Array, mm);
    const sm = [0, 1].flatMap((r) => {
      const row = xs.slice(r * 3, r * 3 + 3);
      const e = row.map((v) => Math.exp(v - Math.max(...row)));
      return e.map((v) => v / e.reduce((a, b) => a + b, 0));
    });
    close(out.sm.data as Float32Array, sm);
    const gelu = xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    close(out.gelu.data as Float32Array, gelu);
    close(
      out.mean.data as Float32Array,
      [0, 1].map((r) => (xs[r * 3] + xs[r * 3 + 1] + xs[r * 3 + 2]) / 3),
    );
    close(
      out.relu.data as Float32Array,
      xs.map((v) => Math.max(v, 0)),
    );
  });

  it("LayerNormalization, Reshape/Transpose, Gather, Slice, Concat, Unsqueeze", async () => {
    const g = new Graph();
    const x = g.input("x", "float32", [2, 4]);
    const scale = g.initializer("scale", "float32", [4], [1, 2, 0.5, -1]);
    const bias = g.initializer("bias", "float32", [4], [0, 0.1, 0.2, 0.3]);
    g.output(g.layerNorm(x, scale, bias, { epsilon: 1e-6 }), "ln");
    g.output(g.transpose(g.reshape(x, [2, 2, 2]), [2, 1, 0]), "tr");
    g.output(g.gather(x, g.ints([1, 0, 1]), 0), "ga");
    g.output(g.slice(x, [1], [4], [1], [2]), "sl");
    g.output(g.concat([x, g.unsqueeze(g.reduceSum(x, [1], false), [1])], 1), "cat");
    const xs = seq(8, 0.9);
    const out = await run(g, { x: f32(xs, [2, 4]) });
    const ln = [0, 1].flatMap((r) => {
      const row = xs.slice(r * 4, r * 4 + 4);
      const m = row.reduce((a, b) => a + b) / 4;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
      return row.map((x, i) => ((x - m) / Math.sqrt(v + 1e-6)) * [1, 2, 0.5, -1][i] + [0, 0.1, 0.2, 0.3][i]);
    });
    close(out.ln.data as Float32Array, ln, 1e-4);
    const tr: number[] = [];
    for (let k = 0; k < 2; k++)
      for (let j = 0; j < 2; j++) for (let i = 0; i < 2; i++) tr.push(xs[i * 4 + j * 2 + k]);
    close(out.tr.data as Float32Array, tr);
    close(out.ga.data as Float32Array, [...xs.slice(4), ...xs.slice(0, 4), ...xs.slice(4)]);
    close(out.sl.data as Float32Array, [xs[1], xs[3], xs[5], xs[7]]);
    expect(out.cat.dims).toEqual([2, 5]);
    close((out.cat.data as Float32Array).slice(4, 5), [xs[0] + xs[1] + xs[2] + xs[3]]);
  });

  it("Resize with antialias + exclude_outside reproduces PyTorch's antialiased bilinear", async () => {
    // 4×4 ramp 0..15 down to 2×2: per axis the taps are (0.75, 0.75, 0.25)/1.75 → 1.25/1.75.
    const g = new Graph();
    const x = g.input("x", "float32", [1, 1, 4, 4]);
    g.output(g.resize(x, [2, 2], { axes: [2, 3], antialias: true, excludeOutside: true }), "y");
    const out = await run(g, {
      x: f32(
        seq(16).map((_, i) => i),
        [1, 1, 4, 4],
      ),
    });
    const a = 1.25 / 1.75;
    const b = (1 * 0.25 + 2 * 0.75 + 3 * 0.75) / 1.75;
    close(out.y.data as Float32Array, [a * 4 + a, a * 4 + b, b * 4 + a, b * 4 + b]);
  });

  it("Loop with scan outputs over a run-time trip count", async () => {
    const g = new Graph();
    const x = g.input("x", "float32", ["n", 3]);
    const trip = g.gather(g.shapeOf(x), g.scalar(0, "int64"));
    const { scans } = g.loop({
      trip,
      tripDim: "n",
      body: (b, i) => ({ scans: [b.mul(b.gather(x, i), b.cast(i, "float32"))] }),
    });
    expect(scans[0].shape).toEqual(["n", 3]);
    g.output(scans[0], "y");
    const xs = seq(9);
    const out = await run(g, { x: f32(xs, [3, 3]) });
    close(
      out.y.data as Float32Array,
      xs.map((v, k) => v * Math.floor(k / 3)),
    );
  });
});

describe("serialization", () => {
  it("external data round trip: location/offset/length, readModel, onnxruntime", async () => {
    const g = new Graph();
    const x = g.input("x", "float32", ["batch", 64]);
    const big = Float32Array.from(seq(64 * 32));
    const w = g.initializer("w", "float32", [64, 32], big);
    const small = g.initializer("b", "float32", [32], seq(32, 0.1));
    g.output(g.add(g.matmul(x, w), small), "y");
    const file = path.join(root, "ext", "model.onnx");
    const written = await saveModel(g, file, { externalData: true, metadata: { k: "v" } });
    expect(written).toEqual([file, path.join(root, "ext", "model.onnx_data")]);
    expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(["model.onnx", "model.onnx_data"]);
    expect(fs.statSync(file).size).toBeLessThan(2048);
    const model = await readModel(file);
    const wt = model.graph!.initializer.find((t) => t.name === "w")!;
    const entries = Object.fromEntries(wt.externalData.map((e) => [e.key, e.value]));
    expect(entries).toEqual({ location: "model.onnx_data", offset: "0", length: String(big.byteLength) });
    expect(model.graph!.initializer.find((t) => t.name === "b")!.externalData).toHaveLength(0); // under the threshold
    expect(initializerMap(model).get("w")!.values).toEqual(big);
    expect(model.metadataProps.map((p) => [p.key, p.value])).toEqual([["k", "v"]]);
    const session = await ort.InferenceSession.create(file);
    const xs = seq(64, 0.2);
    const out = await session.run({ x: f32(xs, [1, 64]) });
    const b = seq(32, 0.1);
    close(
      out.y.data as Float32Array,
      b.map((bj, j) => xs.reduce((s, v, i) => s + v * big[i * 32 + j], bj)),
      1e-4,
    );
  });

  it("float16 weights are stored half size and cast back to float32", async () => {
    const g = new Graph();
    const x = g.input("x", "float32", [1, 8]);
    g.output(g.mul(x, g.initializer("w", "float32", [8], seq(8))), "y");
    const file = path.join(root, "half", "m.onnx");
    await saveModel(g, file, { float16Weights: true });
    const model = await readModel(file);
    expect(model.graph!.initializer.find((t) => t.name === "w_fp16")?.dataType).toBe(10);
    const out = await (await ort.InferenceSession.create(file)).run({ x: f32(new Array(8).fill(1), [1, 8]) });
    close(
      out.y.data as Float32Array,
      Array.from(float16ToFloat32(float32ToFloat16(Float32Array.from(seq(8))))),
      1e-7,
    );
  });

  it("float64 values and a com.microsoft node: the domain is imported and onnxruntime runs it", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", [2, 3]);
    const w = g.initializer("w", "float64", [2, 3], Float64Array.from([1, 2, 3, 4, 5, 6]));
    const [y] = g.node(
      "FusedMatMul",
      [x, w],
      [{ dtype: "float64", shape: [2, 2] }],
      { transB: attr.int(1) },
      "com.microsoft",
    );
    g.output(g.add(y, 1e-12), "y");
    expect(toModelProto(g).opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([
      ["", 20],
      ["com.microsoft", 1],
    ]);
    const xs = Float64Array.from([1, 0, 0, 0, 1, 1e-9]);
    const out = await run(g, { x: new ort.Tensor("float64", xs, [2, 3]) });
    // 1e-12 and 6e-9 survive only in float64.
    close(out.y.data as Float64Array, [1 + 1e-12, 4 + 1e-12, 2 + 3e-9 + 1e-12, 5 + 6e-9 + 1e-12], 1e-14);
  });

  it("float16 conversion rounds to nearest even and keeps specials", () => {
    const bits = float32ToFloat16(Float32Array.from([1, -2, 65504, 1e6, 2 ** -24, 1 + 2 ** -11, Number.NaN]));
    expect(Array.from(bits.slice(0, 6))).toEqual([0x3c00, 0xc000, 0x7bff, 0x7c00, 1, 0x3c00]); // tie → even
    expect(Number.isNaN(float16ToFloat32(bits)[6])).toBe(true);
    expect(float16ToFloat32(Uint16Array.of(0x3555))[0]).toBeCloseTo(0.333251953125, 12);
  });
});
