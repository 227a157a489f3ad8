/** Opens the onnxruntime session of an adapter graph (serialized model bytes) with the project's providers and threads. */
import * as ort from "onnxruntime-node";
import { defaultThreads, executionProviders } from "../../env.js";
import { ModelFormatError } from "../../errors.js";

export async function openAdapterSession(
  model: Uint8Array,
  what: string,
  threads?: number,
): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(model, {
      executionProviders: executionProviders(),
      intraOpNumThreads: threads ?? defaultThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
  } catch (cause) {
    throw new ModelFormatError(`onnxruntime could not load ${what}: ${(cause as Error).message}`, { cause });
  }
}
