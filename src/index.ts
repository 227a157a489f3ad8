/**
 * `vlmkit`: the public API for using models — encoders, zero-shot and embeddings, adapters, the LLM,
 * `Vlm`, prompts, images, the hub, errors. More specialised entry points:
 * `vlmkit/server` (the HTTP app), `vlmkit/train` (adapter training and evaluation), `vlmkit/graph`
 * (the ONNX graph builder), `vlmkit/native` (the llama.cpp addon and GGUF files), `vlmkit/tiny`
 * (tiny test-model writers).
 */
export {
  ADAPTER_KINDS,
  type Adapter,
  type AdapterCard,
  type AdapterCardInput,
  type AdapterKindName,
  adapterWithCard,
  type CompatibilityExpectations,
  checkCompatibility,
  type Grid,
  initAdapter,
  LinearAdapter,
  type LinearAdapterInitOptions,
  type LoadAdapterOptions,
  type LoadedAdapter,
  loadAdapter,
  mergedGrid,
  ProjectorAdapter,
  readAdapterCard,
  saveAdapter,
} from "./adapter/index.js";
export {
  type CompareOptions,
  type CompareResult,
  compareEncoders,
  type EncoderSummary,
  type PairRow,
  type ResultRow,
} from "./compare/index.js";
export * from "./encoders/index.js";
export * from "./errors.js";
export {
  downloadFile,
  findModel,
  getModel,
  type HubOptions,
  listModels,
  MODELS,
  type ModelEntry,
  type ResolveModelDirOptions,
  resolveModelDir,
  type Snapshot,
  type SnapshotDownloadOptions,
  snapshotDownload,
} from "./hub/index.js";
export {
  type ImageSource,
  type LoadImageOptions,
  loadImage,
  type PreprocessorConfig,
  preprocessFixed,
  preprocessNaflex,
  type RgbImage,
  readPreprocessorConfig,
} from "./image/index.js";
export {
  type ExportMmprojOptions,
  type ExportMmprojResult,
  exportMmproj,
  type ImportMmprojOptions,
  type ImportMmprojResult,
  importMmproj,
  type Mmproj,
  readMmproj,
} from "./interop/index.js";
export { embeddingScaleFor } from "./llm/embedding-scale.js";
export type {
  FinishReason,
  GenerateOptions,
  Generation,
  GenerationResult,
  Timings,
  Usage,
} from "./llm/engine.js";
export { type LlmIdentity, vocabFingerprint } from "./llm/identity.js";
export { Llm, type LlmOptions } from "./llm/llm.js";
export * from "./prompt/index.js";
export { type Tensor, tensor } from "./tensor.js";
export {
  type AskOptions,
  Vlm,
  type VlmGeneration,
  type VlmLoadOptions,
  type VlmMessage,
} from "./vlm.js";
