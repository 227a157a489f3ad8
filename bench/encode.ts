/**
 * bench:encode — images/s of a SigLIP-2-base-sized vision encoder (12 layers, 768 wide, 224 px,
 * 196 patches, random weights written by vlmkit's graph builder), decode + preprocessing + inference,
 * at batch 1, 8 and 32, side by side with transformers.js loading the very same files.
 * Last line: JSON with `ratio` = vlmkit ÷ transformers.js images/s at batch 8 (goal ≥ 1.2).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AutoImageProcessor, env, RawImage, SiglipVisionModel } from "@huggingface/transformers";
import { VisionEncoder } from "../src/encoders/index.js";
import { writeTinySiglip } from "../src/tiny/siglip.js";
import { writeSyntheticJpegs } from "./synthetic-images.js";

const root = path.join(os.tmpdir(), "vlmkit-bench-encode");
const modelName = "siglip2-base-random";
const modelDir = path.join(root, modelName);
const BATCHES = [1, 8, 32];
const IMAGES: Record<number, number> = { 1: 8, 8: 32, 32: 64 };

if (!fs.existsSync(path.join(modelDir, "onnx", "vision_model.onnx"))) {
  console.error(`writing a SigLIP-2-base-sized vision encoder to ${modelDir} ...`);
  await writeTinySiglip(modelDir, { variant: "siglip2", preset: "base", towers: ["vision"] });
}
const images = await writeSyntheticJpegs(path.join(root, "images"), Math.max(...Object.values(IMAGES)));

const vlmkit = await VisionEncoder.load(modelDir);

env.allowRemoteModels = false;
env.localModelPath = root;
const tjsProcessor = await AutoImageProcessor.from_pretrained(modelName);
const tjsModel = await SiglipVisionModel.from_pretrained(modelName, { dtype: "fp32", device: "cpu" });

async function runVlmkit(files: string[], batch: number): Promise<void> {
  await vlmkit.encode(files, { batchSize: batch });
}

async function runTransformersJs(files: string[], batch: number): Promise<void> {
  for (let i = 0; i < files.length; i += batch) {
    const raw = await Promise.all(files.slice(i, i + batch).map((f) => RawImage.read(f)));
    const inputs = await tjsProcessor(raw);
    const out = await tjsModel(inputs);
    out.pooler_output.dispose?.();
  }
}

async function imagesPerSecond(
  fn: (f: string[], b: number) => Promise<void>,
  batch: number,
): Promise<number> {
  const files = images.slice(0, IMAGES[batch]);
  await fn(files.slice(0, batch), batch); // warm-up
  const t0 = performance.now();
  await fn(files, batch);
  return files.length / ((performance.now() - t0) / 1000);
}

const rows: { batch: number; vlmkit: number; transformersJs: number; ratio: number }[] = [];
for (const batch of BATCHES) {
  const a = await imagesPerSecond(runVlmkit, batch);
  const b = await imagesPerSecond(runTransformersJs, batch);
  rows.push({ batch, vlmkit: a, transformersJs: b, ratio: a / b });
  console.log(
    `batch ${String(batch).padStart(2)}: vlmkit ${a.toFixed(2)} img/s   transformers.js ${b.toFixed(2)} img/s   ratio ${(a / b).toFixed(2)}`,
  );
}
await vlmkit.dispose();
const at8 = rows.find((r) => r.batch === 8)!;
console.log(
  JSON.stringify({
    bench: "encode",
    ratio: Number(at8.ratio.toFixed(3)),
    goal: 1.2,
    model: "siglip2-base-sized (random weights), 224px, 196 patches",
    imagesPerSecond: Object.fromEntries(
      rows.map((r) => [
        `b${r.batch}`,
        { vlmkit: Number(r.vlmkit.toFixed(2)), transformersJs: Number(r.transformersJs.toFixed(2)) },
      ]),
    ),
    cores: os.availableParallelism(),
  }),
);
