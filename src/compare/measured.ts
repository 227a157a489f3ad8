/**
 * What a task measures for one encoder: each figure with what the statistics need — per-sample
 * correctness for accuracies (bootstrap interval, exact McNemar between encoders), a statistic over
 * resampled samples for recalls (bootstrap interval, paired bootstrap), nothing for the rest.
 */
import { meanOf } from "./metrics/classification.js";
import type { Statistic } from "./stats/bootstrap.js";
import type { TaskName } from "./types.js";

export type PairedTest = { kind: "mcnemar"; correct: Uint8Array } | { kind: "bootstrap"; stat: Statistic };

export interface Measured {
  metric: string;
  value: number;
  n: number;
  /** Sample identities in order (image keys, query ids): pairs are compared only on equal lists. */
  keys?: readonly string[];
  test?: PairedTest;
}

/** The outcome of a classification task, kept for the report (per-class recall, disagreements). */
export interface Predictions {
  classes: readonly string[];
  keys: readonly string[];
  imagePaths: readonly string[];
  truth: readonly number[];
  predicted: readonly number[];
}

export interface TaskOutput {
  task: TaskName;
  metrics: Measured[];
  predictions?: Predictions;
}

export function accuracyFigure(metric: string, correct: Uint8Array, keys: readonly string[]): Measured {
  return { metric, value: meanOf(correct), n: correct.length, keys, test: { kind: "mcnemar", correct } };
}

export function recallFigure(metric: string, stat: Statistic, keys: readonly string[]): Measured {
  const all = Int32Array.from({ length: keys.length }, (_, i) => i);
  return { metric, value: stat(all), n: keys.length, keys, test: { kind: "bootstrap", stat } };
}

export function plainFigure(metric: string, value: number, n: number): Measured {
  return { metric, value, n };
}
