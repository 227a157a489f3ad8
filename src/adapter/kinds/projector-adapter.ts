/**
 * An adapter of the kinds beyond `linear` (mlp, pixel-shuffle, avgpool): its parameters by safetensors
 * name and its kind's spec. `apply` runs one onnxruntime graph, merge (`mergeTokens`) → the kind's head,
 * with the parameters fed as inputs; the adapter owns that session and `dispose` releases it.
 */
import * as ort from "onnxruntime-node";
import { DisposedError, ModelFormatError } from "../../errors.js";
import { Graph, serializeModel, type Value } from "../../graph/index.js";
import { createOnnxSession, type OnnxSessionOptions } from "../../runtime/onnx-session.js";
import { assertDims, type Tensor, tensor } from "../../tensor.js";
import { checkGridFeatures, mergeFeeds, mergeTokens } from "./merge.js";
import { mergedGrid } from "./token-grid.js";
import type { Adapter, Grid, KindSpec } from "./types.js";

export class ProjectorAdapter implements Adapter {
  readonly #params: Map<string, Tensor>;
  #session: Promise<ort.InferenceSession> | undefined;
  #disposed = false;

  /**
   * `params` must hold exactly the kind's parameters (`spec.params`) with their dims; `source` names
   * where they came from in the `ModelFormatError` otherwise.
   */
  constructor(
    readonly spec: KindSpec,
    readonly factor: number,
    params: ReadonlyMap<string, Tensor>,
    readonly inputSize: number,
    readonly outputSize: number,
    source = `${spec.name} adapter`,
    private readonly sessionOptions: OnnxSessionOptions = {},
  ) {
    const expected = spec.params(inputSize, outputSize, factor);
    const names = [...params.keys()].join(", ") || "none";
    if (params.size !== expected.length || expected.some((p) => !params.has(p.name))) {
      throw new ModelFormatError(
        `${source}: a ${spec.name} adapter holds ${expected.map((p) => p.name).join(", ")}; it holds: ${names}`,
      );
    }
    for (const p of expected) {
      try {
        assertDims(params.get(p.name) as Tensor, p.dims, p.name);
      } catch (cause) {
        throw new ModelFormatError(`${source}: ${(cause as Error).message}`, { cause });
      }
    }
    this.#params = new Map(expected.map((p) => [p.name, params.get(p.name) as Tensor]));
  }

  get kind() {
    return this.spec.name;
  }

  toTensors(): Map<string, Tensor> {
    return new Map(this.#params);
  }

  /** [N, Dv] on `grid` → [M, Dl]. Throws `DisposedError` after `dispose`. */
  async apply(features: Tensor, grid?: Grid): Promise<Tensor> {
    if (this.#disposed) throw new DisposedError(`${this.kind} adapter`);
    const dv = this.inputSize;
    const what = `the ${this.kind} adapter`;
    let feeds: Record<string, ort.Tensor> = {};
    let m: number;
    if (this.spec.merges) {
      const g = checkGridFeatures(features, grid, dv, what);
      feeds = mergeFeeds(this.kind, g, this.factor);
      const merged = mergedGrid(g, this.factor);
      m = merged.rows * merged.cols;
    } else {
      assertDims(features, ["N", dv], `${what} input (Dv = ${dv})`);
      m = features.dims[0];
      if (m === 0) return tensor(new Float32Array(0), [0, this.outputSize]);
    }
    this.#session ??= this.#open(what);
    const session = await this.#session;
    for (const [name, t] of this.#params) feeds[`param.${name}`] = new ort.Tensor("float32", t.data, t.dims);
    feeds.x = new ort.Tensor("float32", features.data, features.dims);
    const out = await session.run(feeds);
    return tensor(out.y.data as Float32Array, [m, this.outputSize]);
  }

  /** Releases the session; `apply` throws `DisposedError` afterwards. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const session = await this.#session?.catch(() => undefined);
    this.#session = undefined;
    await session?.release();
  }

  /** features [N, Dv] (+ merge inputs) and the parameters as inputs → y [M, Dl]. */
  #open(what: string): Promise<ort.InferenceSession> {
    const g = new Graph(`${this.kind.replace("-", "_")}_adapter`);
    const x = g.input("x", "float32", ["n", this.inputSize]);
    const tokens = this.spec.merges ? mergeTokens(g, this.kind, x, this.factor) : x;
    const params = new Map<string, Value>();
    for (const p of this.spec.params(this.inputSize, this.outputSize, this.factor)) {
      params.set(p.name, g.input(`param.${p.name}`, "float32", p.dims));
    }
    g.output(this.spec.head(g, tokens, params), "y");
    const session = createOnnxSession(serializeModel(g), this.sessionOptions, what);
    session.catch(() => {
      if (this.#session === session) this.#session = undefined;
    });
    return session;
  }
}
