/** What a fuzzed file format provides to the harness. */
import fs from "node:fs";
import path from "node:path";
import type { FuzzInput, Seed } from "./mutate.js";

export interface FuzzFormat {
  readonly name: string;
  /** What is parsed, in one line (for `--list` and the docs). */
  readonly target: string;
  /** Cases of the short seeded run inside `npm test`. */
  readonly suiteCases: number;
  /** A case running longer than this is a hang. */
  readonly timeoutMs: number;
  /** Writes trusted seed files into `dir` with the project's own writers; runs once per fuzz run. */
  prepare(dir: string): Promise<void>;
  /** The seeds to mutate, read from the prepared `dir`. */
  seeds(dir: string): Promise<Seed[]>;
  /**
   * Parses one mutated input. `work` is the worker's own copy of the prepared directory; a format that
   * writes the input into it restores the original before returning (`withMember`).
   */
  run(input: FuzzInput, work: string): Promise<void>;
}

/** Reads `names` (relative to `dir`) as seeds of one kind. */
export function fileSeeds(dir: string, names: readonly string[], kind: Seed["kind"]): Seed[] {
  return names.map((name) => ({ name, bytes: fs.readFileSync(path.join(dir, name)), kind }));
}

/** Writes `bytes` over `dir/name`, runs `fn`, then puts the original file back. */
export async function withMember<T>(
  dir: string,
  name: string,
  bytes: Uint8Array,
  fn: () => Promise<T>,
): Promise<T> {
  const file = path.join(dir, name);
  const original = fs.readFileSync(file);
  fs.writeFileSync(file, bytes);
  try {
    return await fn();
  } finally {
    fs.writeFileSync(file, original);
  }
}
