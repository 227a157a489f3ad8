/**
 * What the gemma3 runners share: reading a GGUF into a spec + float32 weights once, picking the
 * smallest bucket that holds a length, and building one onnxruntime session per bucket on first use.
 */
import type * as ort from "onnxruntime-node";
import { InvalidArgumentError } from "../../errors.js";
import { type Graph, serializeModel } from "../../graph/index.js";
import { GgufReader } from "../../llm/gguf-read.js";
import { createOnnxSession, type OnnxSessionOptions } from "../../runtime/onnx-session.js";
import { type Gemma3Spec, gemma3SpecFromGguf } from "./gemma3-spec.js";
import { type LoadWeightsOptions, loadGemma3Weights } from "./gemma3-weights.js";

/** The spec and every weight of a gemma3 GGUF, dequantized to float32. */
export async function readGemma3(
  ggufPath: string,
  options: LoadWeightsOptions = {},
): Promise<{ spec: Gemma3Spec; weights: Map<string, ort.Tensor> }> {
  const reader = await GgufReader.open(ggufPath, { signal: options.signal });
  try {
    const spec = gemma3SpecFromGguf(reader.info);
    return { spec, weights: await loadGemma3Weights(reader, spec, options) };
  } finally {
    await reader.close();
  }
}

/** The smallest of `buckets` that is at least `n`; `what` names the quantity in the error. */
export function smallestFit(buckets: readonly number[], n: number, what: string): number {
  const sorted = [...buckets].sort((a, b) => a - b);
  const fit = sorted.find((b) => b >= n);
  if (fit === undefined) {
    throw new InvalidArgumentError(`${what} ${n} exceeds the largest bucket ${sorted.at(-1)}`);
  }
  return fit;
}

/** Sessions by key, each built once from its graph; a failed build is forgotten so it can be retried. */
export class SessionCache {
  readonly #sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(
    /** Threads, spinning and providers of every session (see `OnnxSessionOptions` for the defaults). */
    private readonly options: OnnxSessionOptions = {},
  ) {}

  get(key: string, what: string, build: () => Graph): Promise<ort.InferenceSession> {
    let s = this.#sessions.get(key);
    if (!s) {
      s = createOnnxSession(serializeModel(build()), this.options, what).catch((error) => {
        this.#sessions.delete(key);
        throw error;
      });
      this.#sessions.set(key, s);
    }
    return s;
  }

  async release(): Promise<void> {
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}
