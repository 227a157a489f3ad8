export { type AppOptions, createApp, type VlmkitApp } from "./app.js";
export {
  type ChatRequest,
  type ChatRole,
  type ChatTurn,
  fromOllamaChat,
  fromOllamaGenerate,
  fromOpenAiChat,
  requestImages,
  type Sampling,
} from "./chat-request.js";
export { parseServeConfig, readServeConfig, type ServeConfig, type VlmEntry } from "./config-file.js";
export type { AppEnv, ImagePolicy, ServerContext } from "./context.js";
export { errorBody, errorFamily, statusForCode, toVlmkitError } from "./errors.js";
export { Gallery, type GalleryHit, MAX_GALLERY_IMAGES } from "./gallery.js";
export { type ChatRun, type StartChatOptions, startChat } from "./generation.js";
export { decodeRequestImages, type FetchedImages, fetchRequestImages, loadRequestImages } from "./images.js";
export {
  type Closable,
  type Drainable,
  type LifecycleOptions,
  ServerLifecycle,
} from "./lifecycle.js";
export {
  checkImageCount,
  DEFAULT_HOST,
  DEFAULT_LIMITS,
  DEFAULT_PORT,
  resolveLimits,
  type ServerLimits,
} from "./limits.js";
export { type ListenOptions, listen, type RunningServer } from "./listen.js";
export { type LoadVlmsOptions, loadVlms, type VlmParts } from "./load-vlms.js";
export { createLogger } from "./logging.js";
export { createMetrics, type EngineLoad, type ServerMetrics } from "./metrics.js";
export { type ServedEncoder, ServedModels, type ServedVlm, type ServerState } from "./models.js";
export { WorkQueue, type WorkQueueOptions } from "./queue.js";
export { raceSignal } from "./request-signal.js";
export * from "./schemas/index.js";
export { ndjsonResponse, type StreamProducer, type StreamWriter, sseResponse } from "./streaming.js";
export { toVlmMessages } from "./vlm-messages.js";
