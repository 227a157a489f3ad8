/**
 * Seeded bootstrap: percentile confidence intervals of a statistic over resampled sample indices, and
 * a paired test of the difference of two statistics computed on the same resamples.
 */
import { InvalidArgumentError } from "../../errors.js";
import { SeededRandom } from "../../util/random.js";

/** A statistic of the samples at the given indices (with repeats). */
export type Statistic = (indices: Int32Array) => number;

export interface BootstrapOptions {
  /** Resamples. Default 1000. */
  resamples?: number;
  /** Seed of the resampling. Default 0. */
  seed?: number;
  /** Coverage of the interval. Default 0.95. */
  level?: number;
}

function resampler(n: number, seed: number) {
  const rng = new SeededRandom(seed);
  const idx = new Int32Array(n);
  return () => {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    return idx;
  };
}

/** The q-quantile of sorted values, linearly interpolated. */
function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Percentile interval [lo, hi] of `stat` over `resamples` bootstrap resamples of n samples. */
export function bootstrapCi(n: number, stat: Statistic, options: BootstrapOptions = {}): [number, number] {
  const { resamples = 1000, seed = 0, level = 0.95 } = options;
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`bootstrapCi: n ${n}; expected ≥ 1`);
  const draw = resampler(n, seed);
  const values: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const v = stat(draw());
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length === 0) return [Number.NaN, Number.NaN];
  values.sort((a, b) => a - b);
  const alpha = (1 - level) / 2;
  return [quantile(values, alpha), quantile(values, 1 - alpha)];
}

export interface PairedBootstrapResult {
  /** statA − statB on all samples. */
  delta: number;
  /** Two-sided p-value of H0: delta = 0. */
  p: number;
}

/**
 * Paired bootstrap test: both statistics are computed on the same resamples; the resampled
 * differences are centred on 0 (the null) and p is the share at least as far from 0 as the observed
 * difference, (1 + count) / (1 + resamples) so it is never 0.
 */
export function pairedBootstrap(
  n: number,
  statA: Statistic,
  statB: Statistic,
  options: BootstrapOptions = {},
): PairedBootstrapResult {
  const { resamples = 1000, seed = 0 } = options;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const delta = statA(all) - statB(all);
  const draw = resampler(n, seed);
  let extreme = 0;
  let counted = 0;
  for (let r = 0; r < resamples; r++) {
    const idx = draw();
    const d = statA(idx) - statB(idx);
    if (!Number.isFinite(d)) continue;
    counted++;
    if (Math.abs(d - delta) >= Math.abs(delta) - 1e-12) extreme++;
  }
  return { delta, p: delta === 0 ? 1 : (1 + extreme) / (1 + counted) };
}
