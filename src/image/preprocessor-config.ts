/**
 * `preprocessor_config.json` → a typed preprocessing recipe. Defaults for missing fields follow
 * transformers' `SiglipImageProcessor` (fixed) and `Siglip2ImageProcessor` (NaFlex).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { VlmkitError } from "../errors.js";

/** PIL resampling filter ids as stored in configs: 2 = BILINEAR, 3 = BICUBIC. */
export type Resample = "bilinear" | "bicubic";

const RESAMPLE_BY_PIL_ID: Record<number, Resample | undefined> = { 2: "bilinear", 3: "bicubic" };
const PIL_NAMES: Record<number, string> = { 0: "NEAREST", 1: "LANCZOS", 4: "BOX", 5: "HAMMING" };

interface Normalization {
  resample: Resample;
  doResize: boolean;
  doRescale: boolean;
  /** Multiplier applied to 0–255 values; default 1/255. */
  rescaleFactor: number;
  doNormalize: boolean;
  /** Per-channel mean (R, G, B); default [0.5, 0.5, 0.5]. */
  imageMean: [number, number, number];
  /** Per-channel std (R, G, B); default [0.5, 0.5, 0.5]. */
  imageStd: [number, number, number];
}

/** SigLIP / fixed-resolution SigLIP 2: resize straight to height × width. */
export interface FixedPreprocessorConfig extends Normalization {
  kind: "fixed";
  height: number;
  width: number;
}

/** SigLIP 2 NaFlex: aspect-preserving resize to at most `maxNumPatches` patches of `patchSize`². */
export interface NaflexPreprocessorConfig extends Normalization {
  kind: "naflex";
  patchSize: number;
  maxNumPatches: number;
}

export type PreprocessorConfig = FixedPreprocessorConfig | NaflexPreprocessorConfig;

/**
 * Upper bounds on what a config may ask for, so that a hostile or broken file cannot make the
 * preprocessor allocate an enormous tensor: a side of at most 4096 pixels (a 4096 × 4096 RGB float32
 * input is 192 MiB), patches of at most 64 pixels, at most 16384 NaFlex patches, and NaFlex patches
 * covering at most 4096 × 4096 pixels together. Real SigLIP / SigLIP 2 configs use 224–512 pixels,
 * patches of 14–16 and up to 1024 patches.
 */
export const PREPROCESSOR_BOUNDS = Object.freeze({ maxSide: 4096, maxPatchSize: 64, maxNumPatches: 16384 });

const triple = z.union([z.number(), z.array(z.number()).length(3)]);

const rawSchema = z.looseObject({
  image_processor_type: z.string().optional(),
  do_resize: z.boolean().optional(),
  size: z
    .union([
      z.number().int().positive(),
      z.looseObject({
        height: z.number().int().positive().optional(),
        width: z.number().int().positive().optional(),
        shortest_edge: z.number().int().positive().optional(),
      }),
    ])
    .optional(),
  resample: z.number().int().optional(),
  do_rescale: z.boolean().optional(),
  rescale_factor: z.number().positive().optional(),
  do_normalize: z.boolean().optional(),
  image_mean: triple.optional(),
  image_std: triple.optional(),
  patch_size: z.number().int().positive().optional(),
  max_num_patches: z.number().int().positive().optional(),
});

/** Parses the JSON object of a `preprocessor_config.json`; `source` names it in error messages. */
export function parsePreprocessorConfig(
  json: unknown,
  source = "preprocessor_config.json",
): PreprocessorConfig {
  const parsed = rawSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw configError(source, `field ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const raw = parsed.data;
  const naflex = raw.image_processor_type === "Siglip2ImageProcessor" || raw.max_num_patches !== undefined;
  const defaultResample = naflex ? 2 : 3;
  const common: Normalization = {
    resample: resampleOf(raw.resample ?? defaultResample, source),
    doResize: raw.do_resize ?? true,
    doRescale: raw.do_rescale ?? true,
    rescaleFactor: raw.rescale_factor ?? 1 / 255,
    doNormalize: raw.do_normalize ?? true,
    imageMean: tripleOf(raw.image_mean ?? 0.5),
    imageStd: tripleOf(raw.image_std ?? 0.5),
  };
  for (const s of common.imageStd) {
    if (s === 0) throw configError(source, `image_std ${JSON.stringify(raw.image_std)} holds a zero`);
  }
  if (naflex) {
    const patchSize = atMost(raw.patch_size ?? 16, PREPROCESSOR_BOUNDS.maxPatchSize, "patch_size", source);
    const maxNumPatches = atMost(
      raw.max_num_patches ?? 256,
      PREPROCESSOR_BOUNDS.maxNumPatches,
      "max_num_patches",
      source,
    );
    const side = PREPROCESSOR_BOUNDS.maxSide;
    if (maxNumPatches * patchSize * patchSize > side * side) {
      throw configError(
        source,
        `${maxNumPatches} patches of ${patchSize}×${patchSize} pixels cover more than ${side}×${side} pixels`,
      );
    }
    return { kind: "naflex", patchSize, maxNumPatches, ...common };
  }
  const size = sizeOf(raw.size, source);
  const name = typeof raw.size === "number" ? ["size", "size"] : ["size.height", "size.width"];
  const height = atMost(size.height, PREPROCESSOR_BOUNDS.maxSide, name[0], source);
  const width = atMost(size.width, PREPROCESSOR_BOUNDS.maxSide, name[1], source);
  return { kind: "fixed", height, width, ...common };
}

/** Reads and parses `<dir>/preprocessor_config.json`. */
export async function readPreprocessorConfig(dir: string): Promise<PreprocessorConfig> {
  const file = path.join(dir, "preprocessor_config.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new VlmkitError("CONFIG_INVALID", `cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw configError(file, `not valid JSON (${(cause as Error).message})`);
  }
  return parsePreprocessorConfig(json, file);
}

function resampleOf(id: number, source: string): Resample {
  const r = RESAMPLE_BY_PIL_ID[id];
  if (r) return r;
  const name = PIL_NAMES[id] ? ` (PIL ${PIL_NAMES[id]})` : "";
  throw configError(source, `resample ${id}${name} is not supported; expected 2 (BILINEAR) or 3 (BICUBIC)`);
}

function sizeOf(size: z.infer<typeof rawSchema>["size"], source: string): { height: number; width: number } {
  // SiglipImageProcessor's default size is 224×224.
  if (size === undefined) return { height: 224, width: 224 };
  if (typeof size === "number") return { height: size, width: size };
  if (size.height !== undefined && size.width !== undefined)
    return { height: size.height, width: size.width };
  throw configError(
    source,
    `size ${JSON.stringify(size)} is not supported for fixed-resolution models; expected {"height": H, "width": W}`,
  );
}

function atMost(value: number, max: number, field: string, source: string): number {
  if (value > max)
    throw configError(source, `${field} ${value} is larger than ${max}, the most vlmkit accepts`);
  return value;
}

function tripleOf(v: number | number[]): [number, number, number] {
  return typeof v === "number" ? [v, v, v] : [v[0], v[1], v[2]];
}

function configError(source: string, why: string): VlmkitError {
  return new VlmkitError("CONFIG_INVALID", `invalid preprocessor config ${source}: ${why}`);
}
