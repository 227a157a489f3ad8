/**
 * Learning rate per optimizer step: linear warmup, then cosine decay to a floor.
 *
 *   t ≤ W:      lr · t / W
 *   t > W:      lr_min + (lr − lr_min) · ½(1 + cos(π · (t − W − 1) / (T − W − 1))),  lr_min = lr · minLrRatio
 *
 * with t the 1-based step, W the warmup steps and T the total: the first step after warmup runs at
 * the full rate and the last at the floor. The floor (10 % by default) keeps the adapter learning
 * in the last steps instead of stopping dead.
 */
import { InvalidArgumentError } from "../../errors.js";

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Optimizer steps in the whole run. */
  totalSteps: number;
  /** Linear warmup steps. Default round(5 % of totalSteps), at least 1 when totalSteps ≥ 20. */
  warmupSteps?: number;
  /** Floor of the cosine as a share of `lr`. Default 0.1. */
  minLrRatio?: number;
}

export function defaultWarmupSteps(totalSteps: number): number {
  return Math.round(totalSteps * 0.05);
}

/** The learning rate at `step` (1-based); steps past the end stay at the floor. */
export function learningRate(step: number, options: ScheduleOptions): number {
  const { lr, totalSteps, minLrRatio = 0.1 } = options;
  const warmup = options.warmupSteps ?? defaultWarmupSteps(totalSteps);
  if (!(lr > 0) || !Number.isFinite(lr))
    throw new InvalidArgumentError(`lr ${lr}; expected a positive number`);
  if (!Number.isInteger(totalSteps) || totalSteps <= 0) {
    throw new InvalidArgumentError(`totalSteps ${totalSteps}; expected a positive integer`);
  }
  if (!Number.isInteger(warmup) || warmup < 0 || warmup > totalSteps) {
    throw new InvalidArgumentError(`warmupSteps ${warmup}; expected an integer in [0, ${totalSteps}]`);
  }
  if (!(minLrRatio >= 0 && minLrRatio <= 1)) {
    throw new InvalidArgumentError(`minLrRatio ${minLrRatio}; expected a number in [0, 1]`);
  }
  if (!Number.isInteger(step) || step < 1)
    throw new InvalidArgumentError(`step ${step}; expected an integer ≥ 1`);
  if (step <= warmup) return (lr * step) / warmup;
  const span = totalSteps - warmup - 1;
  const progress = span > 0 ? Math.min(1, (step - warmup - 1) / span) : 0;
  const floor = lr * minLrRatio;
  return floor + (lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
