/**
 * Trains the demo's shapes adapter: the tiny SigLIP 2 of models/demo → a small gemma3 (128 wide, the
 * narrowest random model an adapter can steer, written to models/demo/shapes/gemma3.gguf) on the synthetic
 * coloured-shapes dataset (colour questions). The adapter is committed in adapters/shapes/, so
 * `npm run demo` gets real answers ("red") with no download.
 *
 *   node --import tsx scripts/train-demo-adapter.ts
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeTinyGemma3Gguf } from "../src/tiny/gemma3.js";
import { writeShapesDataset } from "../src/train/data/synthetic.js";
import { trainAdapter } from "../src/train/loop/trainer.js";

const SHAPES_LLM_DIMS = { embedding: 128, headDim: 32, ff: 256 };

const root = path.join(import.meta.dirname, "..", "models", "demo");
const out = path.join(root, "shapes");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-demo-train-"));
try {
  await writeTinyGemma3Gguf(path.join(out, "gemma3.gguf"), { seed: 0, type: "f32", dims: SHAPES_LLM_DIMS });
  const train = await writeShapesDataset(path.join(work, "train"), {
    count: 200,
    seed: 1,
    size: 32,
    tasks: ["color"],
  });
  const val = await writeShapesDataset(path.join(work, "val"), {
    count: 40,
    seed: 2,
    size: 32,
    tasks: ["color"],
  });
  const result = await trainAdapter({
    data: train.file,
    valFile: val.file,
    encoder: path.join(root, "siglip2"),
    llm: path.join(out, "gemma3.gguf"),
    out: path.join(work, "adapter"),
    epochs: 10,
    seed: 0,
    featureCacheDir: path.join(work, "features"),
  });
  fs.mkdirSync(path.join(out, "adapter"), { recursive: true });
  for (const f of ["adapter.json", "adapter.safetensors"]) {
    fs.copyFileSync(path.join(work, "adapter", f), path.join(out, "adapter", f));
  }
  console.log(
    `validation loss ${result.initialValLoss.toFixed(3)} → ${result.finalValLoss.toFixed(3)}; adapter in ${out}/adapter`,
  );
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
