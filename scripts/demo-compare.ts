/**
 * `npm run demo:compare`: SigLIP vs SigLIP 2 (the bundled tiny encoders) on a synthetic labelled
 * imagefolder where the answer is a pixel-scale detail. Each image is a shape painted in one-pixel
 * stripes of a colour and its complement; the class is the colour. At 32 px (SigLIP 2) the stripes are
 * there; at 16 px (the tiny SigLIP) every colour averages to the same grey. `linear-probe` and `vlm`
 * (an adapter per encoder on the small shapes LLM) should both name SigLIP 2 the winner with p < 0.05.
 *
 *   npm run demo:compare [-- --out <dir>] [--count <n>]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main } from "../src/cli/main.js";
import { COLOR_QUESTION, writeShapesDataset } from "../src/train/index.js";

// Paths relative to where npm runs (the package root), so the report shows `models/demo/siglip`.
const root = path.relative(process.cwd(), path.join(import.meta.dirname, "..")) || ".";
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const out = path.resolve(flag("--out") ?? path.join(os.tmpdir(), "vlmkit-demo-compare"));
const count = Number(flag("--count") ?? 180);

/** The shapes dataset regrouped as an imagefolder: `<dir>/<colour>/<image>`. */
async function writeStripedColours(dir: string): Promise<string> {
  const shapes = await writeShapesDataset(path.join(dir, "shapes"), {
    count,
    size: 32,
    seed: 1,
    tasks: ["color"],
    fill: "stripes",
  });
  const classes = path.join(dir, "classes");
  fs.rmSync(classes, { recursive: true, force: true });
  for (const img of shapes.images) {
    fs.mkdirSync(path.join(classes, img.color), { recursive: true });
    fs.copyFileSync(
      path.join(dir, "shapes", img.image),
      path.join(classes, img.color, path.basename(img.image)),
    );
  }
  return classes;
}

const data = await writeStripedColours(path.join(out, "data"));
process.stdout.write(`dataset: ${count} striped shapes in ${data}\n`);
await main([
  process.argv[0],
  "vlmkit",
  "compare",
  "--encoders",
  `siglip=${path.join(root, "models/demo/siglip")},siglip2=${path.join(root, "models/demo/siglip2")}`,
  "--data",
  data,
  "--task",
  "linear-probe,knn,zeroshot,vlm,speed",
  "--llm",
  path.join(root, "adapters/shapes/gemma3.gguf"),
  "--question",
  COLOR_QUESTION,
  "--out",
  path.join(out, "report"),
]);
