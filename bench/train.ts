/**
 * bench:train — seconds per training example for a Gemma-3-270M-shaped random gemma3 (F16 GGUF,
 * dequantized to float32 once) with 256 image rows + 32 text rows: forward through the adapter and
 * the frozen LLM, backward to the adapter, and one AdamW step per example.
 *
 * The matmul-bound limit is measured in the same run: the loss graph's FLOPs (counted from its MatMul
 * and FusedMatMul shapes, forward + backward) divided by the GEMM rate of this machine (a large
 * float32 MatMul in onnxruntime with the same thread count). Graph and GEMM runs are interleaved, so
 * load from other processes hits both alike. Last line: JSON with `ratio` = measured ÷ limit (goal 1.5).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { LinearAdapter } from "../src/adapter/linear-adapter.js";
import { defaultThreads } from "../src/env.js";
import { Graph, serializeModel } from "../src/graph/index.js";
import { tensor } from "../src/tensor.js";
import { writeTinyGemma3Gguf } from "../src/tiny/gemma3.js";
import { SeededRandom } from "../src/tiny/random.js";
import type { ExampleLayout } from "../src/train/data/example-layout.js";
import { AdamW, adapterParamGroups, gradientsInOrder } from "../src/train/loop/optimizer.js";
import { AdapterLoss } from "../src/train/model/adapter-loss.js";
import { buildAdapterLossGraph } from "../src/train/model/loss-graph.js";

const IMAGE = 256;
const TEXT = 32;
const ANSWER = 8;
const DV = 768; // SigLIP 2 base
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const GEMM = 1024; // [GEMM, GEMM] · [GEMM, GEMM]

const root = path.join(os.tmpdir(), "vlmkit-bench-train");
const gguf = path.join(root, "gemma-3-270m-f16.gguf");
fs.mkdirSync(root, { recursive: true });
if (!fs.existsSync(gguf)) {
  console.error(`writing a Gemma-3-270M-shaped F16 GGUF to ${gguf} (about a minute) ...`);
  await writeTinyGemma3Gguf(`${gguf}.partial`, { preset: "gemma-3-270m", type: "f16" });
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
console.log(
  JSON.stringify({
    bench: "train",
    ratio: Number((secondsPerExample / limitSeconds).toFixed(3)),
    goal: 1.5,
    secondsPerExample: Number(secondsPerExample.toFixed(4)),
    limitSeconds: Number(limitSeconds.toFixed(4)),
    gflop: Number(gflop.toFixed(2)),
    gemmGflops: Number(gemmGflops.toFixed(1)),
    peakRssMiB: Math.round(peakRssMiB),
  }),
);
await loss.dispose();
await gemm.release();
