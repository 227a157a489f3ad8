import { describe, expect, it } from "vitest";
import { LinearAdapter } from "../../src/adapter/index.js";
import { ModelFormatError, ShapeError } from "../../src/errors.js";
import { type Tensor, tensor } from "../../src/tensor.js";
import { SeededRandom } from "../../src/util/random.js";

/** y[i, j] = Σ_k x[i, k] · W[j, k] + b[j], in float64. */
function reference(x: Tensor, w: Tensor, b: Tensor): Float64Array {
  const [n, dv] = x.dims;
  const dl = w.dims[0];
  const out = new Float64Array(n * dl);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dl; j++) {
      let s = b.data[j];
      for (let k = 0; k < dv; k++) s += x.data[i * dv + k] * w.data[j * dv + k];
      out[i * dl + j] = s;
    }
  }
  return out;
}

function random(dims: number[], seed: number): Tensor {
  return tensor(new SeededRandom(seed).normalArray(dims.reduce((a, b) => a * b, 1)), dims);
}

describe("LinearAdapter.apply", () => {
  // Shapes that exercise the 4-row × 2-column blocks and both remainders.
  it.each([
    [1, 1, 1],
    [3, 5, 7],
    [4, 8, 2],
    [9, 16, 11],
    [13, 33, 6],
  ])("matches a naive float64 reference for N=%i Dv=%i Dl=%i", async (n, dv, dl) => {
    const adapter = new LinearAdapter(random([dl, dv], 1), random([dl], 2));
    const x = random([n, dv], 3);
    const y = await adapter.apply(x);
    expect(y.dims).toEqual([n, dl]);
    const ref = reference(x, adapter.weight, adapter.bias);
    for (let i = 0; i < ref.length; i++) expect(y.data[i]).toBeCloseTo(ref[i], 4);
  });

  it("handles zero rows", async () => {
    const adapter = LinearAdapter.init({ inputSize: 4, outputSize: 3 });
    expect((await adapter.apply(tensor(new Float32Array(0), [0, 4]))).dims).toEqual([0, 3]);
  });

  it("rejects features of the wrong width or rank with both shapes in the message", async () => {
    const adapter = LinearAdapter.init({ inputSize: 8, outputSize: 4 });
    await expect(adapter.apply(tensor(new Float32Array(14), [2, 7]))).rejects.toThrow(ShapeError);
    await expect(adapter.apply(tensor(new Float32Array(14), [2, 7]))).rejects.toThrow(
      /expected dims \[N, 8\], got \[2, 7\]/,
    );
    await expect(adapter.apply(tensor(new Float32Array(8), [8]))).rejects.toThrow(/got \[8\]/);
  });

  it("rejects a bias that does not match the weight", () => {
    expect(() => new LinearAdapter(random([4, 8], 1), random([5], 2))).toThrow(
      /expected dims \[4\], got \[5\]/,
    );
  });
});

describe("LinearAdapter.init", () => {
  it("is deterministic per seed and scales outputs to the target RMS", async () => {
    const a = LinearAdapter.init({ inputSize: 256, outputSize: 64, seed: 7, targetRms: 3 });
    const b = LinearAdapter.init({ inputSize: 256, outputSize: 64, seed: 7, targetRms: 3 });
    const c = LinearAdapter.init({ inputSize: 256, outputSize: 64, seed: 8, targetRms: 3 });
    expect(a.weight.data).toEqual(b.weight.data);
    expect(a.weight.data).not.toEqual(c.weight.data);
    expect(a.bias.data.every((v) => v === 0)).toBe(true);
    expect(a.weight.dims).toEqual([64, 256]);
    const y = (await a.apply(random([64, 256], 9))).data;
    const rms = Math.sqrt(y.reduce((s, v) => s + v * v, 0) / y.length);
    expect(rms).toBeGreaterThan(2.7);
    expect(rms).toBeLessThan(3.3);
  });

  it("rejects bad sizes", () => {
    expect(() => LinearAdapter.init({ inputSize: 0, outputSize: 4 })).toThrow(
      /inputSize must be a positive integer, got 0/,
    );
    expect(() => LinearAdapter.init({ inputSize: 4, outputSize: 4, targetRms: -1 })).toThrow(/targetRms/);
  });
});

describe("LinearAdapter.fromTensors", () => {
  it("names missing and extra tensors", () => {
    const w = random([2, 3], 1);
    const b = random([2], 2);
    expect(() => LinearAdapter.fromTensors(new Map([["linear.weight", w]]), "a.safetensors")).toThrow(
      /a\.safetensors must hold "linear\.weight" and "linear\.bias"; it holds: linear\.weight/,
    );
    expect(() =>
      LinearAdapter.fromTensors(
        new Map([
          ["linear.weight", w],
          ["linear.bias", b],
          ["extra", b],
        ]),
        "a.safetensors",
      ),
    ).toThrow(/must hold only/);
    expect(() =>
      LinearAdapter.fromTensors(
        new Map([
          ["linear.weight", w],
          ["linear.bias", random([3], 3)],
        ]),
        "a.safetensors",
      ),
    ).toThrow(ModelFormatError);
  });
});
