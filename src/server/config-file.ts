/**
 * The `vlmkit serve --config <file.json>` format: models by the name clients use.
 *
 *   { "encoders": { "siglip2": "siglip2-base-patch16-224", "mine": "./models/my-siglip" },
 *     "vlms": { "demo": { "encoder": "siglip2", "adapter": "./adapters/demo", "llm": "./gemma.gguf" } } }
 *
 * Encoder values are known ids, hub repos or directories; relative paths resolve against the file's
 * folder. A VLM names one of the encoders, an adapter directory and an LLM (GGUF).
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { VlmkitError } from "../errors.js";
import { issuesToError } from "./schemas/issues.js";

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, {
  message: "expected a model name of letters, digits and . _ : / -",
});

const ServeConfigSchema = z
  .object({
    encoders: z.record(name, z.string().min(1)).default({}),
    vlms: z
      .record(
        name,
        z.object({ encoder: z.string().min(1), adapter: z.string().min(1), llm: z.string().min(1) }).strict(),
      )
      .default({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const [vlm, entry] of Object.entries(config.vlms)) {
      if (!(entry.encoder in config.encoders)) {
        ctx.addIssue({
          code: "custom",
          path: ["vlms", vlm, "encoder"],
          message: `"${entry.encoder}" is not among the encoders (${Object.keys(config.encoders).join(", ") || "none"})`,
        });
      }
    }
  });

export interface VlmEntry {
  encoder: string;
  adapter: string;
  llm: string;
}

export interface ServeConfig {
  /** name → encoder id, hub repo or directory. */
  encoders: Record<string, string>;
  /** name → the parts of a vision-language model. */
  vlms: Record<string, VlmEntry>;
}

/** Parses a config object; relative paths that exist under `baseDir` become absolute. */
export function parseServeConfig(value: unknown, baseDir = process.cwd()): ServeConfig {
  const parsed = ServeConfigSchema.safeParse(value);
  if (!parsed.success) {
    const err = issuesToError(parsed.error);
    throw new VlmkitError("CONFIG_INVALID", `serve config: ${err.message}`, { details: err.details });
  }
  const local = (p: string) => {
    const candidate = path.resolve(baseDir, p);
    return fs.existsSync(candidate) ? candidate : p;
  };
  const encoders = Object.fromEntries(Object.entries(parsed.data.encoders).map(([k, v]) => [k, local(v)]));
  const vlms = Object.fromEntries(
    Object.entries(parsed.data.vlms).map(([k, v]) => [
      k,
      { encoder: v.encoder, adapter: local(v.adapter), llm: local(v.llm) },
    ]),
  );
  return { encoders, vlms };
}

export function readServeConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new VlmkitError("CONFIG_INVALID", `cannot read serve config ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new VlmkitError(
      "CONFIG_INVALID",
      `serve config ${file} is not valid JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  try {
    return parseServeConfig(value, path.dirname(path.resolve(file)));
  } catch (error) {
    if (error instanceof VlmkitError) {
      throw new VlmkitError(error.code, `${file}: ${error.message}`, {
        cause: error,
        details: error.details,
      });
    }
    throw error;
  }
}
