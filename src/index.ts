// The public API of vlmkit: one barrel, one import.
export * from "./adapter/index.js";
export * from "./encoders/index.js";
export * from "./errors.js";
export * from "./graph/index.js";
export * from "./hub/index.js";
export * from "./image/index.js";
export {
  type FinishReason,
  type GenerateOptions,
  type Generation,
  GenerationEngine,
  type GenerationResult,
  type PromptChunk,
  type Timings,
  type Usage,
} from "./llm/engine.js";
export * from "./llm/gguf.js";
export { Llm, type LlmOptions } from "./llm/llm.js";
export {
  type DecodeBatch,
  NativeContext,
  type NativeContextOptions,
  NativeModel,
  type NativeModelOptions,
  NativeSampler,
  type SamplerOptions,
} from "./llm/native.js";
export * from "./prompt/index.js";
export {
  type AppOptions,
  createApp,
  Gallery,
  type ListenOptions,
  listen,
  type RunningServer,
} from "./server/index.js";
export { assertDims, numel, type Tensor, tensor, zeros } from "./tensor.js";
export { type TinyDemo, writeTinyDemo } from "./tiny/demo.js";
export { writeTinyGemma3Gguf } from "./tiny/gemma3.js";
export { writeTinySiglip } from "./tiny/siglip.js";
export * from "./train/index.js";
export { cardForPairing } from "./vlm/pairing-card.js";
export { type AskOptions, Vlm, type VlmLoadOptions, type VlmMessage } from "./vlm.js";
