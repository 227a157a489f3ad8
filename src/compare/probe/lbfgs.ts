/**
 * Limited-memory BFGS (Nocedal & Wright, "Numerical Optimization", algorithm 7.4/7.5) with a
 * backtracking Armijo line search: small, deterministic, enough for the smooth convex objective of
 * a linear probe.
 */

/** f(x), with ∇f(x) written into `grad`. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  /** Most iterations. Default 200. */
  maxIterations?: number;
  /** Correction pairs kept. Default 10. */
  memory?: number;
  /** Stop when ‖∇f‖∞ falls below this. Default 1e-6. */
  gradientTolerance?: number;
  /** Stop when f improves by less than this (relative). Default 1e-10. */
  valueTolerance?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Minimizes `f` from `x0` (not modified). */
export function lbfgs(f: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const { maxIterations = 200, memory = 10, gradientTolerance = 1e-6, valueTolerance = 1e-10 } = options;
  const n = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let fx = f(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(n);
  const alpha = new Array<number>(memory);
  for (let iter = 0; iter < maxIterations; iter++) {
    if (maxAbs(g) < gradientTolerance) return { x, value: fx, iterations: iter, converged: true };
    // Two-loop recursion: dir = −H·g
    for (let i = 0; i < n; i++) dir[i] = -g[i];
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(S[k], dir);
      for (let i = 0; i < n; i++) dir[i] -= alpha[k] * Y[k][i];
    }
    const gamma =
      S.length > 0
        ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1])
        : 1 / Math.max(1, maxAbs(g));
    for (let i = 0; i < n; i++) dir[i] *= gamma;
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k] * dot(Y[k], dir);
      for (let i = 0; i < n; i++) dir[i] += S[k][i] * (alpha[k] - beta);
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction (curvature lost): restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      for (let i = 0; i < n; i++) dir[i] = -g[i] / Math.max(1, maxAbs(g));
      slope = dot(g, dir);
    }
    // Backtracking line search with the Armijo condition.
    let step = 1;
    const xNew = new Float64Array(n);
    const gNew = new Float64Array(n);
    let fNew = Number.POSITIVE_INFINITY;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i] + step * dir[i];
      fNew = f(xNew, gNew);
      if (Number.isFinite(fNew) && fNew <= fx + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew < fx))
      return { x, value: fx, iterations: iter, converged: maxAbs(g) < gradientTolerance * 100 };
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      y[i] = gNew[i] - g[i];
    }
    const sy = dot(s, y);
    if (sy > 1e-12) {
      if (S.length === memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const improvement = (fx - fNew) / Math.max(1, Math.abs(fx));
    x = xNew;
    g = gNew;
    fx = fNew;
    if (improvement < valueTolerance) return { x, value: fx, iterations: iter + 1, converged: true };
  }
  return { x, value: fx, iterations: maxIterations, converged: maxAbs(g) < gradientTolerance };
}
