/**
 * The adapter kinds by their card name: the spec of each, and making an adapter of a kind from fresh
 * (seeded) weights or from saved tensors. `linear` is `LinearAdapter`; the others are `ProjectorAdapter`s.
 */
import { InvalidArgumentError, ModelFormatError } from "../../errors.js";
import type { OnnxSessionOptions } from "../../runtime/onnx-session.js";
import type { Tensor } from "../../tensor.js";
import { LinearAdapter } from "../linear-adapter.js";
import { avgpoolKind } from "./avgpool.js";
import { linearKind } from "./linear.js";
import { mlpKind } from "./mlp.js";
import { pixelShuffleKind } from "./pixel-shuffle.js";
import { ProjectorAdapter } from "./projector-adapter.js";
import {
  ADAPTER_KINDS,
  type Adapter,
  type AdapterKindName,
  type KindInitOptions,
  type KindSpec,
} from "./types.js";

const SPECS: Record<AdapterKindName, KindSpec> = {
  linear: linearKind,
  mlp: mlpKind,
  "pixel-shuffle": pixelShuffleKind,
  avgpool: avgpoolKind,
};

/** Default merge factor of each kind: 1 for the per-patch kinds, 2 for pixel-shuffle, 4 for avgpool (Gemma 3's). */
export const DEFAULT_FACTOR: Record<AdapterKindName, number> = {
  linear: 1,
  mlp: 1,
  "pixel-shuffle": 2,
  avgpool: 4,
};

export function isAdapterKind(name: string): name is AdapterKindName {
  return (ADAPTER_KINDS as readonly string[]).includes(name);
}

/** The spec of `name`; an unknown kind is an `InvalidArgumentError` listing the kinds. */
export function kindSpec(name: string): KindSpec {
  if (!isAdapterKind(name)) {
    throw new InvalidArgumentError(
      `unknown adapter kind "${name}"; the kinds are ${ADAPTER_KINDS.join(", ")}`,
    );
  }
  return SPECS[name];
}

/**
 * The reason `factor` does not suit `kind`, or undefined when it does: the merging kinds take an
 * integer ≥ 2, the per-patch kinds exactly 1.
 */
export function factorProblem(kind: AdapterKindName, factor: number): string | undefined {
  if (SPECS[kind].merges) {
    return Number.isInteger(factor) && factor >= 2
      ? undefined
      : `a ${kind} adapter merges f×f patches and needs an integer factor ≥ 2, got ${factor}`;
  }
  return factor === 1
    ? undefined
    : `a ${kind} adapter maps each patch and has no pool factor (1), got ${factor}`;
}

function checkFactor(kind: AdapterKindName, factor: number): void {
  const problem = factorProblem(kind, factor);
  if (problem) throw new InvalidArgumentError(problem);
}

/** A fresh adapter of `kind` with seeded weights (`KindSpec.init`). */
export function initAdapter(kind: string, options: KindInitOptions): Adapter {
  const spec = kindSpec(kind);
  checkFactor(spec.name, options.factor);
  return fromParams(
    spec,
    options.factor,
    spec.init(options),
    options.inputSize,
    options.outputSize,
    "initAdapter",
  );
}

/**
 * An adapter of `kind` from the tensors of `adapter.safetensors` (or a checkpoint); `source` names the
 * file in errors. Dv and Dl are read from the tensors.
 */
export function adapterFromTensors(
  kind: string,
  factor: number,
  tensors: ReadonlyMap<string, Tensor>,
  source: string,
  sessionOptions: OnnxSessionOptions = {},
): Adapter {
  const spec = kindSpec(kind);
  const problem = factorProblem(spec.name, factor);
  if (problem) throw new ModelFormatError(`${source}: ${problem}`);
  if (spec.name === "linear") return LinearAdapter.fromTensors(tensors, source, sessionOptions);
  // The first parameter that is a weight is [Dl, tokenWidth]; Dv follows from the token width.
  const weight = spec.params(1, 1, factor).find((p) => p.dims.length === 2);
  const w = weight ? tensors.get(weight.name) : undefined;
  if (!weight || !w || w.dims.length !== 2) {
    const names = [...tensors.keys()].join(", ") || "none";
    throw new ModelFormatError(
      `${source}: a ${kind} adapter needs "${weight?.name}" [Dl, in]; it holds: ${names}`,
    );
  }
  const perDv = spec.tokenWidth(1, factor);
  if (w.dims[1] % perDv !== 0) {
    throw new ModelFormatError(
      `${source}: ${weight.name} is [${w.dims.join(", ")}]; its second dim must be a multiple of ${perDv}`,
    );
  }
  return new ProjectorAdapter(spec, factor, tensors, w.dims[1] / perDv, w.dims[0], source, sessionOptions);
}

function fromParams(
  spec: KindSpec,
  factor: number,
  params: ReadonlyMap<string, Tensor>,
  dv: number,
  dl: number,
  source: string,
): Adapter {
  if (spec.name === "linear") return LinearAdapter.fromTensors(params, source);
  return new ProjectorAdapter(spec, factor, params, dv, dl, source);
}

/** Merged tokens per image of `kind` for a fixed-resolution encoder with `side`×`side` patches. */
export { tokensPerImage } from "./token-grid.js";
