/**
 * Validated OpenAI / Ollama chat bodies → one internal request the generation routes run. Pure
 * functions: no I/O, images stay references until the route loads them under the server's policy.
 */
import type { ImageRef } from "./schemas/image-ref.js";
import { toImageRef } from "./schemas/image-ref.js";
import type { OllamaChatRequest, OllamaGenerateRequest, OllamaOptions } from "./schemas/ollama.js";
import type { OpenAiChatRequest } from "./schemas/openai-chat.js";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatTurn {
  role: ChatRole;
  /** The turn's text; several text parts are joined with "\n". */
  text: string;
  /** The turn's images in request order (user turns only). */
  images: ImageRef[];
}

/** Sampling settings; an absent field means "the engine's default". */
export interface Sampling {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  seed?: number;
}

export interface ChatRequest {
  /** The served VLM's name; undefined when the server serves only one. */
  model?: string;
  turns: ChatTurn[];
  sampling: Sampling;
  /** Most tokens to generate; undefined = until end of sequence or the context is full. */
  maxTokens?: number;
  /** Generation stops before any of these strings; they are not part of the answer. */
  stop: string[];
  stream: boolean;
  /** OpenAI `stream_options.include_usage`: send a last chunk with token counts. Ollama always reports them. */
  includeUsage: boolean;
}

/** Every image of a request, in order (for the per-request image limit and loading). */
export function requestImages(request: Pick<ChatRequest, "turns">): ImageRef[] {
  return request.turns.flatMap((t) => t.images);
}

/** Drops null/undefined so absent fields stay absent in the internal shape. */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], null>;
  };
}

export function fromOpenAiChat(body: OpenAiChatRequest): ChatRequest {
  const turns = body.messages.map((m, i): ChatTurn => {
    const role: ChatRole = m.role === "developer" ? "system" : m.role;
    if (typeof m.content === "string") return { role, text: m.content, images: [] };
    const parts = m.content ?? [];
    const texts: string[] = [];
    const images: ImageRef[] = [];
    parts.forEach((part, j) => {
      if (part.type === "text") texts.push(part.text);
      else images.push(toImageRef(part.image_url.url, `messages[${i}].content[${j}].image_url.url`));
    });
    return { role, text: texts.join("\n"), images };
  });
  const stop =
    body.stop === null || body.stop === undefined
      ? []
      : typeof body.stop === "string"
        ? [body.stop]
        : body.stop;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  return {
    model: body.model,
    turns,
    sampling: defined({
      temperature: body.temperature,
      topK: body.top_k,
      topP: body.top_p,
      minP: body.min_p,
      repeatPenalty: body.repeat_penalty,
      frequencyPenalty: body.frequency_penalty,
      presencePenalty: body.presence_penalty,
      seed: body.seed,
    }),
    ...(maxTokens === undefined ? {} : { maxTokens }),
    stop: stop.filter((s) => s.length > 0),
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
  };
}

function ollamaSampling(options: OllamaOptions | null | undefined): Sampling {
  const o = options ?? {};
  return defined({
    temperature: o.temperature,
    topK: o.top_k,
    topP: o.top_p,
    minP: o.min_p,
    repeatPenalty: o.repeat_penalty,
    frequencyPenalty: o.frequency_penalty,
    presencePenalty: o.presence_penalty,
    seed: o.seed,
  });
}

/** Ollama's num_predict: negative means "no limit". */
function ollamaMaxTokens(options: OllamaOptions | null | undefined): { maxTokens?: number } {
  const n = options?.num_predict;
  return n === null || n === undefined || n < 0 ? {} : { maxTokens: n };
}

export function fromOllamaChat(body: OllamaChatRequest): ChatRequest {
  return {
    model: body.model,
    turns: body.messages.map((m, i) => ({
      role: m.role,
      text: m.content,
      images: (m.images ?? []).map((img, j) => toImageRef(img, `messages[${i}].images[${j}]`)),
    })),
    sampling: ollamaSampling(body.options),
    ...ollamaMaxTokens(body.options),
    stop: (body.options?.stop ?? []).filter((s) => s.length > 0),
    stream: body.stream,
    includeUsage: true,
  };
}

export function fromOllamaGenerate(body: OllamaGenerateRequest): ChatRequest {
  const turns: ChatTurn[] = [];
  if (body.system) turns.push({ role: "system", text: body.system, images: [] });
  turns.push({
    role: "user",
    text: body.prompt,
    images: (body.images ?? []).map((img, j) => toImageRef(img, `images[${j}]`)),
  });
  return {
    model: body.model,
    turns,
    sampling: ollamaSampling(body.options),
    ...ollamaMaxTokens(body.options),
    stop: (body.options?.stop ?? []).filter((s) => s.length > 0),
    stream: body.stream,
    includeUsage: true,
  };
}
