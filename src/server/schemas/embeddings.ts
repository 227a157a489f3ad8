/**
 * Request bodies of the text-embedding routes: OpenAI's `POST /v1/embeddings` and Ollama's
 * `POST /api/embed` (and its older `POST /api/embeddings`). Texts go through SigLIP's text tower, so
 * each is bounded like a zero-shot label (see encoders/text-input.ts).
 */
import { z } from "zod";
import { MAX_TEXTS, textProblem } from "../../encoders/text-input.js";

/** Optional when the server serves exactly one encoder. */
const modelName = z.string().min(1, { message: "expected a model name" }).optional();

const text = z.string().superRefine((t, ctx) => {
  const problem = textProblem(t);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** One text or a list of them (token-id arrays, which OpenAI also accepts, are refused: no shared vocabulary). */
const textInput = z.union(
  [
    text,
    z
      .array(text)
      .min(1, { message: "expected at least one text" })
      .max(MAX_TEXTS, { message: `expected at most ${MAX_TEXTS} texts` }),
  ],
  { error: "expected a string or an array of strings" },
);

export const TextEmbeddingsRequest = z.object({
  model: modelName,
  input: textInput,
  /** "float" (default) or "base64": little-endian float32 bytes, as the OpenAI client requests by default. */
  encoding_format: z.enum(["float", "base64"]).optional(),
  /** Accepted only when equal to the model's embedding size (no truncation). */
  dimensions: z.number().int().positive().optional(),
  /** OpenAI's end-user id: accepted and ignored. */
  user: z.string().optional(),
});
export type TextEmbeddingsRequest = z.output<typeof TextEmbeddingsRequest>;

export const OllamaEmbedRequest = z.object({
  model: modelName,
  input: textInput,
  /** Ollama truncates long inputs unless false; SigLIP always reads its first 64 tokens. */
  truncate: z.boolean().optional(),
  dimensions: z.number().int().positive().optional(),
  options: z.record(z.string(), z.unknown()).nullish(),
  keep_alive: z.unknown().optional(),
});
export type OllamaEmbedRequest = z.output<typeof OllamaEmbedRequest>;

/** Ollama's older single-text route. */
export const OllamaEmbeddingsRequest = z.object({
  model: modelName,
  prompt: text,
  options: z.record(z.string(), z.unknown()).nullish(),
  keep_alive: z.unknown().optional(),
});
export type OllamaEmbeddingsRequest = z.output<typeof OllamaEmbeddingsRequest>;
