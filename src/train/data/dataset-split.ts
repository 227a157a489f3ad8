/**
 * The validation split: a seeded hash of each example's group key decides its side, so the split is
 * the same on every run and does not move when rows are added or removed elsewhere in the file.
 */
import crypto from "node:crypto";
import type { TrainExample } from "./dataset-rows.js";

/**
 * What keeps examples together on one side: `"image"` (default) puts every question about one image on
 * the same side, so validation measures images never seen in training; `"id"` splits row by row.
 */
export type SplitBy = "image" | "id";

/** A number in [0, 1) from sha256(seed, key): stable across runs and platforms. */
export function splitHash(key: string, seed: number): number {
  const digest = crypto.createHash("sha256").update(`${seed}\0${key}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

export interface SplitOptions {
  /** Share of groups held out. Default 0.1. */
  valFraction?: number;
  /** Seed of the hash. Default 0. */
  seed?: number;
  /** Default "image". */
  splitBy?: SplitBy;
}

/**
 * Splits examples into train and validation. With 10 or more examples and `valFraction` > 0 the
 * validation side holds at least one group (the one with the smallest hash), and training keeps at
 * least one.
 */
export function splitExamples(
  examples: readonly TrainExample[],
  options: SplitOptions = {},
): { train: TrainExample[]; val: TrainExample[] } {
  const { valFraction = 0.1, seed = 0, splitBy = "image" } = options;
  const keyOf = (e: TrainExample) => (splitBy === "image" ? e.imagePath : e.id);
  const hashes = new Map<string, number>();
  for (const e of examples) if (!hashes.has(keyOf(e))) hashes.set(keyOf(e), splitHash(keyOf(e), seed));
  const held = new Set([...hashes].filter(([, h]) => h < valFraction).map(([k]) => k));
  const sorted = [...hashes].sort((a, b) => a[1] - b[1]);
  if (valFraction > 0 && held.size === 0 && examples.length >= 10) held.add(sorted[0][0]);
  if (held.size === hashes.size && hashes.size > 1) held.delete(sorted[sorted.length - 1][0]);
  const train: TrainExample[] = [];
  const val: TrainExample[] = [];
  for (const e of examples) (held.has(keyOf(e)) ? val : train).push(e);
  return { train, val };
}
