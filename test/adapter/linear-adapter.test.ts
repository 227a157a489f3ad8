import { describe, expect, it } from "vitest";
import { LinearAdapter } from "../../src/adapter/index.js";
import { DisposedError, ModelFormatError, ShapeError } from "../../src/errors.js";
import { type Tensor, tensor } from "../../src/tensor.js";
import { SeededRandom } from "../../src/util/random.js";
import { canCountThreads, liveThreads } from "../helpers/threads.js";

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

describe("LinearAdapter.dispose", () => {
  it("releases the adapter's session; apply afterwards throws DisposedError", async () => {
    const adapter = new LinearAdapter(random([3, 5], 1), random([3], 2), { threads: 1 });
    const x = random([2, 5], 3);
    const first = await adapter.apply(x);
    await adapter.dispose();
    await expect(adapter.apply(x)).rejects.toThrow(DisposedError);
    await expect(adapter.apply(x)).rejects.toThrow("LinearAdapter has been disposed");
    await adapter.dispose(); // a second dispose does nothing
    // Another adapter with the same weights still works: sessions are per adapter, not shared.
    const again = new LinearAdapter(adapter.weight, adapter.bias, { threads: 1 });
    expect(Array.from((await again.apply(x)).data)).toEqual(Array.from(first.data));
    await again.dispose();
  });

  it("lets a run in flight finish before releasing", async () => {
    const adapter = LinearAdapter.init({ inputSize: 64, outputSize: 32, seed: 4 });
    const x = random([128, 64], 5);
    const pending = adapter.apply(x);
    const disposed = adapter.dispose();
    const y = await pending;
    await disposed;
    const ref = reference(x, adapter.weight, adapter.bias);
    for (let i = 0; i < ref.length; i += 97) expect(y.data[i]).toBeCloseTo(ref[i], 4);
  });

  it.runIf(canCountThreads)("holds no session before the first apply and none after dispose", async () => {
    const warm = new LinearAdapter(random([2, 2], 1), random([2], 2), { threads: 1 });
    await warm.apply(random([1, 2], 3));
    await warm.dispose();
    const before = liveThreads();
    const adapter = new LinearAdapter(random([4, 6], 1), random([4], 2), { threads: 3 });
    expect(liveThreads()).toBe(before);
    await adapter.apply(random([2, 6], 3));
    expect(liveThreads() - before).toBe(2); // its session's intra-op workers
    await adapter.dispose();
    expect(liveThreads()).toBe(before);
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
