import { describe, expect, it } from "vitest";
import {
  GradientAccumulator,
  shuffle,
  totalSteps,
  trainingSteps,
} from "../../src/train/data/dataset-batches.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("shuffle", () => {
  it("is a permutation, the same for the same (seed, epoch), different across epochs and seeds", () => {
    const a = shuffle(range(50), 1, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(range(50));
    expect(shuffle(range(50), 1, 0)).toEqual(a);
    expect(shuffle(range(50), 1, 1)).not.toEqual(a);
    expect(shuffle(range(50), 2, 0)).not.toEqual(a);
    expect(a).not.toEqual(range(50));
  });
});

describe("trainingSteps", () => {
  it("covers every example once per epoch, with a smaller last batch", () => {
    const steps = [...trainingSteps(10, { batchSize: 4, epochs: 2, seed: 3 })];
    expect(steps.map((s) => [s.step, s.epoch, s.position, s.indices.length])).toEqual([
      [1, 0, 4, 4],
      [2, 0, 8, 4],
      [3, 0, 10, 2],
      [4, 1, 4, 4],
      [5, 1, 8, 4],
      [6, 1, 10, 2],
    ]);
    expect(
      steps
        .slice(0, 3)
        .flatMap((s) => s.indices)
        .sort((a, b) => a - b),
    ).toEqual(range(10));
    expect(totalSteps(10, { batchSize: 4, epochs: 2 })).toBe(6);
    expect(totalSteps(10, { batchSize: 4, epochs: 2, dropLast: true })).toBe(4);
  });

  it("resumes at a checkpoint's (epoch, position) with the same batches", () => {
    const all = [...trainingSteps(10, { batchSize: 4, epochs: 2, seed: 3 })];
    const resumed = [
      ...trainingSteps(10, { batchSize: 4, epochs: 2, seed: 3, from: { epoch: 0, position: 8 } }),
    ];
    expect(resumed).toEqual(all.slice(2));
    const atEnd = [
      ...trainingSteps(10, { batchSize: 4, epochs: 2, seed: 3, from: { epoch: 0, position: 10 } }),
    ];
    expect(atEnd).toEqual(all.slice(3));
    expect(() => [...trainingSteps(10, { batchSize: 4, from: { epoch: 0, position: 3 } })]).toThrow(
      /multiple of batchSize 4/,
    );
  });
});

describe("GradientAccumulator", () => {
  it("averages gradients with weights and resets", () => {
    const acc = new GradientAccumulator([2, 1]);
    acc.add([Float32Array.of(1, 2), Float32Array.of(3)]);
    acc.add([Float32Array.of(4, 8), Float32Array.of(0)], 3);
    expect(acc.count).toBe(4);
    expect(acc.mean().map((a) => [...a])).toEqual([[13 / 4, 26 / 4], [3 / 4]]);
    acc.reset();
    expect(() => acc.mean()).toThrow(/no gradients/);
    expect(() => acc.add([Float32Array.of(1)])).toThrow(/expected 2 gradient buffers/);
  });
});
