/**
 * Child process of dataset-stream.test.ts: reads a large JSONL dataset through the real loader and
 * the feature preparation path (demo encoder, demo LLM's tokenizer), checks every row's side against
 * the seeded split hash, and prints one JSON line with the counts, the RSS before the dataset and
 * the peak RSS.
 * argv: <data.jsonl> <feature cache dir>
 */
import path from "node:path";
import { VisionEncoder } from "../../../src/encoders/index.js";
import { Llm } from "../../../src/llm/llm.js";
import { loadDataset } from "../../../src/train/data/dataset.js";
import { splitHash } from "../../../src/train/data/dataset-split.js";
import { FeatureCache } from "../../../src/train/data/feature-cache.js";
import { prepareExamples } from "../../../src/train/data/prepare-examples.js";

const [file, cacheDir] = process.argv.slice(2);
const VAL_FRACTION = 0.1;
const SEED = 3;

const encoder = await VisionEncoder.load(path.resolve("models/demo/siglip2"), { threads: 1 });
const llm = await Llm.load(path.resolve("models/demo/gemma3.gguf"), { contextSize: 256, threads: 1 });
// What the process holds before the dataset: Node, the modules, the two models.
const baseRssMiB = process.resourceUsage().maxRSS / 1024;

const dataset = await loadDataset(file, {
  valFraction: VAL_FRACTION,
  seed: SEED,
  splitBy: "id",
  onReport: () => {},
});
// Every row on each side, read back from the file, on the side its hash says.
let misplaced = 0;
let valRows = 0;
for await (const e of dataset.val) {
  valRows++;
  if (!(splitHash(e.id, SEED) < VAL_FRACTION)) misplaced++;
}
// The first training rows, read back in file order.
let lastLine = 0;
for (const e of await dataset.train.take(10_000)) {
  if (splitHash(e.id, SEED) < VAL_FRACTION || e.line <= lastLine) misplaced++;
  lastLine = e.line;
}

const cache = await FeatureCache.open(encoder, { dir: cacheDir });
const data = await prepareExamples(dataset, cache, {
  style: "paligemma",
  attention: "prefix-lm",
  tokenize: (text, special) => llm.model.tokenize(text, { parseSpecial: special }),
});
// Examples laid out from rows read at positions spread over the whole file.
let laidOut = 0;
const step = Math.floor(data.train.length / 2000);
for (let i = 0; i < data.train.length; i += step) {
  const ex = await data.train.get(i);
  if (ex.layout.targets.length > 0 && ex.features.dims[0] === ex.layout.imageTokens) laidOut++;
}
const inputRms = await data.inputRms();
await llm.dispose();
await encoder.dispose();
console.log(
  JSON.stringify({
    train: dataset.train.length,
    val: dataset.val.length,
    valRows,
    misplaced,
    bad: dataset.badRowCount,
    kept: dataset.badRows.length,
    images: dataset.imagePaths().length,
    computed: data.computed,
    laidOut,
    inputRms,
    baseRssMiB,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);
