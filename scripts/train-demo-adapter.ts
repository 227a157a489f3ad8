/**
 * Trains the demo's shapes adapter: the tiny SigLIP 2 of models/demo → a small gemma3 (128 wide, the
 * narrowest random model an adapter can steer) on the synthetic coloured-shapes dataset (colour
 * questions). The result is the bundle committed in adapters/shapes/: the adapter, its encoder
 * (`siglip2/`) and its LLM (`gemma3.gguf`), recorded in the card by path and sha256, so
 * `vlmkit ask examples/images/red-circle.png "what color is the shape?" --adapter adapters/shapes`
 * answers "red" with no download and no other flag.
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
const out = path.join(import.meta.dirname, "..", "adapters", "shapes");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-demo-train-"));
try {
  const llm = path.join(work, "gemma3.gguf");
  await writeTinyGemma3Gguf(llm, { seed: 0, type: "f32", dims: SHAPES_LLM_DIMS });
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
    llm,
    out: path.join(work, "adapter"),
    epochs: 10,
    seed: 0,
    featureCacheDir: path.join(work, "features"),
  });
  // The trained directory is already a bundle (the trainer carried the parts in); keep what it runs on.
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  for (const f of ["adapter.json", "adapter.safetensors", "gemma3.gguf", "siglip2"]) {
    fs.cpSync(path.join(work, "adapter", f), path.join(out, f), { recursive: true });
  }
  console.log(
    `validation loss ${result.initialValLoss.toFixed(3)} → ${result.finalValLoss.toFixed(3)}; bundle in ${out}`,
  );
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
