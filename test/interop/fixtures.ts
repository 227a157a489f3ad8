// Tiny fixtures for the mmproj interop tests, all written by vlmkit itself: a fixed-resolution SigLIP 2
// encoder (64 px, 8 px patches: an 8×8 grid), a tiny gemma3 GGUF (n_embd 64) with Gemma's chat template,
// an adapter of each exportable kind with seeded weights, a test image, and vlmkit's own embeddings.
import fs from "node:fs";
import path from "node:path";
import type { AdapterCardInput, AdapterKindName } from "../../src/adapter/index.js";
import { type Adapter, initAdapter, loadAdapter, saveAdapter } from "../../src/adapter/index.js";
import { VisionEncoder } from "../../src/encoders/index.js";
import type { RgbImage } from "../../src/image/index.js";
import { vocabFingerprint } from "../../src/llm/identity.js";
import type { Tensor } from "../../src/tensor.js";
import { GEMMA3_CHAT_TEMPLATE, tinyGemma3Vocab, writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";

export const IMAGE_SIZE = 64;
export const PATCH = 8;
export const DV = 32;
export const DL = 64;

export interface Parts {
  encoder: string;
  llm: string;
}

/** The encoder and LLM every interop test shares. */
export async function writeParts(dir: string): Promise<Parts> {
  const encoder = path.join(dir, "siglip2");
  await writeTinySiglip(encoder, {
    variant: "siglip2",
    towers: ["vision"],
    seed: 7,
    sizes: { imageSize: IMAGE_SIZE, patch: PATCH },
  });
  const llm = path.join(dir, "gemma3.gguf");
  await writeTinyGemma3Gguf(llm, { seed: 3, chatTemplate: GEMMA3_CHAT_TEMPLATE });
  return { encoder, llm };
}

/** An adapter of `kind` on the shared parts, saved to `dir`. */
/** The card of an adapter from the fixtures' tower to the tiny gemma3, laid out as mtmd lays gemma3 out. */
export function fixtureCard(llmName: string, imageTokens: number, bidirectional: boolean): AdapterCardInput {
  const vocab = tinyGemma3Vocab();
  return {
    encoder: {
      id: "siglip2",
      family: "siglip",
      hidden: DV,
      preprocessing: { kind: "fixed", size: IMAGE_SIZE, patch_size: PATCH },
    },
    llm: {
      architecture: "gemma3",
      n_embd: DL,
      n_vocab: vocab.tokens.length,
      vocab_fingerprint: vocabFingerprint(vocab.tokens),
      name: llmName,
    },
    prompt: { style: "gemma-chat", image_tokens: imageTokens },
    attention: bidirectional ? "bidirectional-image" : "causal",
  };
}

export async function writeAdapter(
  dir: string,
  kind: AdapterKindName,
  factor: number,
  seed = 1,
): Promise<string> {
  const adapter: Adapter = initAdapter(kind, { inputSize: DV, outputSize: DL, factor, seed });
  const side = IMAGE_SIZE / PATCH;
  await saveAdapter(dir, adapter, {
    ...fixtureCard("vlmkit-tiny-gemma3", Math.ceil(side / factor) ** 2, kind === "avgpool"),
    adapter: { kind, factor },
  });
  await adapter.dispose();
  return dir;
}

/** A smooth colourful image of `width`×`height` (gradients and a disc, so every patch differs). */
export function testImage(width = IMAGE_SIZE, height = IMAGE_SIZE): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inDisc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (Math.min(width, height) * 0.25) ** 2;
      data[i] = inDisc ? 230 : Math.round((255 * x) / width);
      data[i + 1] = inDisc ? 40 : Math.round((255 * y) / height);
      data[i + 2] = Math.round(128 + 100 * Math.sin((x + y) / 7));
    }
  }
  return { data, width, height };
}

/** vlmkit's image embeddings of `image` (pixels or a file): encoder → adapter. [M, Dl] */
export async function vlmkitEmbeddings(
  encoderDir: string,
  adapterDir: string,
  image: RgbImage | string,
): Promise<Tensor> {
  const encoder = await VisionEncoder.load(encoderDir, { threads: 1 });
  const { projection } = await loadAdapter(adapterDir);
  try {
    const [f] = await encoder.encode([image]);
    return await projection.apply(f.patches, f.grid);
  } finally {
    await projection.dispose();
    await encoder.dispose();
  }
}

/** Max and mean absolute difference, and the RMS of `a` for scale. */
export function difference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { max: number; mean: number; rms: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
    sq += a[i] * a[i];
  }
  return { max, mean: sum / a.length, rms: Math.sqrt(sq / a.length) };
}

export function readF32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
