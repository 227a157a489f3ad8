/**
 * OpenAI Chat Completions request body (the subset a local VLM can honour). Unknown fields are dropped,
 * as OpenAI clients send many; fields that would change the answer's shape and cannot be honoured
 * (`n` > 1) are refused with a 400 that says so.
 */
import { z } from "zod";
import { imageUrlString } from "./image-ref.js";
import { checkTextSize, stopString } from "./text-limits.js";

const TextPart = z.object({ type: z.literal("text"), text: z.string() });
const ImagePart = z.object({
  type: z.literal("image_url"),
  image_url: z.object({
    url: imageUrlString,
    /** OpenAI's resolution hint; the encoder's preprocessing decides here, so it is accepted and ignored. */
    detail: z.enum(["auto", "low", "high"]).optional(),
  }),
});
const ContentPart = z.discriminatedUnion("type", [TextPart, ImagePart]);

const Message = z
  .object({
    /** "developer" is OpenAI's newer name for "system". */
    role: z.enum(["system", "developer", "user", "assistant"]),
    content: z.union([z.string(), z.array(ContentPart)]).nullish(),
    name: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    if (Array.isArray(m.content) && m.role !== "user") {
      m.content.forEach((part, i) => {
        if (part.type === "image_url") {
          ctx.addIssue({
            code: "custom",
            path: ["content", i],
            message: `images are accepted in user messages only, not in ${m.role} messages`,
          });
        }
      });
    }
    if ((m.content === null || m.content === undefined) && m.role !== "assistant") {
      ctx.addIssue({ code: "custom", path: ["content"], message: `required for a ${m.role} message` });
    }
  });

const probability = z.number().min(0).max(1);

export const OpenAiChatRequest = z
  .object({
    /** Optional when the server serves exactly one vision-language model. */
    model: z.string().min(1, { message: "expected a model name" }).optional(),
    messages: z.array(Message).min(1, { message: "expected at least one message" }),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: probability.nullish(),
    /** Not OpenAI's, but llama.cpp-server and vLLM accept these sampling fields; so does vlmkit. */
    top_k: z.number().int().min(0).nullish(),
    min_p: probability.nullish(),
    repeat_penalty: z.number().positive().nullish(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    stop: z
      .union([stopString, z.array(stopString).max(4, { message: "expected at most 4 stop sequences" })])
      .nullish(),
    seed: z.number().int().nullish(),
    n: z
      .number()
      .int()
      .nullish()
      .refine((n) => n === null || n === undefined || n === 1, {
        message: "only n = 1 is supported (one choice per request)",
      }),
  })
  .superRefine((r, ctx) =>
    checkTextSize(
      r.messages.flatMap((m) =>
        typeof m.content === "string"
          ? [m.content]
          : (m.content ?? []).flatMap((p) => (p.type === "text" ? [p.text] : [])),
      ),
      ctx,
      ["messages"],
    ),
  );
export type OpenAiChatRequest = z.output<typeof OpenAiChatRequest>;
