import { describe, expect, it } from "vitest";
import { LinearAdapter } from "../../src/adapter/linear-adapter.js";
import { AdamW, adapterParamGroups, globalNorm } from "../../src/train/loop/optimizer.js";
import { learningRate } from "../../src/train/loop/schedule.js";

describe("AdamW", () => {
  it("matches two steps worked by hand, with decay only where asked", () => {
    const w = Float32Array.of(1, -2);
    const b = Float32Array.of(0.5);
    const opt = new AdamW(
      [
        { name: "w", data: w },
        { name: "b", data: b, weightDecay: 0 },
      ],
      { weightDecay: 0.1, maxGradNorm: 0 },
    );
    const lr = 0.01;
    opt.update([Float32Array.of(0.5, -1), Float32Array.of(2)], lr);
    // Step 1: m̂ = g, v̂ = g², so the Adam part moves each value by lr·sign(g) (up to eps).
    expect(w[0]).toBeCloseTo(1 * (1 - lr * 0.1) - lr, 6);
    expect(w[1]).toBeCloseTo(-2 * (1 - lr * 0.1) + lr, 6);
    expect(b[0]).toBeCloseTo(0.5 - lr, 6);
    // Step 2 on w[0] with g = 0.25: m = 0.9·0.05 + 0.025 = 0.07, v = 0.999·2.5e-4·… by formula.
    const w0 = w[0];
    opt.update([Float32Array.of(0.25, 0), Float32Array.of(0)], lr);
    const m = 0.9 * 0.1 * 0.5 + 0.1 * 0.25;
    const v = 0.999 * 0.001 * 0.25 + 0.001 * 0.0625;
    const expected =
      w0 * (1 - lr * 0.1) - (lr * (m / (1 - 0.9 ** 2))) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8);
    expect(w[0]).toBeCloseTo(expected, 6);
    expect(opt.step).toBe(2);
  });

  it("clips by the global norm and reports the norm before clipping", () => {
    const p = new Float32Array(2);
    const opt = new AdamW([{ name: "p", data: p }], { maxGradNorm: 1, weightDecay: 0 });
    const r = opt.update([Float32Array.of(3, 4)], 0.1);
    expect(r).toEqual({ gradNorm: 5, clipped: true });
    expect(globalNorm([Float32Array.of(3), Float32Array.of(4)])).toBe(5);
    expect(() => opt.update([Float32Array.of(Number.NaN, 0)], 0.1)).toThrow(/gradient norm is NaN/);
  });

  it("minimizes a quadratic", () => {
    // f(p) = Σ a_i (p_i − c_i)², ∇f = 2 a (p − c)
    const a = [1, 10, 0.1];
    const c = [3, -1, 2];
    const p = new Float32Array(3);
    const opt = new AdamW([{ name: "p", data: p }], { weightDecay: 0, maxGradNorm: 0 });
    for (let t = 1; t <= 2000; t++) {
      const g = Float32Array.from(p, (x, i) => 2 * a[i] * (x - c[i]));
      opt.update([g], learningRate(t, { lr: 0.1, totalSteps: 2000 }));
    }
    for (let i = 0; i < 3; i++) expect(p[i]).toBeCloseTo(c[i], 2);
  });

  it("continues the same trajectory after saving and loading its state", () => {
    const run = (restoreAt?: number) => {
      let p = Float32Array.of(1, 2, 3);
      let opt = new AdamW([{ name: "p", data: p }]);
      for (let t = 1; t <= 6; t++) {
        if (t === restoreAt) {
          const saved = opt.state();
          p = p.slice();
          opt = new AdamW([{ name: "p", data: p }]);
          opt.load(saved);
        }
        opt.update([Float32Array.from(p, (x) => x * x - 1)], 0.05);
      }
      return [...p];
    };
    expect(run(4)).toEqual(run());
    const opt = new AdamW([{ name: "p", data: new Float32Array(3) }]);
    expect(() => opt.load({ step: 1, m: [new Float32Array(2)], v: [new Float32Array(3)] })).toThrow(
      /optimizer state m has sizes \[2\], the parameters \[3\]/,
    );
  });

  it("groups an adapter's weight with decay and its bias without", () => {
    const adapter = LinearAdapter.init({ inputSize: 4, outputSize: 3 });
    const groups = adapterParamGroups(adapter);
    expect(groups.map((g) => [g.name, g.data.length, g.weightDecay])).toEqual([
      ["linear.weight", 12, undefined],
      ["linear.bias", 3, 0],
    ]);
    expect(groups[0].data).toBe(adapter.weight.data);
  });
});

describe("learning-rate schedule", () => {
  const o = { lr: 1e-3, totalSteps: 100, warmupSteps: 10, minLrRatio: 0.1 };
  it("warms up linearly, peaks after warmup and ends at the floor", () => {
    expect(learningRate(1, o)).toBeCloseTo(1e-4, 12);
    expect(learningRate(5, o)).toBeCloseTo(5e-4, 12);
    expect(learningRate(10, o)).toBeCloseTo(1e-3, 12);
    expect(learningRate(11, o)).toBeCloseTo(1e-3, 12);
    expect(learningRate(100, o)).toBeCloseTo(1e-4, 12);
    expect(learningRate(150, o)).toBeCloseTo(1e-4, 12);
    // Halfway through the cosine: the mean of peak and floor.
    expect(learningRate(56, { ...o, totalSteps: 101 })).toBeCloseTo(5.5e-4, 12);
    for (let t = 11; t < 100; t++) expect(learningRate(t + 1, o)).toBeLessThanOrEqual(learningRate(t, o));
  });

  it("defaults to 5 % warmup and refuses impossible settings", () => {
    expect(learningRate(5, { lr: 1, totalSteps: 100 })).toBeCloseTo(1, 12);
    expect(learningRate(4, { lr: 1, totalSteps: 100 })).toBeCloseTo(0.8, 12);
    expect(learningRate(1, { lr: 1, totalSteps: 1 })).toBe(1);
    expect(() => learningRate(0, o)).toThrow(/step 0/);
    expect(() => learningRate(1, { ...o, warmupSteps: 200 })).toThrow(/warmupSteps 200/);
  });
});
