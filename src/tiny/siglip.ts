/**
 * Writes tiny (or base-sized) SigLIP / SigLIP 2 models with seeded random weights in the public
 * export layout (Xenova/siglip-*, onnx-community/siglip2-*-ONNX):
 *
 *   config.json  preprocessor_config.json  tokenizer.json  tokenizer_config.json  special_tokens_map.json
 *   onnx/vision_model.onnx  onnx/text_model.onnx  onnx/model.onnx   (+ `_fp16` files, + `*.onnx_data`)
 *
 * The ONNX graphs are the real architectures at a small size, with the public input/output names.
 * logit_scale / logit_bias: real HF configs do not hold them (they are weights). Here the combined
 * model carries them as initializers `logit_scale` / `logit_bias` (and applies them), and the tower
 * files repeat their values in the ONNX metadata (`logit_scale`, `logit_bias`, as decimal strings).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { Graph, type SaveOptions, saveModel, type Value, writeFileAtomic } from "../graph/index.js";
import {
  configJson,
  LAYER_NORM_EPS,
  PRESETS,
  preprocessorJson,
  type TinySiglipSizes,
  type TinySiglipVariant,
} from "./siglip-config.js";
import { textTower } from "./siglip-text.js";
import { fixedVision, naflexVision, type VisionSizes } from "./siglip-vision.js";
import { WeightFactory } from "./siglip-weights.js";
import { siglip2Tokenizer, siglipTokenizer } from "./tokenizer.js";

export type { TinySiglipSizes, TinySiglipVariant } from "./siglip-config.js";

export type TinySiglipTower = "vision" | "text" | "combined";
/** File suffixes as transformers.js names them: fp32 → `vision_model.onnx`, fp16 → `vision_model_fp16.onnx`. */
export type TinySiglipDtype = "fp32" | "fp16";

export interface TinySiglipOptions {
  variant: TinySiglipVariant;
  /** Seed of the weight generator; the same seed gives the same weights. Default 0. */
  seed?: number;
  /** Starting sizes: "tiny" (32 wide, 2 layers, 32 px) or "base" (SigLIP-2-base: 768, 12, 224 px). Default "tiny". */
  preset?: "tiny" | "base";
  /** Overrides on top of the preset. Default none. */
  sizes?: Partial<TinySiglipSizes>;
  /** Which ONNX files to write. Default all three. */
  towers?: readonly TinySiglipTower[];
  /** Write weights to `<file>.onnx_data` beside each model (as large public exports do). Default false. */
  externalData?: boolean;
  /** Weight precisions to write; fp16 files store float16 weights and compute in float32. Default ["fp32"]. */
  dtypes?: readonly TinySiglipDtype[];
  /** logit_scale (the model multiplies cosines by exp(logit_scale)). Default ln 10 (SigLIP's init). */
  logitScale?: number;
  /** logit_bias. Default -10 (SigLIP's init). */
  logitBias?: number;
}

export interface TinySiglipResult {
  dir: string;
  /** Every file written, absolute paths. */
  files: string[];
  sizes: TinySiglipSizes & { vocab: number };
  logitScale: number;
  logitBias: number;
}

function checkSizes(
  s: TinySiglipSizes & { vocab: number },
  variant: TinySiglipVariant,
  tokenizerVocab: number,
): void {
  const bad = (msg: string) => new InvalidArgumentError(`writeTinySiglip: ${msg}`, { details: { sizes: s } });
  if (s.hidden % s.heads !== 0) throw bad(`hidden ${s.hidden} is not divisible by heads ${s.heads}`);
  if (variant !== "siglip2-naflex" && s.imageSize % s.patch !== 0) {
    throw bad(`imageSize ${s.imageSize} is not a multiple of patch ${s.patch}`);
  }
  const side = Math.round(Math.sqrt(s.numPositions));
  if (side * side !== s.numPositions) throw bad(`numPositions ${s.numPositions} is not a square`);
  if (s.vocab < tokenizerVocab)
    throw bad(`vocab ${s.vocab} is smaller than the tokenizer's ${tokenizerVocab} tokens`);
}

/** Adds the vision inputs of `variant` to `g` and builds the tower. */
function visionFromInputs(
  g: Graph,
  w: WeightFactory,
  variant: TinySiglipVariant,
  s: VisionSizes,
  batch: string,
) {
  if (variant === "siglip2-naflex") {
    const pv = g.input("pixel_values", "float32", [batch, "num_patches", 3 * s.patch * s.patch]);
    const mask = g.input("pixel_attention_mask", "int64", [batch, "num_patches"]);
    const shapes = g.input("spatial_shapes", "int64", [batch, 2]);
    return naflexVision(g, w, pv, mask, shapes, s);
  }
  const pv = g.input("pixel_values", "float32", [batch, 3, s.imageSize, s.imageSize]);
  return fixedVision(g, w, pv, s);
}

/** x / ‖x‖₂ over the last axis. [B, D] → [B, D] */
function l2normalize(g: Graph, x: Value): Value {
  return g.div(x, g.reduceL2(x, [-1], true));
}

export async function writeTinySiglip(dir: string, options: TinySiglipOptions): Promise<TinySiglipResult> {
  const { variant } = options;
  if (!["siglip", "siglip2", "siglip2-naflex"].includes(variant)) {
    throw new InvalidArgumentError(
      `writeTinySiglip: variant "${variant}"; expected "siglip", "siglip2" or "siglip2-naflex"`,
    );
  }
  const seed = options.seed ?? 0;
  const tokenizer = variant === "siglip" ? siglipTokenizer() : siglip2Tokenizer();
  const base = PRESETS[options.preset ?? "tiny"];
  if (!base)
    throw new InvalidArgumentError(`writeTinySiglip: preset "${options.preset}"; expected "tiny" or "base"`);
  const sizes = { ...base, ...options.sizes, vocab: options.sizes?.vocab ?? tokenizer.vocabSize };
  checkSizes(sizes, variant, tokenizer.vocabSize);
  const logitScale = options.logitScale ?? Math.log(10);
  const logitBias = options.logitBias ?? -10;
  const towers = options.towers ?? ["vision", "text", "combined"];
  const dtypes = options.dtypes ?? ["fp32"];

  const block = { hidden: sizes.hidden, heads: sizes.heads, mlp: sizes.mlp, eps: LAYER_NORM_EPS };
  const vs: VisionSizes = {
    ...block,
    layers: sizes.layers,
    imageSize: sizes.imageSize,
    patch: sizes.patch,
    numPositions: sizes.numPositions,
  };
  const ts = {
    ...block,
    layers: sizes.layers,
    vocab: sizes.vocab,
    length: sizes.textLength,
    projection: sizes.hidden,
  };

  const files: string[] = [];
  const writeJson = async (name: string, value: unknown) => {
    const file = path.join(dir, name);
    await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
    files.push(file);
  };
  await fs.mkdir(path.join(dir, "onnx"), { recursive: true });
  const special = tokenizer["special_tokens_map.json"] as Record<string, string>;
  const padId = variant === "siglip" ? 1 : 0; // SigLIP pads with </s> (id 1); Gemma with <pad> (id 0)
  await writeJson("config.json", configJson(variant, sizes, sizes.vocab, padId, 1));
  await writeJson("preprocessor_config.json", preprocessorJson(variant, sizes));
  await writeJson("tokenizer.json", tokenizer["tokenizer.json"]);
  await writeJson("tokenizer_config.json", tokenizer["tokenizer_config.json"]);
  await writeJson("special_tokens_map.json", special);

  const metadata = { logit_scale: String(logitScale), logit_bias: String(logitBias), model_type: variant };
  const build: Record<TinySiglipTower, () => Graph> = {
    vision: () => {
      const g = new Graph("vision_model");
      const out = visionFromInputs(g, new WeightFactory(g, seed), variant, vs, "batch_size");
      g.output(out.lastHiddenState, "last_hidden_state");
      g.output(out.pooled, "pooler_output");
      return g;
    },
    text: () => {
      const g = new Graph("text_model");
      const ids = g.input("input_ids", "int64", ["batch_size", sizes.textLength]);
      const out = textTower(g, new WeightFactory(g, seed), ids, ts);
      g.output(out.lastHiddenState, "last_hidden_state");
      g.output(out.pooled, "pooler_output");
      return g;
    },
    combined: () => {
      const g = new Graph("model");
      const w = new WeightFactory(g, seed);
      const ids = g.input("input_ids", "int64", ["text_batch_size", sizes.textLength]);
      const text = textTower(g, w, ids, ts);
      const vision = visionFromInputs(g, w, variant, vs, "image_batch_size");
      const textEmbeds = l2normalize(g, text.pooled); // [T, D]
      const imageEmbeds = l2normalize(g, vision.pooled); // [I, D]
      const scale = g.initializer("logit_scale", "float32", [1], [logitScale]);
      const bias = g.initializer("logit_bias", "float32", [1], [logitBias]);
      const cos = g.matmul(textEmbeds, g.transpose(imageEmbeds, [1, 0])); // [T, I]
      const logitsPerText = g.add(g.mul(cos, g.exp(scale)), bias);
      g.output(g.transpose(logitsPerText, [1, 0]), "logits_per_image"); // [I, T]
      g.output(logitsPerText, "logits_per_text");
      g.output(textEmbeds, "text_embeds");
      g.output(imageEmbeds, "image_embeds");
      return g;
    },
  };
  const stem: Record<TinySiglipTower, string> = {
    vision: "vision_model",
    text: "text_model",
    combined: "model",
  };
  for (const tower of towers) {
    const graph = build[tower]();
    for (const dtype of dtypes) {
      const save: SaveOptions = {
        metadata,
        externalData: options.externalData,
        float16Weights: dtype === "fp16",
      };
      const suffix = dtype === "fp32" ? "" : `_${dtype}`;
      files.push(...(await saveModel(graph, path.join(dir, "onnx", `${stem[tower]}${suffix}.onnx`), save)));
    }
  }
  return { dir, files, sizes, logitScale, logitBias };
}
