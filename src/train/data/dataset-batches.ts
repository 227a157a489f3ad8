/**
 * Example order and batching: a seeded shuffle per epoch (the order of epoch e depends only on the
 * seed and e, so a resumed run sees the same order), optimizer steps over it, and gradient
 * accumulation across the examples of one step.
 */
import { InvalidArgumentError, ShapeError } from "../../errors.js";
import { SeededRandom } from "../../util/random.js";

/** A 32-bit seed from (seed, epoch), mixed so that neighbouring epochs get unrelated streams. */
function epochSeed(seed: number, epoch: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return (h ^ (h >>> 15)) >>> 0;
}

/** A new array holding `indices` in the order of (seed, epoch) (Fisher–Yates). */
export function shuffle<T>(indices: readonly T[], seed: number, epoch: number): T[] {
  const out = [...indices];
  const rng = new SeededRandom(epochSeed(seed, epoch));
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface StepOptions {
  /** Examples per optimizer step (gradients of these are averaged). Default 8. */
  batchSize?: number;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /** Passes over the data. Default 1. */
  epochs?: number;
  /** Drop an epoch's last, smaller batch. Default false. */
  dropLast?: boolean;
  /** Where to start (from a checkpoint): the epoch and the number of its examples already used. Default {epoch: 0, position: 0}. */
  from?: { epoch: number; position: number };
}

export interface TrainingStep {
  /** 1-based optimizer step over the whole run. */
  step: number;
  /** 0-based epoch. */
  epoch: number;
  /** Examples of this epoch used once this step is done (what a checkpoint records). */
  position: number;
  /** Indices into the training examples, in order. */
  indices: number[];
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0)
    throw new InvalidArgumentError(`${name} ${v}; expected a positive integer`);
}

export function stepsPerEpoch(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/** Total optimizer steps of a run (what the learning-rate schedule needs). */
export function totalSteps(count: number, options: StepOptions = {}): number {
  const { batchSize = 8, epochs = 1, dropLast = false } = options;
  return epochs * stepsPerEpoch(count, batchSize, dropLast);
}

/** The optimizer steps of a run over `count` examples, resuming at `from` when given. */
export function* trainingSteps(count: number, options: StepOptions = {}): Generator<TrainingStep> {
  const { batchSize = 8, seed = 0, epochs = 1, dropLast = false, from = { epoch: 0, position: 0 } } = options;
  positiveInt("batchSize", batchSize);
  positiveInt("epochs", epochs);
  positiveInt("example count", count);
  const per = stepsPerEpoch(count, batchSize, dropLast);
  if (from.position % batchSize !== 0 && from.position !== count) {
    throw new InvalidArgumentError(
      `resume position ${from.position} is not a multiple of batchSize ${batchSize}; was the checkpoint written with another batch size?`,
    );
  }
  const all = Array.from({ length: count }, (_, i) => i);
  for (let epoch = from.epoch; epoch < epochs; epoch++) {
    const order = shuffle(all, seed, epoch);
    const startStep = epoch === from.epoch ? from.position / batchSize : 0;
    for (let s = Math.ceil(startStep); s < per; s++) {
      const indices = order.slice(s * batchSize, (s + 1) * batchSize);
      yield { step: epoch * per + s + 1, epoch, position: s * batchSize + indices.length, indices };
    }
  }
}

/**
 * Sums gradients of several examples into one buffer per parameter and gives their mean: one
 * optimizer step over a batch processed one example (or micro-batch) at a time.
 */
export class GradientAccumulator {
  readonly sums: Float32Array[];
  private weight = 0;

  constructor(sizes: readonly number[]) {
    this.sums = sizes.map((n) => new Float32Array(n));
  }

  /** Adds one example's gradients; `weight` counts the examples they stand for (a micro-batch mean → its size). Default 1. */
  add(grads: readonly Float32Array[], weight = 1): void {
    if (grads.length !== this.sums.length) {
      throw new ShapeError(`expected ${this.sums.length} gradient buffers, got ${grads.length}`);
    }
    for (const [i, g] of grads.entries()) {
      const sum = this.sums[i];
      if (g.length !== sum.length)
        throw new ShapeError(`gradient ${i} has ${g.length} values, expected ${sum.length}`);
      for (let k = 0; k < g.length; k++) sum[k] += weight * g[k];
    }
    this.weight += weight;
  }

  /** Examples added since the last reset. */
  get count(): number {
    return this.weight;
  }

  /** The weighted mean of what was added, as new arrays. */
  mean(): Float32Array[] {
    if (this.weight === 0) throw new InvalidArgumentError("no gradients were added since the last reset");
    return this.sums.map((s) => s.map((v) => v / this.weight));
  }

  reset(): void {
    for (const s of this.sums) s.fill(0);
    this.weight = 0;
  }
}
