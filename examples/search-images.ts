/**
 * Text → image search over a folder with SigLIP / SigLIP 2 embeddings.
 *
 *   npx tsx examples/search-images.ts <folder> "a red bicycle" [--encoder <id|dir>] [--top 5]
 *
 * Embeds every image in the folder once, embeds the query with the text tower, and ranks images by
 * cosine similarity (embeddings are unit-norm, so a dot product). Also prints the sigmoid match score.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { dot, resolveModelDir, Siglip, sigmoid } from "../src/index.js";

const IMAGE_EXT = new Set([".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".avif", ".bmp"]);

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    encoder: { type: "string", default: "siglip2-base-patch16-224" },
    top: { type: "string", default: "5" },
  },
});
const [folder, query] = positionals;
if (!folder || !query) {
  console.error('usage: search-images.ts <folder> "<query>" [--encoder <id|dir>] [--top k]');
  process.exit(2);
}

const files = fs
  .readdirSync(folder)
  .filter((f) => IMAGE_EXT.has(path.extname(f).toLowerCase()))
  .map((f) => path.join(folder, f));
const model = await Siglip.load(await resolveModelDir(values.encoder));
const [imageVectors, [queryVector], logit] = await Promise.all([
  model.embedImages(files),
  model.embedTexts([query]),
  model.logitParams(),
]);
const ranked = files
  .map((file, i) => {
    const cos = dot(imageVectors[i], queryVector);
    return { file, cos, score: sigmoid(cos * logit.scale + logit.bias) };
  })
  .sort((a, b) => b.cos - a.cos)
  .slice(0, Number(values.top));
for (const r of ranked) console.log(`${r.cos.toFixed(4)}  p=${r.score.toFixed(4)}  ${r.file}`);
await model.dispose();
