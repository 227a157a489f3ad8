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
  readServeConfig,
  type RunningServer,
  type ServeConfig,
  ServedModels,
  type ServerLimits,
  ServerLifecycle,
  type VlmkitApp,
} from "../server/index.js";
