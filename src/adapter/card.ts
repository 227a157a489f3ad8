/**
 * The adapter card, `adapter.json`: what an adapter was trained for (encoder, LLM, prompt style,
 * attention mode, embedding-scale convention), validated with zod on every load.
 */
import fs from "node:fs";
import { z } from "zod";
import { InvalidArgumentError, ModelFormatError } from "../errors.js";
import { embeddingScaleFor } from "../llm/embedding-scale.js";
import { factorProblem } from "./kinds/registry.js";
import { tokensPerImage } from "./kinds/token-grid.js";
import { ADAPTER_KINDS } from "./kinds/types.js";

export const CARD_FORMAT_VERSION = 1;

const positiveInt = z.number().int().positive();

const Preprocessing = z.discriminatedUnion("kind", [
  z.strictObject({
    /** Fixed resolution: every image is resized to `size`×`size`. */
    kind: z.literal("fixed"),
    size: positiveInt,
    patch_size: positiveInt,
  }),
  z.strictObject({
    /** NaFlex: aspect-preserving resize to at most `max_num_patches` patches. */
    kind: z.literal("naflex"),
    patch_size: positiveInt,
    max_num_patches: positiveInt,
  }),
]);

/**
 * Where a part (the encoder or the LLM) comes from, so the adapter runs with no other argument:
 *
 *   { repo, revision, file? }  a hub repository (`org/name`) at a revision; `file` names the GGUF of an
 *                              LLM repo. A registry model is recorded as its repo and revision.
 *   { path, sha256 }           a file or directory inside the adapter's own directory (a "bundle"),
 *                              relative to it, verified by `contentSha256` before loading.
 *
 * Never a URL and never a path outside the adapter directory: a card travels with the adapter, from
 * wherever that came from, and must not make vlmkit read other files or reach other hosts.
 */
export const PartSourceSchema = z.union([
  z.strictObject({
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, "expected org/name"),
    revision: z.string().min(1),
    file: z.string().min(1).optional(),
  }),
  z.strictObject({
    path: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits"),
  }),
]);

export type PartSource = z.infer<typeof PartSourceSchema>;

export const AdapterCardSchema = z
  .strictObject({
    format_version: z.literal(CARD_FORMAT_VERSION),
    encoder: z.strictObject({
      /** A registry id (`siglip2-base-patch16-224`), a hub repo, or a local name. */
      id: z.string().min(1),
      family: z.enum(["siglip", "siglip2"]),
      /** Dv */
      hidden: positiveInt,
      preprocessing: Preprocessing,
      /** Where to find it; absent in cards written before vlmkit recorded it (then `--encoder` is needed). */
      source: PartSourceSchema.optional(),
    }),
    llm: z.strictObject({
      /** GGUF `general.architecture`, e.g. "gemma3". */
      architecture: z.string().min(1),
      /** Dl */
      n_embd: positiveInt,
      n_vocab: positiveInt,
      /** `vocabFingerprint(tokens)`. */
      vocab_fingerprint: z
        .string()
        .regex(/^sha256:[0-9a-f]{64}$/, "expected sha256:<64 lowercase hex digits>"),
      name: z.string(),
      /** Where to find it; absent in cards written before vlmkit recorded it (then `--llm` is needed). */
      source: PartSourceSchema.optional(),
    }),
    /** The adapter kind and its merge factor; absent in cards written before kinds existed (= linear). */
    adapter: z
      .strictObject({
        kind: z.enum(ADAPTER_KINDS),
        /** r for pixel-shuffle, k for avgpool, 1 for linear and mlp. */
        factor: positiveInt,
      })
      .default({ kind: "linear", factor: 1 }),
    prompt: z.strictObject({
      style: z.enum(["paligemma", "gemma-chat"]),
      /** Embeddings per image (after merging): N for fixed resolution, "dynamic" for NaFlex. */
      image_tokens: z.union([positiveInt, z.literal("dynamic")]),
    }),
    attention: z.enum(["prefix-lm", "bidirectional-image", "causal"]),
    embedding_scale: z.strictObject({
      convention: z.literal("scaled-token-space"),
      /** What the runtime multiplies adapter outputs by for this architecture (`embeddingScaleFor`). */
      runtime_factor: z.number().positive(),
    }),
    training: z
      .strictObject({
        dataset: z.string().optional(),
        steps: z.number().int().nonnegative().optional(),
        final_loss: z.number().optional(),
        /** ISO 8601 */
        date: z.string().optional(),
        seed: z.number().int().optional(),
        /** Share of rows held out for validation (`eval --split val` holds out the same rows). */
        val_fraction: z.number().min(0).max(1).optional(),
        /** The separate validation dataset's file name, when one was given instead of a split. */
        val_file: z.string().optional(),
      })
      .optional(),
    /** e.g. "vlmkit 0.1.0" */
    created_with: z.string().min(1),
  })
  .superRefine((card, ctx) => {
    const pre = card.encoder.preprocessing;
    const tokens = card.prompt.image_tokens;
    if (pre.kind === "naflex" && tokens !== "dynamic") {
      ctx.addIssue({
        code: "custom",
        path: ["prompt", "image_tokens"],
        message: `NaFlex preprocessing gives a varying number of patches; expected "dynamic", got ${tokens}`,
      });
    }
    const { kind, factor } = card.adapter;
    const problem = factorProblem(kind, factor);
    if (problem) ctx.addIssue({ code: "custom", path: ["adapter", "factor"], message: problem });
    if (pre.kind === "fixed" && !problem) {
      const side = Math.floor(pre.size / pre.patch_size);
      const expected = tokensPerImage(side, factor);
      if (tokens !== expected) {
        const merge = factor > 1 ? ` merged by ${kind} ${factor}×${factor}` : "";
        ctx.addIssue({
          code: "custom",
          path: ["prompt", "image_tokens"],
          message: `fixed ${pre.size}px images with ${pre.patch_size}px patches${merge} give ${expected} tokens, got ${JSON.stringify(tokens)}`,
        });
      }
    }
    if (card.attention === "prefix-lm" && card.prompt.style !== "paligemma") {
      ctx.addIssue({
        code: "custom",
        path: ["attention"],
        message: `"prefix-lm" attention needs prompt style "paligemma", got "${card.prompt.style}"`,
      });
    }
  });

export type AdapterCard = z.infer<typeof AdapterCardSchema>;

/**
 * What a caller provides; `saveAdapter` fills `format_version`, `embedding_scale` and `created_with`
 * (and `adapter` from the adapter it saves).
 */
export type AdapterCardInput = Omit<
  AdapterCard,
  "format_version" | "embedding_scale" | "created_with" | "adapter"
> & {
  adapter?: AdapterCard["adapter"];
  created_with?: string;
};

let cachedVersion: string | undefined;

/** "vlmkit <version>" from package.json (two levels above this file in both src/ and dist/). */
export function vlmkitVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
      cachedVersion = `vlmkit ${pkg.version}`;
    } catch {
      cachedVersion = "vlmkit";
    }
  }
  return cachedVersion;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/** Validates parsed JSON as an adapter card; `source` names the file in errors. */
export function parseAdapterCard(json: unknown, source: string): AdapterCard {
  const parsed = AdapterCardSchema.safeParse(json);
  if (!parsed.success)
    throw new ModelFormatError(`${source} is not a valid adapter card: ${describeIssues(parsed.error)}`);
  const card = parsed.data;
  const factor = embeddingScaleFor(card.llm.architecture, card.llm.n_embd);
  if (Math.abs(card.embedding_scale.runtime_factor - factor) > 1e-6 * factor) {
    throw new ModelFormatError(
      `${source}: embedding_scale.runtime_factor is ${card.embedding_scale.runtime_factor} but architecture ` +
        `"${card.llm.architecture}" with n_embd ${card.llm.n_embd} needs ${factor}`,
    );
  }
  return card;
}

/** Completes and validates a card for saving. Throws `InvalidArgumentError` naming the bad field. */
export function buildAdapterCard(input: AdapterCardInput): AdapterCard {
  const candidate = {
    ...input,
    format_version: CARD_FORMAT_VERSION,
    embedding_scale: {
      convention: "scaled-token-space",
      runtime_factor: embeddingScaleFor(input.llm.architecture, input.llm.n_embd),
    },
    created_with: input.created_with ?? vlmkitVersion(),
  };
  const parsed = AdapterCardSchema.safeParse(candidate);
  if (!parsed.success)
    throw new InvalidArgumentError(`invalid adapter card: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
