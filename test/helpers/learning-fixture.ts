// The setup shared by the learning tests: a tiny SigLIP 2, a tiny gemma3 wide enough to be steered,
// and shapes datasets (colour task) for training and held-out validation, in a fresh temp folder.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { writeShapesDataset } from "../../src/train/data/synthetic.js";

// The 64-wide tiny gemma3 could not be steered to both the colour word and <eos> (loss stalled near
// 0.3 even on four fixed inputs); twice as wide it can, and a step still takes ~3 ms.
export const LLM_DIMS = { embedding: 128, headDim: 32, ff: 256 };

export interface LearningFixture {
  dir: string;
  encoder: string;
  gguf: string;
  trainFile: string;
  valFile: string;
}

export async function writeLearningFixture(prefix: string): Promise<LearningFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const encoder = path.join(dir, "siglip2");
  const gguf = path.join(dir, "gemma3.gguf");
  await writeTinySiglip(encoder, { variant: "siglip2", seed: 0 });
  await writeTinyGemma3Gguf(gguf, { seed: 0, type: "f32", dims: LLM_DIMS });
  const shapes = (sub: string, count: number, seed: number) =>
    writeShapesDataset(path.join(dir, sub), { count, seed, size: 32, tasks: ["color"] });
  const trainFile = (await shapes("train", 200, 1)).file;
  const valFile = (await shapes("val", 40, 2)).file;
  return { dir, encoder, gguf, trainFile, valFile };
}
