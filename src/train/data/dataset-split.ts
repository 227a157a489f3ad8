/**
 * The validation split: a seeded hash of each example's group key decides its side, so the split is
 * the same on every run and does not move when rows are added or removed elsewhere in the file. It is
 * decided in one pass with constant memory (`SplitPlan`), so a dataset larger than memory splits the
 * same way as a small one.
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

/** Groups are ordered by (hash, key): the key breaks the (astronomically rare) ties. */
function before(h: number, key: string, other: { h: number; key: string }): boolean {
  return h < other.h || (h === other.h && key < other.key);
}

/** Hashes of recently seen keys (rows of one image repeat its key); cleared when it grows past this. */
const HASH_MEMO_LIMIT = 4096;

/**
 * The split of a stream of examples. Every example is `observe`d once, then `isVal` says its side:
 * a group is held out when its hash is below `valFraction`, except that with 10 or more examples,
 * `valFraction` > 0 and more than one group the validation side holds at least one group (the one
 * with the smallest hash), and training always keeps at least one group (the one with the largest).
 * The state is a few numbers, whatever the number of rows.
 */
export class SplitPlan {
  readonly valFraction: number;
  readonly seed: number;
  readonly splitBy: SplitBy;
  private count = 0;
  private anyHeld = false;
  private anyKept = false;
  private firstKey: string | undefined;
  private manyGroups = false;
  private min: { h: number; key: string } | undefined;
  private max: { h: number; key: string } | undefined;
  private readonly memo = new Map<string, number>();

  constructor(options: SplitOptions = {}) {
    this.valFraction = options.valFraction ?? 0.1;
    this.seed = options.seed ?? 0;
    this.splitBy = options.splitBy ?? "image";
  }

  private keyOf(e: Pick<TrainExample, "id" | "imagePath">): string {
    return this.splitBy === "image" ? e.imagePath : e.id;
  }

  private hash(key: string): number {
    let h = this.memo.get(key);
    if (h === undefined) {
      if (this.memo.size >= HASH_MEMO_LIMIT) this.memo.clear();
      h = splitHash(key, this.seed);
      this.memo.set(key, h);
    }
    return h;
  }

  observe(e: Pick<TrainExample, "id" | "imagePath">): void {
    const key = this.keyOf(e);
    const h = this.hash(key);
    this.count++;
    if (h < this.valFraction) this.anyHeld = true;
    else this.anyKept = true;
    if (this.firstKey === undefined) this.firstKey = key;
    else if (key !== this.firstKey) this.manyGroups = true;
    if (!this.min || before(h, key, this.min)) this.min = { h, key };
    if (!this.max || before(this.max.h, this.max.key, { h, key })) this.max = { h, key };
  }

  /** Whether an observed example belongs to the validation side. */
  isVal(e: Pick<TrainExample, "id" | "imagePath">): boolean {
    const key = this.keyOf(e);
    if (!this.anyHeld) {
      return this.valFraction > 0 && this.count >= 10 && this.manyGroups && key === this.min?.key;
    }
    if (!this.anyKept) return this.manyGroups && key !== this.max?.key;
    return this.hash(key) < this.valFraction;
  }
}

/** Splits examples held in memory into train and validation, exactly as `SplitPlan` does. */
export function splitExamples(
  examples: readonly TrainExample[],
  options: SplitOptions = {},
): { train: TrainExample[]; val: TrainExample[] } {
  const plan = new SplitPlan(options);
  for (const e of examples) plan.observe(e);
  const train: TrainExample[] = [];
  const val: TrainExample[] = [];
  for (const e of examples) (plan.isVal(e) ? val : train).push(e);
  return { train, val };
}
