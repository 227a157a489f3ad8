/** What vlmkit needs from a SigLIP / SigLIP 2 `config.json`. */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ModelFormatError } from "../errors.js";

const TowerConfig = z
  .object({
    hidden_size: z.number().int().positive().optional(),
    image_size: z.number().int().positive().optional(),
    patch_size: z.number().int().positive().optional(),
    num_patches: z.number().int().positive().optional(),
    max_position_embeddings: z.number().int().positive().optional(),
    projection_size: z.number().int().positive().optional(),
    vocab_size: z.number().int().positive().optional(),
  })
  .passthrough();

const ConfigJson = z
  .object({
    model_type: z.string(),
    text_config: TowerConfig.optional(),
    vision_config: TowerConfig.optional(),
  })
  .passthrough();

export type EncoderFamily = "siglip" | "siglip2";

export interface EncoderConfig {
  family: EncoderFamily;
  /** Vision width Dv (the size of each patch feature and of the pooled embedding). */
  visionHidden: number;
  /** Text width (pooled text embedding size). */
  textHidden: number;
  /** Text length the model was trained with; inputs are padded to exactly this. Default 64. */
  textLength: number;
  patchSize: number;
  /** Fixed-resolution side; undefined for NaFlex-only configs. */
  imageSize?: number;
}

export function readEncoderConfig(dir: string): EncoderConfig {
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file))
    throw new ModelFormatError(`${file} not found: an encoder directory needs config.json`);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (cause) {
    throw new ModelFormatError(`${file} is not valid JSON`, { cause });
  }
  return parseEncoderConfig(json, file);
}

/**
 * The fields of a parsed `config.json`, with transformers' defaults for absent ones (hidden 768, patch
 * 16, text length 64); `source` names the file in error messages.
 */
export function parseEncoderConfig(json: unknown, source = "config.json"): EncoderConfig {
  const parsed = ConfigJson.safeParse(json);
  if (!parsed.success)
    throw new ModelFormatError(`${source}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  const c = parsed.data;
  if (c.model_type !== "siglip" && c.model_type !== "siglip2") {
    throw new ModelFormatError(
      `${source}: model_type "${c.model_type}" is not supported; expected "siglip" or "siglip2"`,
    );
  }
  const v = c.vision_config ?? {};
  const t = c.text_config ?? {};
  return {
    family: c.model_type,
    visionHidden: v.hidden_size ?? 768,
    textHidden: t.projection_size ?? t.hidden_size ?? 768,
    textLength: t.max_position_embeddings ?? 64,
    patchSize: v.patch_size ?? 16,
    imageSize: v.image_size,
  };
}
