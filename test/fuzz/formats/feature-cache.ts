/**
 * Feature-cache entries: a cached entry of the demo encoder is mutated, then `FeatureCache.get`
 * must return features of the right shape — read from a valid entry, or recomputed when the entry
 * does not parse, holds another key or another shape (never trusted).
 */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { VisionEncoder } from "../../../src/encoders/vision-encoder.js";
import { FeatureCache } from "../../../src/train/data/feature-cache.js";
import type { FuzzFormat } from "../harness/format.js";
import { safetensorsSeeds } from "./safetensors.js";

let opened: { work: string; cache: FeatureCache; entry: string; expected: number[] } | undefined;

async function open(dir: string) {
  const encoder = await VisionEncoder.load(path.join(dir, "siglip2"), { threads: 1 });
  const cache = await FeatureCache.open(encoder, { dir: path.join(dir, "cache") });
  const features = await cache.get(path.join(dir, "image.png"));
  const entries = fs.readdirSync(path.join(dir, "cache"), { recursive: true }).map(String);
  const entry = entries.find((e) => e.endsWith(".safetensors"));
  if (!entry) throw new Error("the feature cache wrote no entry");
  return { cache, entry: path.join("cache", entry), expected: [...features.patches.dims] };
}

export const featureCache: FuzzFormat = {
  name: "feature-cache",
  target: "FeatureCache.get on a mutated entry (read, or recompute when invalid)",
  suiteCases: 120,
  timeoutMs: 10_000,
  async prepare(dir) {
    fs.cpSync("models/demo/siglip2", path.join(dir, "siglip2"), { recursive: true });
    await sharp({ create: { width: 20, height: 14, channels: 3, background: "#3080c0" } })
      .png()
      .toFile(path.join(dir, "image.png"));
    const { cache } = await open(dir);
    void cache;
  },
  async seeds(dir) {
    const entry = fs
      .readdirSync(path.join(dir, "cache"), { recursive: true })
      .map(String)
      .find((e) => e.endsWith(".safetensors"))!;
    return safetensorsSeeds(fs.readFileSync(path.join(dir, "cache", entry)), path.join("cache", entry));
  },
  async run(input, work) {
    if (opened?.work !== work) opened = { work, ...(await open(work)) };
    const file = path.join(work, opened.entry);
    fs.writeFileSync(file, input.bytes);
    const features = await opened.cache.get(path.join(work, "image.png"));
    const dims = [...features.patches.dims];
    if (dims.join() !== opened.expected.join())
      throw new Error(`features of shape [${dims}], expected [${opened.expected}]`);
    if (features.patches.data.length !== dims[0] * dims[1])
      throw new Error("features shorter than their shape");
  },
};
