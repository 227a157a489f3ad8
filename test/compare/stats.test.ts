// Bootstrap coverage, the paired bootstrap, exact McNemar against a published example, L-BFGS and the probe.
import { describe, expect, it } from "vitest";
import { meanOf } from "../../src/compare/metrics/classification.js";
import { lbfgs } from "../../src/compare/probe/lbfgs.js";
import { fitLogistic, logisticLoss, predictLogits } from "../../src/compare/probe/logistic.js";
import { bootstrapCi, pairedBootstrap } from "../../src/compare/stats/bootstrap.js";
import { mcnemar, mcnemarExactP } from "../../src/compare/stats/mcnemar.js";
import { SeededRandom } from "../../src/util/random.js";

describe("bootstrap", () => {
  it("the 95 % interval of a Bernoulli(0.7) mean covers 0.7 in about 95 % of samples", () => {
    const rng = new SeededRandom(7);
    const trials = 200;
    let covered = 0;
    for (let t = 0; t < trials; t++) {
      const x = Uint8Array.from({ length: 200 }, () => (rng.next() < 0.7 ? 1 : 0));
      const [lo, hi] = bootstrapCi(x.length, (idx) => meanOf(x, idx), { resamples: 400, seed: t });
      if (lo <= 0.7 && 0.7 <= hi) covered++;
    }
    // Binomial(200, 0.95) lies in [0.90, 0.99] with probability > 0.999; percentile intervals run slightly narrow.
    expect(covered / trials).toBeGreaterThanOrEqual(0.9);
    expect(covered / trials).toBeLessThanOrEqual(0.99);
  });

  it("is seeded: the same seed gives the same interval", () => {
    const x = Uint8Array.from({ length: 50 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const stat = (idx: Int32Array) => meanOf(x, idx);
    expect(bootstrapCi(50, stat, { seed: 3 })).toEqual(bootstrapCi(50, stat, { seed: 3 }));
  });

  it("paired bootstrap: a real difference is significant, equal samples are not", () => {
    const n = 300;
    const rng = new SeededRandom(1);
    const a = Uint8Array.from({ length: n }, () => (rng.next() < 0.8 ? 1 : 0));
    const b = Uint8Array.from(a, (v) => (v && rng.next() < 0.75 ? 1 : 0)); // b loses a quarter of a's hits
    const r = pairedBootstrap(
      n,
      (i) => meanOf(a, i),
      (i) => meanOf(b, i),
    );
    expect(r.delta).toBeGreaterThan(0.1);
    expect(r.p).toBeLessThan(0.01);
    expect(
      pairedBootstrap(
        n,
        (i) => meanOf(a, i),
        (i) => meanOf(a, i),
      ).p,
    ).toBe(1);
  });
});

describe("exact McNemar", () => {
  it("matches the worked example of Fagerland, Lydersen & Laake (BMC Med Res Methodol 2013, 13:91): b = 1, c = 7 → p = 0.070", () => {
    // Airway hyper-responsiveness before/after stem cell transplantation (Bentur et al.), 21 children:
    // 1 both, 1 before only, 7 after only, 12 neither. Exact conditional p = 2 · P(X ≤ 1 | n = 8) = 18/256.
    expect(mcnemarExactP(1, 7)).toBeCloseTo(18 / 256, 12);
    expect(mcnemarExactP(1, 7).toFixed(3)).toBe("0.070");
    const before = [1, 1, ...Array(7).fill(0), ...Array(12).fill(0)];
    const after = [1, 0, ...Array(7).fill(1), ...Array(12).fill(0)];
    expect(mcnemar(before, after)).toEqual({ b: 1, c: 7, p: 18 / 256 });
  });

  it("is 1 without discordant pairs or when they balance, and capped at 1", () => {
    expect(mcnemarExactP(0, 0)).toBe(1);
    expect(mcnemarExactP(4, 4)).toBe(1);
    expect(mcnemarExactP(3, 4)).toBe(1);
    expect(mcnemarExactP(0, 10)).toBeCloseTo(2 / 1024, 15);
  });
});

describe("L-BFGS and the logistic probe", () => {
  it("minimizes the Rosenbrock function", () => {
    const r = lbfgs(
      (x, g) => {
        const [a, b] = [x[0], x[1]];
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      Float64Array.from([-1.2, 1]),
      { maxIterations: 500, valueTolerance: 0 },
    );
    expect(r.x[0]).toBeCloseTo(1, 4);
    expect(r.x[1]).toBeCloseTo(1, 4);
  });

  it("the logistic gradient matches finite differences", () => {
    const rng = new SeededRandom(2);
    const N = 7;
    const D = 3;
    const C = 4;
    const X = Float64Array.from({ length: N * D }, () => rng.normal());
    const labels = Array.from({ length: N }, () => rng.int(C));
    const w = Float64Array.from({ length: C * (D + 1) }, () => rng.normal(0, 0.5));
    const g = new Float64Array(w.length);
    logisticLoss(X, labels, C, 0.1, w, g);
    const scratch = new Float64Array(w.length);
    for (let k = 0; k < w.length; k++) {
      const h = 1e-6;
      const wp = Float64Array.from(w);
      const wm = Float64Array.from(w);
      wp[k] += h;
      wm[k] -= h;
      const fd =
        (logisticLoss(X, labels, C, 0.1, wp, scratch) - logisticLoss(X, labels, C, 0.1, wm, scratch)) /
        (2 * h);
      expect(g[k]).toBeCloseTo(fd, 6);
    }
  });

  it("separates three Gaussian clusters", () => {
    const rng = new SeededRandom(3);
    const centres = [
      [3, 0],
      [0, 3],
      [-3, -3],
    ];
    const make = (n: number) =>
      Array.from({ length: n }, (_, i) => {
        const c = i % 3;
        return { x: Float32Array.from(centres[c], (v) => v + rng.normal()), y: c };
      });
    const train = make(90);
    const test = make(60);
    const model = fitLogistic(
      train.map((t) => t.x),
      train.map((t) => t.y),
      3,
      { weightDecay: 1e-3 },
    );
    const logits = predictLogits(
      model,
      test.map((t) => t.x),
    );
    let right = 0;
    for (const [i, t] of test.entries()) {
      const row = logits.subarray(i * 3, i * 3 + 3);
      if (row.indexOf(Math.max(...row)) === t.y) right++;
    }
    expect(right / test.length).toBeGreaterThan(0.9);
  });
});
