/**
 * Multinomial logistic regression on frozen features, fitted with L-BFGS:
 *
 *   loss(W, b) = −(1/N) Σᵢ log softmax(W·xᵢ + b)[yᵢ] + (λ/2)‖W‖²      (no decay on b)
 *
 * Features are standardized with the training mean and standard deviation first.
 */
import { InvalidArgumentError } from "../../errors.js";
import { lbfgs } from "./lbfgs.js";

export interface LogisticModel {
  classes: number;
  dims: number;
  /** [C, D+1]: row c holds W_c then b_c. */
  params: Float64Array;
  mean: Float64Array;
  std: Float64Array;
}

export interface FitOptions {
  /** λ, the L2 weight decay on W. */
  weightDecay: number;
  /** L-BFGS iterations. Default 200. */
  maxIterations?: number;
}

/** Rows → one standardized [N, D] matrix, with the mean and std it used. */
function standardize(rows: readonly Float32Array[], mean?: Float64Array, std?: Float64Array) {
  const N = rows.length;
  const D = rows[0].length;
  if (!mean || !std) {
    mean = new Float64Array(D);
    std = new Float64Array(D);
    for (const r of rows) for (let d = 0; d < D; d++) mean[d] += r[d] / N;
    for (const r of rows) for (let d = 0; d < D; d++) std[d] += (r[d] - mean[d]) ** 2 / N;
    for (let d = 0; d < D; d++) std[d] = Math.sqrt(std[d]) || 1;
  }
  const X = new Float64Array(N * D);
  for (let i = 0; i < N; i++) {
    if (rows[i].length !== D)
      throw new InvalidArgumentError(`feature ${i} has width ${rows[i].length}; expected ${D}`);
    for (let d = 0; d < D; d++) X[i * D + d] = (rows[i][d] - mean[d]) / std[d];
  }
  return { X, mean, std, N, D };
}

/** Class logits of standardized rows. [N, D] → [N, C] */
function logits(X: Float64Array, N: number, D: number, C: number, params: Float64Array): Float64Array {
  const Z = new Float64Array(N * C);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const w = c * (D + 1);
      let z = params[w + D];
      for (let d = 0; d < D; d++) z += params[w + d] * X[i * D + d];
      Z[i * C + c] = z;
    }
  }
  return Z;
}

/** The loss above and its gradient with respect to `params` (exported for the gradient check). */
export function logisticLoss(
  X: Float64Array,
  labels: readonly number[],
  C: number,
  weightDecay: number,
  params: Float64Array,
  grad: Float64Array,
): number {
  const N = labels.length;
  const D = X.length / N;
  const Z = logits(X, N, D, C, params);
  grad.fill(0);
  let loss = 0;
  const p = new Float64Array(C);
  for (let i = 0; i < N; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < C; c++) max = Math.max(max, Z[i * C + c]);
    let sum = 0;
    for (let c = 0; c < C; c++) {
      p[c] = Math.exp(Z[i * C + c] - max);
      sum += p[c];
    }
    loss -= (Z[i * C + labels[i]] - max - Math.log(sum)) / N;
    for (let c = 0; c < C; c++) {
      const r = (p[c] / sum - (c === labels[i] ? 1 : 0)) / N; // ∂loss/∂z_ic
      if (r === 0) continue;
      const w = c * (D + 1);
      for (let d = 0; d < D; d++) grad[w + d] += r * X[i * D + d];
      grad[w + D] += r;
    }
  }
  for (let c = 0; c < C; c++) {
    for (let d = 0; d < D; d++) {
      const k = c * (D + 1) + d;
      loss += 0.5 * weightDecay * params[k] * params[k];
      grad[k] += weightDecay * params[k];
    }
  }
  return loss;
}

/** Fits the model on features and labels in [0, classes). */
export function fitLogistic(
  features: readonly Float32Array[],
  labels: readonly number[],
  classes: number,
  options: FitOptions,
): LogisticModel {
  if (features.length === 0 || features.length !== labels.length) {
    throw new InvalidArgumentError(`fitLogistic: ${features.length} features and ${labels.length} labels`);
  }
  const { X, mean, std, D } = standardize(features);
  const params = new Float64Array(classes * (D + 1));
  const result = lbfgs((w, g) => logisticLoss(X, labels, classes, options.weightDecay, w, g), params, {
    maxIterations: options.maxIterations ?? 200,
  });
  return { classes, dims: D, params: result.x, mean, std };
}

/** Class scores (logits) of new features. [N, D] → [N, C] */
export function predictLogits(model: LogisticModel, features: readonly Float32Array[]): Float64Array {
  const { X, N, D } = standardize(features, model.mean, model.std);
  return logits(X, N, D, model.classes, model.params);
}
