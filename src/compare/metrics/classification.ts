/**
 * Classification metrics with clip_benchmark's names: `acc1`, `acc5` (top-k accuracy) and
 * `mean_per_class_recall` (balanced accuracy: the mean over classes present in the labels of the share
 * of each class predicted correctly; a class never predicted has recall 0).
 *
 * Ties count against the sample: the true class is in the top k when fewer than k other classes
 * score at least as high, so an encoder whose scores are all equal never gets credit by the order
 * classes happen to be listed in. With fewer than k classes, top-k is top-(number of classes).
 */
import { InvalidArgumentError } from "../../errors.js";

/** Scores of N samples over C classes, row-major: [N, C]. */
export interface ScoreMatrix {
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
}

/** 1 where the true class of a sample is within the top k of its scores, else 0. [N, C] → [N] */
export function topKHits(scores: ScoreMatrix, labels: readonly number[], k: number): Uint8Array {
  if (labels.length !== scores.rows) {
    throw new InvalidArgumentError(`topKHits: ${labels.length} labels for ${scores.rows} score rows`);
  }
  if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError(`topKHits: k ${k}; expected ≥ 1`);
  const C = scores.cols;
  const kk = Math.min(k, C);
  const hits = new Uint8Array(scores.rows);
  for (let i = 0; i < scores.rows; i++) {
    const row = scores.data.subarray(i * C, (i + 1) * C);
    const truth = row[labels[i]];
    let atLeast = 0; // other classes scoring ≥ the true one
    for (let c = 0; c < C; c++) if (c !== labels[i] && row[c] >= truth) atLeast++;
    hits[i] = atLeast < kk ? 1 : 0;
  }
  return hits;
}

/** The highest-scoring class of each sample (the lowest index among equal scores). [N, C] → [N] */
export function argmaxRows(scores: ScoreMatrix): number[] {
  const out: number[] = [];
  for (let i = 0; i < scores.rows; i++) {
    let best = 0;
    for (let c = 1; c < scores.cols; c++) {
      if (scores.data[i * scores.cols + c] > scores.data[i * scores.cols + best]) best = c;
    }
    out.push(best);
  }
  return out;
}

/** Mean of 0/1 values over the given sample indices (all when omitted). */
export function meanOf(values: ArrayLike<number>, indices?: ArrayLike<number>): number {
  const n = indices ? indices.length : values.length;
  if (n === 0) return Number.NaN;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += values[indices ? indices[j] : j];
  return sum / n;
}

/**
 * Recall of each class over the given samples: `[class, recall]` for every class that occurs in
 * `labels`; a class that is never predicted has recall 0.
 */
export function perClassRecall(
  predicted: readonly number[],
  labels: readonly number[],
  indices?: ArrayLike<number>,
): Map<number, number> {
  const total = new Map<number, number>();
  const right = new Map<number, number>();
  const n = indices ? indices.length : labels.length;
  for (let j = 0; j < n; j++) {
    const i = indices ? indices[j] : j;
    total.set(labels[i], (total.get(labels[i]) ?? 0) + 1);
    if (predicted[i] === labels[i]) right.set(labels[i], (right.get(labels[i]) ?? 0) + 1);
  }
  const out = new Map<number, number>();
  for (const [c, t] of [...total].sort((a, b) => a[0] - b[0])) out.set(c, (right.get(c) ?? 0) / t);
  return out;
}

/** Mean over the classes present in `labels` of their recall (sklearn's balanced accuracy). */
export function meanPerClassRecall(
  predicted: readonly number[],
  labels: readonly number[],
  indices?: ArrayLike<number>,
): number {
  const recalls = [...perClassRecall(predicted, labels, indices).values()];
  return recalls.length === 0 ? Number.NaN : recalls.reduce((a, b) => a + b, 0) / recalls.length;
}
