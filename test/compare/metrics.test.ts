// Metrics against hand-computed cases.
import { describe, expect, it } from "vitest";
import { meanPerClassRecall, perClassRecall, topKHits } from "../../src/compare/metrics/classification.js";
import { retrievalHits } from "../../src/compare/metrics/retrieval.js";

const m = (rows: number[][]) => ({
  data: Float32Array.from(rows.flat()),
  rows: rows.length,
  cols: rows[0].length,
});

describe("classification metrics", () => {
  it("acc1 and acc5 by hand, ties counting against the sample", () => {
    const scores = m([
      [0.9, 0.1, 0.0], // label 0: top-1
      [0.5, 0.5, 0.0], // label 1 tied with class 0: not top-1, but top-2
      [0.2, 0.3, 0.1], // label 2: third
    ]);
    expect([...topKHits(scores, [0, 1, 2], 1)]).toEqual([1, 0, 0]);
    expect([...topKHits(scores, [0, 1, 2], 2)]).toEqual([1, 1, 0]);
    // acc5 with 3 classes is top-3: every label is within it.
    expect([...topKHits(scores, [0, 1, 2], 5)]).toEqual([1, 1, 1]);
  });

  it("constant scores get no credit from class order", () => {
    const scores = m([
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
    ]);
    expect([...topKHits(scores, [0, 5], 1)]).toEqual([0, 0]);
    expect([...topKHits(scores, [0, 5], 5)]).toEqual([0, 0]);
  });

  it("mean per-class recall averages the classes in the labels; a class never predicted has recall 0", () => {
    const truth = [0, 0, 1, 1, 1, 2];
    const pred = [0, 1, 1, 1, 0, 0]; // class 2 is never predicted
    expect(perClassRecall(pred, truth)).toEqual(
      new Map([
        [0, 0.5],
        [1, 2 / 3],
        [2, 0],
      ]),
    );
    expect(meanPerClassRecall(pred, truth)).toBeCloseTo((0.5 + 2 / 3 + 0) / 3, 12);
    // a class predicted but absent from the labels (3) does not enter the mean
    expect(meanPerClassRecall([3, 0], [0, 0])).toBe(0.5);
  });
});

describe("retrieval recall@k", () => {
  it("counts a query as a hit when any correct item reaches the top k; ties count against it", () => {
    const scores = m([
      [0.9, 0.8, 0.7, 0.1], // correct {2}: rank 3
      [0.5, 0.5, 0.5, 0.2], // correct {1}: tied with 0 and 2 → 2 wrong items at least as high
      [0.1, 0.2, 0.9, 0.3], // correct {0, 2}: the best one (2) is first
    ]);
    const positives = [[2], [1], [0, 2]];
    expect([...retrievalHits(scores, positives, 1)]).toEqual([0, 0, 1]);
    expect([...retrievalHits(scores, positives, 2)]).toEqual([0, 0, 1]);
    expect([...retrievalHits(scores, positives, 3)]).toEqual([1, 1, 1]);
  });
});
