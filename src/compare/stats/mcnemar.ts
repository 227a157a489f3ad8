/**
 * The exact (conditional) McNemar test for two classifiers scored on the same samples: of the n
 * discordant samples (one right, the other wrong), b favour A and c favour B; under H0 b ~ Bin(n, ½),
 * and the two-sided p-value is 2 · P(X ≤ min(b, c)), capped at 1 (1 when b = c).
 */
import { InvalidArgumentError } from "../../errors.js";

export interface McNemarResult {
  /** Samples A got right and B wrong. */
  b: number;
  /** Samples B got right and A wrong. */
  c: number;
  /** Two-sided exact p-value. */
  p: number;
}

/** log C(n, k) by summing logs (exact enough for the sample counts of an evaluation). */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** Two-sided exact McNemar p-value from the discordant counts. */
export function mcnemarExactP(b: number, c: number): number {
  const n = b + c;
  if (n === 0 || b === c) return 1;
  const m = Math.min(b, c);
  let tail = 0;
  for (let k = 0; k <= m; k++) tail += Math.exp(logChoose(n, k) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/** McNemar on per-sample correctness (1 right, 0 wrong) of A and B, sample i of one paired with i of the other. */
export function mcnemar(a: ArrayLike<number>, bCorrect: ArrayLike<number>): McNemarResult {
  if (a.length !== bCorrect.length) {
    throw new InvalidArgumentError(
      `mcnemar: ${a.length} and ${bCorrect.length} samples; expected paired samples`,
    );
  }
  let b = 0;
  let c = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !bCorrect[i]) b++;
    else if (!a[i] && bCorrect[i]) c++;
  }
  return { b, c, p: mcnemarExactP(b, c) };
}
