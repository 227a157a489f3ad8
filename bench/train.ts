/**
 * bench:train — seconds per training example for a Gemma-3-270M-shaped random gemma3 (F16 GGUF,
 * dequantized to float32 once) with 256 image rows + 32 text rows: forward through the adapter and
 * the frozen LLM, backward to the adapter, and one AdamW step per example.
 *
 * Then the same step for every adapter kind at 256, 64 and 16 image tokens (32 text rows each):
 * linear and mlp map patches to tokens one to one, pixel-shuffle (r = 2) takes tokens of width 4·Dv,
 * avgpool (k = 4) tokens of width Dv. The merge itself is not in the step: the trainer merges each
 * image once, when its features are cached. `BENCH_PRESET=tiny` runs everything on the tiny gemma3
 * (seconds; proves the bench works, the numbers mean little).
 *
 * The matmul-bound limit is measured in the same run: the loss graph's FLOPs (counted from its MatMul
 * and FusedMatMul shapes, forward + backward) divided by the GEMM rate of this machine (a large
 * float32 MatMul in onnxruntime with the same thread count). Graph and GEMM runs are interleaved, so
 * load from other processes hits both alike. Last line: JSON with `ratio` = measured ÷ limit (goal ≤ 1.3).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { ADAPTER_KINDS, type AdapterKindName, initAdapter, kindSpec } from "../src/adapter/index.js";
import { LinearAdapter } from "../src/adapter/linear-adapter.js";
import { defaultThreads } from "../src/env.js";
import { Graph, serializeModel } from "../src/graph/index.js";
import { tensor } from "../src/tensor.js";
import { writeTinyGemma3Gguf } from "../src/tiny/gemma3.js";
import type { ExampleLayout } from "../src/train/data/example-layout.js";
import { AdamW, adapterParamGroups, gradientsInOrder } from "../src/train/loop/optimizer.js";
import { AdapterLoss } from "../src/train/model/adapter-loss.js";
import { buildAdapterLossGraph } from "../src/train/model/loss-graph.js";
import { SeededRandom } from "../src/util/random.js";

const IMAGE = 256;
const TEXT = 32;
const ANSWER = 8;
const DV = 768; // SigLIP 2 base
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const GEMM = 1024; // [GEMM, GEMM] · [GEMM, GEMM]
const PRESET = process.env.BENCH_PRESET === "tiny" ? "tiny" : "gemma-3-270m";
const KIND_TOKENS = [256, 64, 16];
const KIND_FACTORS: Record<AdapterKindName, number> = { linear: 1, mlp: 1, "pixel-shuffle": 2, avgpool: 4 };

const root = path.join(os.tmpdir(), "vlmkit-bench-train");
const gguf = path.join(root, `${PRESET}-f16.gguf`);
fs.mkdirSync(root, { recursive: true });
if (!fs.existsSync(gguf)) {
  console.error(`writing a ${PRESET}-shaped F16 GGUF to ${gguf} ...`);
  await writeTinyGemma3Gguf(`${gguf}.partial`, { preset: PRESET, type: "f16" });
  fs.renameSync(`${gguf}.partial`, gguf);
}
const threads = defaultThreads();

const t = performance.now();
const loss = await AdapterLoss.load(gguf, { threads, textBuckets: [TEXT], outputBuckets: [ANSWER] });
const loadSeconds = (performance.now() - t) / 1000;
const spec = loss.spec;
const E = spec.embedding;

// One PaliGemma-shaped example: image rows, then text; prefix-LM over image + prefix, answer causal.
const L = IMAGE + TEXT;
const rng = new SeededRandom(1);
const tokens = Int32Array.from({ length: L }, (_, i) => (i < IMAGE ? 0 : 300 + rng.int(spec.vocab - 300)));
const firstAnswer = L - ANSWER;
const layout: ExampleLayout = {
  tokens,
  imageStart: 0,
  imageTokens: IMAGE,
  bidirectional: [{ start: 0, end: firstAnswer }],
  outputPositions: Array.from({ length: ANSWER }, (_, i) => firstAnswer - 1 + i),
  targets: Array.from({ length: ANSWER }, (_, i) => tokens[firstAnswer + i]),
};
const features = tensor(
  Float32Array.from({ length: IMAGE * DV }, () => rng.normal(0, 1)),
  [IMAGE, DV],
);
const example = { layout, features };
const adapter = LinearAdapter.init({
  inputSize: DV,
  outputSize: E,
  seed: 0,
  targetRms: loss.tokenEmbeddingRms(),
});
const optimizer = new AdamW(adapterParamGroups(adapter));

/** 2·M·N·K for every MatMul / FusedMatMul of the graph (forward and backward). */
function matmulFlops(g: Graph): number {
  let flops = 0;
  for (const node of g.nodes) {
    if (node.op !== "MatMul" && node.op !== "FusedMatMul") continue;
    const a = node.inputs[0]!;
    const out = node.outputs[0];
    const transA = node.attrs.transA?.value === 1;
    const k = Number(transA ? a.shape.at(-2) : a.shape.at(-1));
    flops += 2 * k * out.shape.reduce<number>((p, d) => p * Number(d), 1);
  }
  return flops;
}
const { graph } = buildAdapterLossGraph(spec, { length: L, outputs: ANSWER, featureSize: DV });
const gflop = matmulFlops(graph) / 1e9;

// The GEMM reference: one float32 MatMul in onnxruntime, same threads.
const gg = new Graph("gemm");
gg.output(gg.matmul(gg.input("a", "float32", [GEMM, GEMM]), gg.input("b", "float32", [GEMM, GEMM])), "c");
const gemm = await ort.InferenceSession.create(serializeModel(gg), {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
});
const gemmFeeds = {
  a: new ort.Tensor(
    "float32",
    Float32Array.from({ length: GEMM * GEMM }, () => rng.normal()),
    [GEMM, GEMM],
  ),
  b: new ort.Tensor(
    "float32",
    Float32Array.from({ length: GEMM * GEMM }, () => rng.normal()),
    [GEMM, GEMM],
  ),
};
const gemmGflop = (2 * GEMM ** 3) / 1e9;

async function trainStep(): Promise<number> {
  const s = performance.now();
  const r = await loss.run(example, adapter);
  optimizer.update(gradientsInOrder(optimizer.groups, r.gradients as Map<string, Float32Array>), 1e-4);
  return (performance.now() - s) / 1000;
}
async function gemmRate(): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const s = performance.now();
    await gemm.run(gemmFeeds);
    best = Math.min(best, (performance.now() - s) / 1000);
  }
  return gemmGflop / best;
}

const first = await trainStep(); // includes building the session
await gemmRate();
const steps: number[] = [];
const rates: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  steps.push(await trainStep());
  rates.push(await gemmRate());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const secondsPerExample = median(steps);
const buildSeconds = first - secondsPerExample;
const gemmGflops = median(rates);
const limitSeconds = gflop / gemmGflops;
const peakRssMiB = process.resourceUsage().maxRSS / 1024;

console.error(
  `gemma-3-270m shape (E ${E}, ${spec.layers} layers, V ${spec.vocab}), T ${L} (${IMAGE} image + ${TEXT} text), ${ANSWER} answer rows, ${threads} threads`,
);
console.error(`load + dequantize ${loadSeconds.toFixed(1)} s, session build ≈ ${buildSeconds.toFixed(2)} s`);
console.error(`train step (forward + backward + AdamW): ${steps.map((s) => s.toFixed(3)).join(" ")} s`);
console.error(`GEMM ${GEMM}³: ${rates.map((r) => r.toFixed(0)).join(" ")} GFLOP/s`);
console.error(
  `matmul FLOPs per example ${gflop.toFixed(1)} GFLOP → limit ${limitSeconds.toFixed(3)} s at ${gemmGflops.toFixed(0)} GFLOP/s`,
);
console.error(
  `peak RSS ${peakRssMiB.toFixed(0)} MiB; load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
/** Median seconds per example of each kind at each image-token count. */
async function kindTable(): Promise<Record<string, Record<number, number>>> {
  const table: Record<string, Record<number, number>> = {};
  for (const kind of ADAPTER_KINDS) {
    table[kind] = {};
    const factor = KIND_FACTORS[kind];
    const a = initAdapter(kind, { inputSize: DV, outputSize: E, factor, seed: 0, targetRms: 1 });
    const opt = new AdamW(adapterParamGroups(a));
    const width = kindSpec(kind).tokenWidth(DV, factor);
    for (const n of KIND_TOKENS) {
      const len = n + TEXT;
      const ids = Int32Array.from({ length: len }, (_, i) => (i < n ? 0 : 300 + rng.int(spec.vocab - 300)));
      const answerStart = len - ANSWER;
      const ex = {
        layout: {
          tokens: ids,
          imageStart: 0,
          imageTokens: n,
          bidirectional: [{ start: 0, end: answerStart }],
          outputPositions: Array.from({ length: ANSWER }, (_, i) => answerStart - 1 + i),
          targets: Array.from({ length: ANSWER }, (_, i) => ids[answerStart + i]),
        },
        features: tensor(rng.normalArray(n * width, 1), [n, width]), // merged tokens [n, W]
      };
      const step = async () => {
        const s0 = performance.now();
        const r = await loss.run(ex, a);
        opt.update(gradientsInOrder(opt.groups, r.gradients as Map<string, Float32Array>), 1e-4);
        return (performance.now() - s0) / 1000;
      };
      await step(); // builds the session
      const times: number[] = [];
      for (let i = 0; i < Math.max(1, Math.ceil(ROUNDS / 2)); i++) times.push(await step());
      table[kind][n] = Number(median(times).toFixed(4));
    }
  }
  return table;
}
const kinds = await kindTable();
console.error("seconds per example by adapter kind and image tokens (+ 32 text rows):");
console.error(`  ${"kind".padEnd(14)}${KIND_TOKENS.map((n) => String(n).padStart(9)).join("")}`);
for (const [kind, row] of Object.entries(kinds)) {
  const label =
    KIND_FACTORS[kind as AdapterKindName] > 1 ? `${kind} ${KIND_FACTORS[kind as AdapterKindName]}` : kind;
  console.error(`  ${label.padEnd(14)}${KIND_TOKENS.map((n) => row[n].toFixed(3).padStart(9)).join("")}`);
}

console.log(
  JSON.stringify({
    bench: "train",
    preset: PRESET,
    ratio: Number((secondsPerExample / limitSeconds).toFixed(3)),
    goal: 1.3,
    secondsPerExample: Number(secondsPerExample.toFixed(4)),
    limitSeconds: Number(limitSeconds.toFixed(4)),
    gflop: Number(gflop.toFixed(2)),
    gemmGflops: Number(gemmGflops.toFixed(1)),
    peakRssMiB: Math.round(peakRssMiB),
    secondsPerExampleByKind: kinds,
  }),
);
await loss.dispose();
await gemm.release();
