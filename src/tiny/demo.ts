/**
 * The demo model set: every tiny model vlmkit can write, in one directory, laid out the way real models
 * are, so each command runs offline on real formats (weights are random: answers are meaningless).
 *
 *   siglip/ siglip2/ siglip2-naflex/   encoders (ONNX export layout); they differ as real ones do, so
 *                                       comparing them shows a difference (`DEMO_ENCODERS`)
 *   gemma3.gguf                         a tiny gemma3 LLM
 *   adapter/                            siglip2 → gemma3, PaliGemma prompt, prefix-LM attention
 *   adapter-chat/                       siglip2-naflex → gemma3, Gemma chat prompt, bidirectional image blocks
 *
 * Each adapter directory is a bundle: it also holds its encoder (`siglip2/` or `siglip2-naflex/`) and LLM (`gemma3.gguf`),
 * hard-linked where the file system allows, and its card records them by path and sha256, so
 * `vlmkit ask <image> <question> --adapter <dir>/adapter` runs with no other flag.
 */
import path from "node:path";
import { LinearAdapter, saveAdapter } from "../adapter/index.js";
import { readEncoderConfig } from "../encoders/model-config.js";
import { readPreprocessorConfig } from "../image/index.js";
import { vocabFingerprint } from "../llm/identity.js";
import type { AttentionMode, PromptStyle } from "../prompt/index.js";
import { cardForPairing } from "../vlm/pairing-card.js";
import { recordPartSource } from "../vlm/part-sources.js";
import { writeTinyGemma3Gguf } from "./gemma3.js";
import { type TinySiglipSizes, type TinySiglipVariant, writeTinySiglip } from "./siglip.js";

/**
 * How the demo encoders differ. SigLIP is narrower (16 wide), sees a coarser image (16 px in patches
 * of 4) and has its own weights (seed + 1), so a detail at the pixel scale of a 32 px image is lost
 * to it; SigLIP 2 (32 px, patch 8, 32 wide) keeps it; SigLIP 2 NaFlex shares SigLIP 2's weights and
 * differs by its variable-resolution preprocessing (up to 24 patches of 8 px).
 */
export const DEMO_ENCODERS: Record<
  TinySiglipVariant,
  { seedOffset: number; sizes?: Partial<TinySiglipSizes> }
> = {
  siglip: { seedOffset: 1, sizes: { hidden: 16, heads: 2, mlp: 32, imageSize: 16, patch: 4 } },
  siglip2: { seedOffset: 0 },
  "siglip2-naflex": { seedOffset: 0 },
};

export interface TinyDemoOptions {
  /** Weight seed. Default 0. */
  seed?: number;
}

export interface TinyDemo {
  dir: string;
  /** Part name → path. */
  parts: Record<string, string>;
}

export async function writeTinyDemo(dir: string, options: TinyDemoOptions = {}): Promise<TinyDemo> {
  const seed = options.seed ?? 0;
  const parts: Record<string, string> = {};
  for (const variant of ["siglip", "siglip2", "siglip2-naflex"] as const) {
    const out = path.join(dir, variant);
    const { seedOffset, sizes } = DEMO_ENCODERS[variant];
    await writeTinySiglip(out, { variant, seed: seed + seedOffset, sizes });
    parts[variant] = out;
  }
  const gguf = await writeTinyGemma3Gguf(path.join(dir, "gemma3.gguf"), { seed, type: "f32" });
  parts.llm = gguf.path;
  const llm = {
    architecture: "gemma3",
    nEmbd: gguf.dims.embedding,
    nVocab: gguf.tokens.length,
    vocabFingerprint: vocabFingerprint(gguf.tokens),
    name: "vlmkit-tiny-gemma3",
  };
  const pairs: [string, string, PromptStyle, AttentionMode][] = [
    ["adapter", "siglip2", "paligemma", "prefix-lm"],
    ["adapter-chat", "siglip2-naflex", "gemma-chat", "bidirectional-image"],
  ];
  for (const [name, encoder, style, attention] of pairs) {
    const encoderDir = parts[encoder];
    const config = readEncoderConfig(encoderDir);
    const adapterDir = path.join(dir, name);
    const sources = {
      encoder: await recordPartSource(adapterDir, encoderDir),
      llm: await recordPartSource(adapterDir, gguf.path),
    };
    const card = cardForPairing({
      encoder: { dir: encoderDir, config, preprocess: await readPreprocessorConfig(encoderDir) },
      llm,
      style,
      attention,
      sources,
    });
    const adapter = LinearAdapter.init({ inputSize: config.visionHidden, outputSize: llm.nEmbd, seed });
    parts[name] = adapterDir;
    await saveAdapter(adapterDir, adapter, card);
  }
  return { dir, parts };
}
