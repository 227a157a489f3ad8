/**
 * Training datasets: `loadDataset` on a JSONL file, a LLaVA JSON array and an imagefolder
 * (metadata.jsonl), each next to two small PNG images; bad rows are skipped and reported (the
 * default), and a dataset left without rows is refused.
 */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { loadDataset } from "../../../src/train/data/dataset.js";
import { type FuzzFormat, fileSeeds, withMember } from "../harness/format.js";
import type { FuzzInput } from "../harness/mutate.js";

async function writeImages(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, r] of [
    ["a.png", 255],
    ["b.png", 0],
  ] as const) {
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 80, b: 160 } } })
      .png()
      .toFile(path.join(dir, name));
  }
}

const lines = (rows: unknown[]) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;

async function load(input: FuzzInput, work: string): Promise<void> {
  await withMember(work, input.seed.name, input.bytes, async () => {
    const source = path.join(
      work,
      input.seed.name.startsWith("imagefolder/") ? "imagefolder" : input.seed.name,
    );
    const ds = await loadDataset(source, { onReport: () => {}, valFraction: 0.5 });
    ds.imagePaths();
  });
}

export const jsonl: FuzzFormat = {
  name: "dataset-jsonl",
  target: "loadDataset on a JSONL file (rows, columns, image paths, split)",
  suiteCases: 150,
  timeoutMs: 10_000,
  async prepare(dir) {
    await writeImages(dir);
    const rows = [
      { image: "a.png", question: "what color?", answer: "red" },
      { image: "b.png", prompt: "caption", caption: "blue", id: "b" },
      { image: "a.png", answer: "a red square" },
    ];
    fs.writeFileSync(path.join(dir, "data.jsonl"), lines(rows));
  },
  async seeds(dir) {
    return fileSeeds(dir, ["data.jsonl"], "jsonl");
  },
  run: load,
};

export const llava: FuzzFormat = {
  name: "dataset-llava",
  target: "loadDataset on a LLaVA JSON array (conversations, turns, image paths)",
  suiteCases: 100,
  timeoutMs: 10_000,
  async prepare(dir) {
    await writeImages(dir);
    const records = [
      {
        id: "1",
        image: "a.png",
        conversations: [
          { from: "human", value: "<image>\nwhat color?" },
          { from: "gpt", value: "red" },
          { from: "human", value: "and the shape?" },
          { from: "gpt", value: "square" },
        ],
      },
      {
        id: "2",
        image: "b.png",
        conversations: [
          { from: "human", value: "what is this?\n<image>" },
          { from: "gpt", value: "blue" },
        ],
      },
    ];
    fs.writeFileSync(path.join(dir, "data.json"), JSON.stringify(records, null, 1));
  },
  async seeds(dir) {
    return fileSeeds(dir, ["data.json"], "json");
  },
  run: load,
};

export const imagefolder: FuzzFormat = {
  name: "dataset-imagefolder",
  target: "loadDataset on an imagefolder (metadata.jsonl with file_name)",
  suiteCases: 100,
  timeoutMs: 10_000,
  async prepare(dir) {
    await writeImages(path.join(dir, "imagefolder"));
    const rows = [
      { file_name: "a.png", text: "a red square" },
      { file_name: "b.png", text: "a blue square", question: "describe" },
    ];
    fs.writeFileSync(path.join(dir, "imagefolder", "metadata.jsonl"), lines(rows));
  },
  async seeds(dir) {
    return fileSeeds(dir, ["imagefolder/metadata.jsonl"], "jsonl");
  },
  run: load,
};
