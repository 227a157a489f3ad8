/**
 * The non-trainable half of the merging kinds as graph nodes: patch features [N, Dv] → merged tokens
 * [M, tokenWidth], by gathering each block's patches (`blockIndex`) from the features with a zero row
 * appended (row N, what missing slots point at), then
 *   pixel-shuffle: concatenating the block's r² vectors → [M, r²·Dv]
 *   avgpool:       summing them and multiplying by 1 / (patches present) → [M, Dv]
 * The adapter's `apply` graph and the trainer's merge step (which merges each image once and feeds the
 * loss graph merged tokens) are both built from `mergeTokens`.
 */
import * as ort from "onnxruntime-node";
import { ShapeError } from "../../errors.js";
import { Graph, serializeModel, type Value } from "../../graph/index.js";
import { createOnnxSession, type OnnxSessionOptions } from "../../runtime/onnx-session.js";
import { assertDims, type Tensor, tensor } from "../../tensor.js";
import { blockIndex } from "./token-grid.js";
import type { AdapterKindName, Grid, KindSpec } from "./types.js";

export const MERGE_INDEX = "merge_index";
export const MERGE_INVERSE_COUNT = "merge_inverse_count";

/** Appends the merge of `kind` to `g`: features [N, Dv] → [M, tokenWidth]; adds its own index inputs. */
export function mergeTokens(g: Graph, kind: AdapterKindName, features: Value, factor: number): Value {
  const dv = features.shape[1] as number;
  const slots = factor * factor;
  const index = g.input(MERGE_INDEX, "int64", ["m", slots]);
  const zeroRow = g.constant("float32", new Float32Array(dv), [1, dv]);
  const padded = g.concat([features, zeroRow], 0); // [N + 1, Dv]
  const blocks = g.gather(padded, index, 0); // [M, f², Dv]
  if (kind === "pixel-shuffle") return g.reshape(blocks, [-1, slots * dv]); // [M, f²·Dv]
  const inverseCount = g.input(MERGE_INVERSE_COUNT, "float32", ["m", 1]);
  return g.mul(g.reduceSum(blocks, [1], false), inverseCount); // [M, Dv]
}

/** The feeds `mergeTokens` adds, for one image on `grid`. */
export function mergeFeeds(kind: AdapterKindName, grid: Grid, factor: number): Record<string, ort.Tensor> {
  const { index, inverseCount } = blockIndex(grid, factor);
  const m = inverseCount.length;
  const feeds: Record<string, ort.Tensor> = {
    [MERGE_INDEX]: new ort.Tensor("int64", index, [m, factor * factor]),
  };
  if (kind === "avgpool") feeds[MERGE_INVERSE_COUNT] = new ort.Tensor("float32", inverseCount, [m, 1]);
  return feeds;
}

/** Checks that `features` [N, Dv] fit `grid` (rows · cols = N). */
export function checkGridFeatures(features: Tensor, grid: Grid | undefined, dv: number, what: string): Grid {
  assertDims(features, ["N", dv], `${what} input (Dv = ${dv})`);
  if (!grid) {
    throw new ShapeError(`${what} merges patches on the grid and needs the image's patch grid`);
  }
  if (grid.rows * grid.cols !== features.dims[0]) {
    throw new ShapeError(
      `${what}: the patch grid ${grid.rows}×${grid.cols} has ${grid.rows * grid.cols} patches but the features have ${features.dims[0]} rows`,
    );
  }
  return grid;
}

/**
 * Merges patch features into tokens for training (the features are frozen, so each image is merged
 * once): one session per (kind, factor, Dv), owned here and released by `dispose`.
 */
export class TokenMerger {
  #session: Promise<ort.InferenceSession> | undefined;

  constructor(
    readonly spec: KindSpec,
    readonly factor: number,
    readonly inputSize: number,
    private readonly sessionOptions: OnnxSessionOptions = {},
  ) {}

  /** [N, Dv] on `grid` → [M, tokenWidth]; kinds that do not merge return the features unchanged. */
  async merge(features: Tensor, grid: Grid): Promise<Tensor> {
    if (!this.spec.merges) return features;
    const what = `the ${this.spec.name} merge`;
    checkGridFeatures(features, grid, this.inputSize, what);
    this.#session ??= this.#open(what);
    const out = await (await this.#session).run({
      x: new ort.Tensor("float32", features.data, features.dims),
      ...mergeFeeds(this.spec.name, grid, this.factor),
    });
    const y = out.y;
    return tensor(y.data as Float32Array, y.dims as number[]);
  }

  #open(what: string): Promise<ort.InferenceSession> {
    const g = new Graph("token_merge");
    const x = g.input("x", "float32", ["n", this.inputSize]);
    g.output(mergeTokens(g, this.spec.name, x, this.factor), "y");
    const session = createOnnxSession(serializeModel(g), this.sessionOptions, what);
    session.catch(() => {
      if (this.#session === session) this.#session = undefined;
    });
    return session;
  }

  async dispose(): Promise<void> {
    const session = await this.#session?.catch(() => undefined);
    this.#session = undefined;
    await session?.release();
  }
}
