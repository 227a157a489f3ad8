/**
 * The frozen LLM's weights as float32, dequantized once from the GGUF (any type the reader decodes:
 * F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K), checked against the dims the graph declares, and
 * wrapped as onnxruntime tensors that every session run shares without copying.
 */
import * as ort from "onnxruntime-node";
import { ModelFormatError, throwIfAborted } from "../../errors.js";
import { formatShape } from "../../graph/index.js";
import type { GgufReader } from "../../llm/gguf-read.js";
import { gemma3WeightShapes } from "./gemma3-graph.js";
import type { Gemma3Spec } from "./gemma3-spec.js";

export interface LoadWeightsOptions {
  /** Cancels between tensors. */
  signal?: AbortSignal;
  /** Called after each tensor is decoded. */
  onProgress?: (progress: { tensor: string; done: number; total: number }) => void;
}

/** GGUF tensor name → float32 ort.Tensor with row-major dims (token_embd: [V, E]). */
export async function loadGemma3Weights(
  reader: GgufReader,
  spec: Gemma3Spec,
  options: LoadWeightsOptions = {},
): Promise<Map<string, ort.Tensor>> {
  const shapes = gemma3WeightShapes(spec);
  const out = new Map<string, ort.Tensor>();
  let done = 0;
  for (const [name, dims] of shapes) {
    throwIfAborted(options.signal);
    const t = await reader.readTensor(name, { signal: options.signal });
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
      throw new ModelFormatError(
        `"${reader.path}": tensor "${name}" has dims ${formatShape(t.dims)}; the gemma3 metadata implies ${formatShape(dims)}`,
      );
    }
    out.set(name, new ort.Tensor("float32", t.data, dims));
    options.onProgress?.({ tensor: name, done: ++done, total: shapes.size });
  }
  return out;
}
