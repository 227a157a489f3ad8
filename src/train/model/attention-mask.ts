/**
 * The additive attention mask [T, T] the training graph takes, built in JS from the prompt layout's
 * bidirectional ranges. It reproduces what llama.cpp computes when each range is decoded as one
 * non-causal batch and everything else causally: a query in a range sees every earlier position and
 * the whole range; any other query sees positions up to itself. One list covers all three modes:
 * causal (no ranges), Gemma 3's bidirectional image blocks (one range per image), and PaliGemma's
 * prefix-LM (one range over image + prefix). Sliding windows are applied inside the graph.
 */
import { InvalidArgumentError } from "../../errors.js";
import type { TokenRange } from "../../prompt/token-layout.js";

/**
 * Added to the scores of masked keys. Finite, so that a row with every key masked stays finite and
 * two masks can be added; exp(−1e9 + s) is 0 in float32 for any realistic score s.
 */
export const MASKED = -1e9;

export interface AttentionMaskOptions {
  /** Real positions; rows and columns `length … size−1` are padding. */
  length: number;
  /** T, the graph's fixed length (a bucket ≥ length). Default `length`. */
  size?: number;
  /** Ranges with bidirectional attention, ordered and disjoint (`TokenLayout.bidirectional`). Default []. */
  bidirectional?: readonly TokenRange[];
}

/**
 * Row-major [size, size]: 0 where query row may attend to key column, `MASKED` elsewhere. Padding
 * queries attend only to themselves and no real query attends to padding, so padding changes nothing.
 */
export function attentionMask(options: AttentionMaskOptions): Float32Array {
  const { length } = options;
  const size = options.size ?? length;
  if (!Number.isInteger(length) || length < 1 || !Number.isInteger(size) || size < length) {
    throw new InvalidArgumentError(
      `attention mask: length ${length} and size ${size} must be integers with 1 ≤ length ≤ size`,
    );
  }
  // rangeEnd[q]: the end of the bidirectional range holding q, or q + 1 (causal).
  const rangeEnd = Int32Array.from({ length }, (_, q) => q + 1);
  let last = 0;
  for (const r of options.bidirectional ?? []) {
    if (
      !Number.isInteger(r.start) ||
      !Number.isInteger(r.end) ||
      r.start < last ||
      r.end > length ||
      r.start > r.end
    ) {
      throw new InvalidArgumentError(
        `attention mask: bidirectional range [${r.start}, ${r.end}) must be ordered, disjoint and within [0, ${length})`,
      );
    }
    for (let q = r.start; q < r.end; q++) rangeEnd[q] = r.end;
    last = r.end;
  }
  const mask = new Float32Array(size * size).fill(MASKED);
  for (let q = 0; q < length; q++) mask.fill(0, q * size, q * size + rangeEnd[q]);
  for (let q = length; q < size; q++) mask[q * size + q] = 0;
  return mask;
}
