/**
 * bench:encode — images/s of a SigLIP-2-base-sized vision encoder (12 layers, 768 wide, 224 px,
 * 196 patches, random weights written by vlmkit's graph builder), decode + preprocessing + inference.
 *
 * 1. At batch 1, 8 and 32, side by side with transformers.js loading the very same files (`ratio`).
 * 2. At batch 8, in alternating rounds within this one run (so machine load hits every side alike):
 *    - `pipelineEfficiency` = vlmkit images/s ÷ the same onnxruntime session's `run` on ready-made
 *      tensors of the same batch (goal ≥ 0.95: decoding and resizing hidden behind inference);
 *    - `fusedSpeedup` = images/s with the graph rewritten into onnxruntime's fused ops
 *      (`fuseGraph: true`, src/graph/optimize) ÷ the unfused graph (goal ≥ 1.3), and `fusedCosine`,
 *      the lowest cosine between their pooled embeddings;
 *    - `int8Speedup` = images/s of the dynamic-int8 `q8` file (`vision_model_quantized.onnx`, made by
 *      src/graph/quantize as onnxruntime's `quantize_dynamic` makes the public ones) ÷ fp32, and
 *      `int8Cosine`, the mean cosine between their pooled embeddings (`int8CosineMin` the lowest).
 *
 * Machine load (`os.loadavg`) is printed with the figures. Last line: one JSON object.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AutoImageProcessor, env, RawImage, SiglipVisionModel } from "@huggingface/transformers";
import * as ort from "onnxruntime-node";
import { VisionEncoder } from "../src/encoders/index.js";
import { cosine } from "../src/encoders/vectors.js";
import { readModel, saveModelProto } from "../src/graph/index.js";
import { quantizeDynamic } from "../src/graph/quantize/index.js";
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
const q8File = path.join(modelDir, "onnx", "vision_model_quantized.onnx");
if (!fs.existsSync(q8File)) {
  console.error(`writing its dynamic-int8 variant to ${q8File} ...`);
  const { model } = quantizeDynamic(await readModel(path.join(modelDir, "onnx", "vision_model.onnx")));
  await saveModelProto(model, q8File);
}
// The fused copy is cached with the benchmark's files, not in the user's cache.
process.env.VLMKIT_CACHE ??= path.join(root, "cache");

const vlmkit = await VisionEncoder.load(modelDir, { fuseGraph: false });

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

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const load = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const loadBefore = load();

const rows: { batch: number; vlmkit: number; transformersJs: number; ratio: number }[] = [];
for (const batch of BATCHES) {
  const a = await imagesPerSecond(runVlmkit, batch);
  const b = await imagesPerSecond(runTransformersJs, batch);
  rows.push({ batch, vlmkit: a, transformersJs: b, ratio: a / b });
  console.log(
    `batch ${String(batch).padStart(2)}: vlmkit ${a.toFixed(2)} img/s   transformers.js ${b.toFixed(2)} img/s   ratio ${(a / b).toFixed(2)}`,
  );
}
/** Seconds for one call of `fn`. */
async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

// ── 2. at batch 8: the encoder against its own session on ready-made tensors ──────────────────────
const B = 8;
const files8 = images.slice(0, IMAGES[B]);
const { height, width } = vlmkit.preprocess as { height: number; width: number };
const ready = new ort.Tensor(
  "float32",
  Float32Array.from({ length: B * 3 * height * width }, (_, i) => Math.sin(i) * 0.9),
  [B, 3, height, width],
); // [B, 3, H, W]
async function rawRuns(session: ort.InferenceSession): Promise<void> {
  for (let i = 0; i < files8.length; i += B) await session.run({ pixel_values: ready });
}
const fused = await VisionEncoder.load(modelDir, { fuseGraph: true });
const q8 = await VisionEncoder.load(modelDir, { dtype: "q8", fuseGraph: false });
const total = { encode: 0, raw: 0, fused: 0, q8: 0 };
for (let r = 0; r < ROUNDS; r++) {
  total.encode += await seconds(() => vlmkit.encode(files8, { batchSize: B }));
  total.raw += await seconds(() => rawRuns(vlmkit.session));
  total.fused += await seconds(() => fused.encode(files8, { batchSize: B }));
  total.q8 += await seconds(() => q8.encode(files8, { batchSize: B }));
  console.error(`round ${r + 1}/${ROUNDS} done, load ${load().join(" ")}`);
}
const perSecond = (s: number) => (ROUNDS * files8.length) / s;
const pipelineEfficiency = total.raw / total.encode;
const fusedSpeedup = total.encode / total.fused;
const int8Speedup = total.encode / total.q8;

const [base, withFusion, withInt8] = [
  await vlmkit.encode(files8, { batchSize: B }),
  await fused.encode(files8, { batchSize: B }),
  await q8.encode(files8, { batchSize: B }),
];
const fusedCosine = Math.min(...base.map((f, i) => cosine(f.pooled, withFusion[i].pooled)));
const int8Cosines = base.map((f, i) => cosine(f.pooled, withInt8[i].pooled));
const int8Cosine = int8Cosines.reduce((a, b) => a + b, 0) / int8Cosines.length;
const int8CosineMin = Math.min(...int8Cosines);
console.log(
  `batch  8, ${ROUNDS} alternating rounds of ${files8.length} images:\n` +
    `  encode (fp32, unfused)          ${perSecond(total.encode).toFixed(2)} img/s\n` +
    `  session.run on ready tensors    ${perSecond(total.raw).toFixed(2)} img/s   pipelineEfficiency ${pipelineEfficiency.toFixed(3)} (goal ≥ 0.95)\n` +
    `  encode, fused graph             ${perSecond(total.fused).toFixed(2)} img/s   fusedSpeedup ${fusedSpeedup.toFixed(3)} (goal ≥ 1.3), cosine ≥ ${fusedCosine.toFixed(6)}\n` +
    `  encode, q8 (dynamic int8)       ${perSecond(total.q8).toFixed(2)} img/s   int8Speedup ${int8Speedup.toFixed(3)}, cosine mean ${int8Cosine.toFixed(4)} min ${int8CosineMin.toFixed(4)}`,
);
await Promise.all([fused.dispose(), q8.dispose()]);
await vlmkit.dispose();
const loadAfter = load();
console.log(`load average (1, 5, 15 min): before ${loadBefore.join(" ")}, after ${loadAfter.join(" ")}`);
const at8 = rows.find((r) => r.batch === 8)!;
console.log(
  JSON.stringify({
    bench: "encode",
    ratio: Number(at8.ratio.toFixed(3)),
    goal: 1.2,
    pipelineEfficiency: Number(pipelineEfficiency.toFixed(3)),
    pipelineEfficiencyGoal: 0.95,
    fusedSpeedup: Number(fusedSpeedup.toFixed(3)),
    fusedSpeedupGoal: 1.3,
    fusedCosine: Number(fusedCosine.toFixed(6)),
    int8Speedup: Number(int8Speedup.toFixed(3)),
    int8Cosine: Number(int8Cosine.toFixed(4)),
    int8CosineMin: Number(int8CosineMin.toFixed(4)),
    rounds: ROUNDS,
    model: "siglip2-base-sized (random weights), 224px, 196 patches",
    imagesPerSecond: Object.fromEntries(
      rows.map((r) => [
        `b${r.batch}`,
        { vlmkit: Number(r.vlmkit.toFixed(2)), transformersJs: Number(r.transformersJs.toFixed(2)) },
      ]),
    ),
    cores: os.availableParallelism(),
    loadAverage: { before: loadBefore, after: loadAfter },
  }),
);
