/** Maps a segment-level prompt plan to token positions once each segment's token count is known. */
import { InvalidArgumentError } from "../errors.js";
import type { PromptPlan, TrainingLayout } from "./types.js";

/** Token positions `start` (inclusive) to `end` (exclusive). */
export interface TokenRange {
  start: number;
  end: number;
}

export interface TokenLayout {
  /** Total number of positions (tokens + image embeddings). */
  length: number;
  /** Position of the first token of each segment. */
  segmentStarts: number[];
  /** Position ranges to decode with non-causal attention, in order. */
  bidirectional: TokenRange[];
  /** First position the model produces. */
  generationStart: number;
  /**
   * Training layouts only: positions whose token is a target. The logits at position p − 1 predict the
   * token at p, so the loss reads logits at `labels.start − 1 … labels.end − 2`.
   */
  labels?: TokenRange;
}

/**
 * `tokenCounts[i]` is the number of tokens segment i became (for image segments it must equal
 * `segment.tokens`).
 */
export function resolveTokenLayout(
  plan: PromptPlan | TrainingLayout,
  tokenCounts: readonly number[],
): TokenLayout {
  if (tokenCounts.length !== plan.segments.length) {
    throw new InvalidArgumentError(
      `tokenCounts has ${tokenCounts.length} entries but the prompt has ${plan.segments.length} segments`,
    );
  }
  const segmentStarts: number[] = [];
  let at = 0;
  plan.segments.forEach((segment, i) => {
    const n = tokenCounts[i];
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`tokenCounts[${i}] must be a non-negative integer, got ${n}`);
    if (segment.kind === "image" && n !== segment.tokens) {
      throw new InvalidArgumentError(
        `tokenCounts[${i}] is ${n} but image segment ${i} holds ${segment.tokens} embeddings`,
      );
    }
    segmentStarts.push(at);
    at += n;
  });
  const pos = (segment: number) => (segment < segmentStarts.length ? segmentStarts[segment] : at);
  const layout: TokenLayout = {
    length: at,
    segmentStarts,
    bidirectional: plan.bidirectional.map((r) => ({ start: pos(r.start), end: pos(r.end) })),
    generationStart: pos(plan.generationStart),
  };
  if ("labels" in plan) layout.labels = { start: pos(plan.labels.start), end: pos(plan.labels.end) };
  return layout;
}
