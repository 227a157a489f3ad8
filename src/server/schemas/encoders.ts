/** Request bodies of the encoder routes: `/v1/classify` and `/v1/images/embeddings`. */
import { z } from "zod";
import { labelProblem, templateProblem } from "../../encoders/zero-shot-text.js";
import { anyImageString } from "./image-ref.js";

/** Optional when the server serves exactly one encoder. */
const modelName = z.string().min(1, { message: "expected a model name" }).optional();

export const ClassifyRequest = z.object({
  model: modelName,
  images: z.array(anyImageString).min(1, { message: "expected at least one image" }),
  labels: z
    .array(
      z
        .string()
        .trim()
        .min(1, { message: "expected a non-empty label" })
        .superRefine((label, ctx) => {
          const problem = label.length > 0 ? labelProblem(label) : undefined; // empty: reported above
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
    )
    .min(1, { message: "expected at least one label" })
    .max(1000, { message: "expected at most 1000 labels" }),
  /** Prompt template; "{}" is replaced by each label. */
  template: z
    .string()
    .superRefine((template, ctx) => {
      const problem = templateProblem(template);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
});
export type ClassifyRequest = z.output<typeof ClassifyRequest>;

/** OpenAI-embeddings-like: images in `images`, or in `input` (one string or a list) as OpenAI clients send. */
export const ImageEmbeddingsRequest = z
  .object({
    model: modelName,
    images: z.array(anyImageString).min(1, { message: "expected at least one image" }).optional(),
    input: z
      .union([anyImageString, z.array(anyImageString).min(1, { message: "expected at least one image" })])
      .optional(),
    /** "float" (default) or "base64": little-endian float32 bytes, as the OpenAI client requests by default. */
    encoding_format: z.enum(["float", "base64"]).optional(),
    /** Accepted only when equal to the model's embedding size (no truncation). */
    dimensions: z.number().int().positive().optional(),
  })
  .refine((b) => (b.images === undefined) !== (b.input === undefined), {
    message: "expected exactly one of images or input",
    path: ["images"],
  });
export type ImageEmbeddingsRequest = z.output<typeof ImageEmbeddingsRequest>;
