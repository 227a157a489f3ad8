/**
 * Retrieval recall@k as clip_benchmark counts it: a query is a hit when any of its correct items is
 * among the k best-scoring items. `image_retrieval_recall@k` ranks images for each caption (text →
 * image), `text_retrieval_recall@k` ranks captions for each image (image → text).
 *
 * Ties count against the query, as in `topKHits`: the best correct item is in the top k when fewer
 * than k wrong items score at least as high as it.
 */
import { InvalidArgumentError } from "../../errors.js";
import type { ScoreMatrix } from "./classification.js";

export const RETRIEVAL_KS = [1, 5, 10] as const;

/**
 * 1 for each query (row of `scores`) whose correct items (`positives[q]`, column indices) reach the top
 * k, else 0. [Q, N] → [Q]
 */
export function retrievalHits(
  scores: ScoreMatrix,
  positives: readonly (readonly number[])[],
  k: number,
): Uint8Array {
  if (positives.length !== scores.rows) {
    throw new InvalidArgumentError(
      `retrievalHits: ${positives.length} positive lists for ${scores.rows} queries`,
    );
  }
  const N = scores.cols;
  const hits = new Uint8Array(scores.rows);
  for (let q = 0; q < scores.rows; q++) {
    const row = scores.data.subarray(q * N, (q + 1) * N);
    const correct = new Set(positives[q]);
    if (correct.size === 0) throw new InvalidArgumentError(`retrievalHits: query ${q} has no correct item`);
    let best = Number.NEGATIVE_INFINITY;
    for (const c of correct) best = Math.max(best, row[c]);
    let wrongAbove = 0;
    for (let j = 0; j < N; j++) if (!correct.has(j) && row[j] >= best) wrongAbove++;
    hits[q] = wrongAbove < k ? 1 : 0;
  }
  return hits;
}
