export { OllamaEmbeddingsRequest, OllamaEmbedRequest, TextEmbeddingsRequest } from "./embeddings.js";
export { ClassifyRequest, ImageEmbeddingsRequest } from "./encoders.js";
export {
  anyImageString,
  base64ImageString,
  type ImageRef,
  imageUrlString,
  toImageRef,
} from "./image-ref.js";
export { formatPath, issuesToError, parseWith } from "./issues.js";
export { OllamaChatRequest, OllamaGenerateRequest, OllamaOptions } from "./ollama.js";
export { OpenAiChatRequest } from "./openai-chat.js";
export { MAX_STOP_LENGTH, MAX_STOP_SEQUENCES, MAX_TEXT_BYTES } from "./text-limits.js";
