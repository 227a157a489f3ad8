/**
 * `vlmkit/native`: the low-level llama.cpp layer — the addon's model, context (token and embedding
 * batches) and sampler, the generation engine, and GGUF reading and writing.
 */
export { type Admission, GenerationEngine, type PromptChunk } from "../llm/engine.js";
export * from "../llm/gguf.js";
export {
  type DecodeBatch,
  NativeContext,
  type NativeContextOptions,
  NativeModel,
  type NativeModelOptions,
  NativeSampler,
  type SamplerOptions,
} from "../llm/native.js";
