/**
 * `npm run demo`: the pipeline on the bundled demo models, through the CLI's own commands:
 * zero-shot scores of the example images with the tiny SigLIP 2 (random weights: the scores are
 * meaningless but real), then "what color is the shape?" about each image through the trained
 * `adapters/shapes` bundle (encoder → adapter → LLM), which answers blue, green, red.
 */
import fs from "node:fs";
import path from "node:path";
import { main } from "../src/cli/main.js";

// Paths relative to where npm runs (the package root), so the output shows `examples/images/…`.
const root = path.relative(process.cwd(), path.join(import.meta.dirname, "..")) || ".";
const imagesDir = path.join(root, "examples", "images");
const images = fs
  .readdirSync(imagesDir)
  .filter((f) => f.endsWith(".png"))
  .sort()
  .map((f) => path.join(imagesDir, f));

async function vlmkit(...args: string[]): Promise<void> {
  await main(["node", "vlmkit", ...args]);
  if (process.exitCode) process.exit(process.exitCode);
}

const QUESTION = "what color is the shape?";
console.log("zero-shot scores (tiny random-weight SigLIP 2):");
await vlmkit(
  "classify",
  ...images,
  "--labels",
  "red circle,blue square,green triangle",
  "--encoder",
  path.join(root, "models", "demo", "siglip2"),
);
console.log(`\nasking "${QUESTION}" (the adapters/shapes bundle):`);
for (const image of images) {
  process.stdout.write(`${image}: `);
  await vlmkit(
    "ask",
    image,
    QUESTION,
    "--adapter",
    path.join(root, "adapters", "shapes"),
    "--max-tokens",
    "8",
  );
}
