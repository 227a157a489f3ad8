/**
 * AdamW (Loshchilov & Hutter; PyTorch's `torch.optim.AdamW` update) over Float32Array parameters,
 * updated in place, with gradient clipping by the global norm. State (m, v, step) can be saved and
 * loaded, so a resumed run continues the same trajectory.
 *
 *   p ← p − lr·λ·p;   m ← β1·m + (1−β1)·g;   v ← β2·v + (1−β2)·g²
 *   p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
 */

import { kindSpec } from "../../adapter/kinds/registry.js";
import type { Adapter } from "../../adapter/kinds/types.js";
import { InvalidArgumentError, ShapeError } from "../../errors.js";

export interface ParamGroup {
  /** Names the parameter in checkpoints and errors. */
  name: string;
  /** Updated in place. */
  data: Float32Array;
  /** Decoupled weight decay λ for this parameter; overrides the optimizer's. */
  weightDecay?: number;
}

export interface AdamWOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay for groups that set none. Default 0.01. */
  weightDecay?: number;
  /** Clip gradients to this global L2 norm; 0 or Infinity turns clipping off. Default 1.0. */
  maxGradNorm?: number;
}

export interface AdamWState {
  /** Optimizer steps taken. */
  step: number;
  /** First moments, one per group, in group order. */
  m: Float32Array[];
  /** Second moments. */
  v: Float32Array[];
}

export interface StepResult {
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
  /** Whether the gradients were scaled down. */
  clipped: boolean;
}

/**
 * The adapter's parameters as optimizer groups, in its kind's parameter order: decay on the weights,
 * none on biases and norm scales (`ParamSpec.decay`).
 */
export function adapterParamGroups(adapter: Adapter): ParamGroup[] {
  const tensors = adapter.toTensors();
  return kindSpec(adapter.kind)
    .params(adapter.inputSize, adapter.outputSize, adapter.factor)
    .map((p) => {
      const t = tensors.get(p.name);
      if (!t) throw new InvalidArgumentError(`the ${adapter.kind} adapter has no parameter "${p.name}"`);
      return p.decay ? { name: p.name, data: t.data } : { name: p.name, data: t.data, weightDecay: 0 };
    });
}

/** A loss result's gradients in `adapterParamGroups` order. */
export function gradientsInOrder(
  groups: readonly ParamGroup[],
  grads: ReadonlyMap<string, Float32Array>,
): Float32Array[] {
  return groups.map((g) => {
    const grad = grads.get(g.name);
    if (!grad) throw new InvalidArgumentError(`no gradient for adapter parameter "${g.name}"`);
    return grad;
  });
}

/** √Σ g² over every buffer, accumulated in float64. */
export function globalNorm(grads: readonly Float32Array[]): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  return Math.sqrt(sum);
}

export class AdamW {
  readonly groups: readonly ParamGroup[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly maxGradNorm: number;
  private m: Float32Array[];
  private v: Float32Array[];
  private t = 0;

  constructor(groups: readonly ParamGroup[], options: AdamWOptions = {}) {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.01, maxGradNorm = 1.0 } = options;
    for (const [name, v] of [
      ["beta1", beta1],
      ["beta2", beta2],
    ] as const) {
      if (!(v >= 0 && v < 1)) throw new InvalidArgumentError(`${name} ${v}; expected a number in [0, 1)`);
    }
    if (!(eps > 0)) throw new InvalidArgumentError(`eps ${eps}; expected a positive number`);
    if (!(weightDecay >= 0)) throw new InvalidArgumentError(`weightDecay ${weightDecay}; expected ≥ 0`);
    if (!(maxGradNorm >= 0)) throw new InvalidArgumentError(`maxGradNorm ${maxGradNorm}; expected ≥ 0`);
    this.groups = groups;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.maxGradNorm = maxGradNorm;
    this.m = groups.map((g) => new Float32Array(g.data.length));
    this.v = groups.map((g) => new Float32Array(g.data.length));
  }

  /** Steps taken so far. */
  get step(): number {
    return this.t;
  }

  /** One update with `grads` (one buffer per group, same lengths) at learning rate `lr`. */
  update(grads: readonly Float32Array[], lr: number): StepResult {
    if (grads.length !== this.groups.length) {
      throw new ShapeError(
        `expected ${this.groups.length} gradient buffers (${this.groups.map((g) => g.name).join(", ")}), got ${grads.length}`,
      );
    }
    for (const [i, g] of grads.entries()) {
      if (g.length !== this.groups[i].data.length) {
        throw new ShapeError(
          `gradient of ${this.groups[i].name} has ${g.length} values, the parameter ${this.groups[i].data.length}`,
        );
      }
    }
    const gradNorm = globalNorm(grads);
    if (!Number.isFinite(gradNorm)) {
      throw new InvalidArgumentError(
        `gradient norm is ${gradNorm}; refusing to update the parameters with non-finite gradients`,
      );
    }
    const clip = this.maxGradNorm > 0 && gradNorm > this.maxGradNorm;
    const scale = clip ? this.maxGradNorm / (gradNorm + 1e-6) : 1;
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    for (const [i, group] of this.groups.entries()) {
      const p = group.data;
      const g = grads[i];
      const m = this.m[i];
      const v = this.v[i];
      const decay = 1 - lr * (group.weightDecay ?? this.weightDecay);
      for (let k = 0; k < p.length; k++) {
        const gk = g[k] * scale;
        m[k] = b1 * m[k] + (1 - b1) * gk;
        v[k] = b2 * v[k] + (1 - b2) * gk * gk;
        p[k] = p[k] * decay - (lr * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + eps);
      }
    }
    return { gradNorm, clipped: clip };
  }

  /** Copies of the moments and the step count. */
  state(): AdamWState {
    return { step: this.t, m: this.m.map((a) => a.slice()), v: this.v.map((a) => a.slice()) };
  }

  /** Restores a saved state; the moment sizes must match the groups. */
  load(state: AdamWState): void {
    for (const [key, list] of [
      ["m", state.m],
      ["v", state.v],
    ] as const) {
      if (
        list.length !== this.groups.length ||
        list.some((a, i) => a.length !== this.groups[i].data.length)
      ) {
        throw new ShapeError(
          `optimizer state ${key} has sizes [${list.map((a) => a.length).join(", ")}], the parameters [${this.groups.map((g) => g.data.length).join(", ")}]`,
        );
      }
    }
    if (!Number.isInteger(state.step) || state.step < 0)
      throw new InvalidArgumentError(`optimizer step ${state.step}; expected an integer ≥ 0`);
    this.t = state.step;
    this.m = state.m.map((a) => a.slice());
    this.v = state.v.map((a) => a.slice());
  }
}
