/** `vlmkit/server`: the HTTP app (OpenAI- and Ollama-compatible routes), its models, limits and lifecycle. */
export {
  type AppOptions,
  createApp,
  DEFAULT_HOST,
  DEFAULT_LIMITS,
  DEFAULT_PORT,
  type ListenOptions,
  type LoadVlmsOptions,
  listen,
  loadVlms,
  type RunningServer,
  readServeConfig,
  type ServeConfig,
  ServedModels,
  ServerLifecycle,
  type ServerLimits,
  type VlmkitApp,
} from "../server/index.js";
