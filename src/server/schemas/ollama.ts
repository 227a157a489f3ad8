/**
 * Ollama `/api/chat` and `/api/generate` request bodies. Streaming is on unless `stream: false`, as in
 * Ollama. Model-loading fields (`keep_alive`, `options.num_ctx`, …) are accepted and ignored: models
 * are loaded once, when the server starts.
 */
import { z } from "zod";
import { base64ImageString } from "./image-ref.js";
import { checkTextSize, MAX_STOP_SEQUENCES, stopString } from "./text-limits.js";

export const OllamaOptions = z.object({
  temperature: z.number().min(0).nullish(),
  top_k: z.number().int().min(0).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  /** Tokens to generate; -1 (or -2, "fill the context") means no limit other than the context. */
  num_predict: z.number().int().min(-2).nullish(),
  stop: z
    .array(stopString)
    .max(MAX_STOP_SEQUENCES, { message: `expected at most ${MAX_STOP_SEQUENCES} stop sequences` })
    .nullish(),
  repeat_penalty: z.number().positive().nullish(),
  frequency_penalty: z.number().nullish(),
  presence_penalty: z.number().nullish(),
});
export type OllamaOptions = z.output<typeof OllamaOptions>;

const OllamaMessage = z
  .object({
    role: z.enum(["system", "user", "assistant"]),
    content: z.string(),
    images: z.array(base64ImageString).nullish(),
  })
  .superRefine((m, ctx) => {
    if (m.images?.length && m.role !== "user") {
      ctx.addIssue({
        code: "custom",
        path: ["images"],
        message: `images are accepted in user messages only, not in ${m.role} messages`,
      });
    }
  });

/** Optional when the server serves exactly one model of the kind the route needs. */
const modelName = z.string().min(1, { message: "expected a model name" }).optional();

export const OllamaChatRequest = z
  .object({
    model: modelName,
    messages: z.array(OllamaMessage).min(1, { message: "expected at least one message" }),
    stream: z.boolean().default(true),
    options: OllamaOptions.nullish(),
    keep_alive: z.unknown().optional(),
  })
  .superRefine((r, ctx) =>
    checkTextSize(
      r.messages.map((m) => m.content),
      ctx,
      ["messages"],
    ),
  );
export type OllamaChatRequest = z.output<typeof OllamaChatRequest>;

export const OllamaGenerateRequest = z
  .object({
    model: modelName,
    prompt: z.string().default(""),
    images: z.array(base64ImageString).nullish(),
    system: z.string().nullish(),
    stream: z.boolean().default(true),
    options: OllamaOptions.nullish(),
    keep_alive: z.unknown().optional(),
  })
  .superRefine((r, ctx) => checkTextSize([r.prompt, r.system ?? ""], ctx, ["prompt"]));
export type OllamaGenerateRequest = z.output<typeof OllamaGenerateRequest>;
