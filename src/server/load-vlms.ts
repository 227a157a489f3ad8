/**
 * Loads the VLMs a server answers for, sharing what can be shared: adapters on the same GGUF get ONE
 * `Llm` (one llama.cpp context, one continuous-batching engine, one KV cache budget), and adapters on
 * the same encoder directory one vision encoder — the served encoder's own when it is served too.
 */
import path from "node:path";
import { type SessionOptions, VisionEncoder } from "../encoders/index.js";
import { Llm, type LlmOptions } from "../llm/llm.js";
import { Vlm } from "../vlm.js";
import type { ServedModels } from "./models.js";

/** The parts of one VLM, already resolved to local paths. */
export interface VlmParts {
  /** Encoder directory (ONNX export layout). */
  encoder: string;
  /** Adapter directory (`adapter.json` + `adapter.safetensors`). */
  adapter: string;
  /** GGUF file. */
  llm: string;
}

export interface LoadVlmsOptions {
  /**
   * Options of every loaded LLM: `sequences` (requests decoded together), `contextSize` (positions
   * shared by them), `maxQueue` (waiting requests before 429), threads, GPU layers. Default: Llm's.
   */
  llm?: LlmOptions;
  /** Options of vision encoders loaded here (dtype, threads). Default {}. */
  encoder?: SessionOptions;
}

/** Loads each VLM and serves it under its name; shared parts are handed to `models` to free. */
export async function loadVlms(
  models: ServedModels,
  specs: Readonly<Record<string, VlmParts>>,
  options: LoadVlmsOptions = {},
): Promise<void> {
  const llms = new Map<string, Promise<Llm>>();
  const encoders = new Map<string, Promise<VisionEncoder>>();
  const shared = <T extends { dispose(): Promise<void> }>(
    cache: Map<string, Promise<T>>,
    key: string,
    load: () => Promise<T>,
  ): Promise<T> => {
    let pending = cache.get(key);
    if (!pending) {
      pending = load().then((part) => {
        models.adopt(part);
        return part;
      });
      cache.set(key, pending);
    }
    return pending;
  };
  // One at a time: loading is I/O and session setup, and failures then name the first broken VLM.
  for (const [name, parts] of Object.entries(specs)) {
    const encoderDir = path.resolve(parts.encoder);
    const llmPath = path.resolve(parts.llm);
    const encoder =
      models.encoderByDir(encoderDir)?.model.vision ??
      (await shared(encoders, encoderDir, () => VisionEncoder.load(encoderDir, options.encoder)));
    const llm = await shared(llms, llmPath, () => Llm.load(llmPath, options.llm));
    const vlm = await Vlm.load({ encoder, adapter: parts.adapter, llm });
    models.addVlm(name, vlm, { adapter: path.resolve(parts.adapter), llmPath });
  }
}
