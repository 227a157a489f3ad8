/**
 * bench:llm — on a Gemma-3-270M-shaped GGUF written by vlmkit (random weights; F16 and Q8_0), in one run:
 *   1. prefill of 256 input embeddings vs 256 tokens through the addon (goal: ratio ≤ 1.05);
 *   2. decode tokens/s of Vlm generation (image + question) vs node-llama-cpp's own generation from the
 *      same token prompt at its default settings (`decodeVsNodeLlamaCpp`, goal ≥ 1.25);
 *   3. the native peer: llama.cpp's own `llama-bench` built from the same llama.cpp commit
 *      (scripts/llama-tools.ts: -march=native, OpenMP) on the same file and threads —
 *      `decodeVsNative` = Vlm decode ÷ tg64 (goal ≥ 0.97), `prefillVsNative` = addon prefill of 256
 *      tokens ÷ pp256 (goal ≥ 0.95). When the no-OpenMP build (`npm run llama-tools -- --no-openmp`)
 *      is cached too, it runs as well: same flags but ggml's own threadpool, which separates what
 *      OpenMP explains from what the rest of the build explains;
 *   4. the addon's raw greedy decode (no Vlm) with each ggml thread setting: the context's persistent
 *      threadpool (default, poll 0), the same polling 50, and ggml's per-graph threads.
 * Each model is loaded once per process by llama.cpp (node-llama-cpp's reference load shares the
 * weights through mmap); RSS is reported. Last line: JSON with the ratios above.
 * Options: --types f16,q8_0 (default both), --repeats N (default 3).
 */

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Token } from "node-llama-cpp";
import { llamaTool, llamaToolsBinDir, llamaToolsBuildInfo } from "../scripts/llama-tools.js";
import { LinearAdapter, saveAdapter } from "../src/adapter/index.js";
import { readEncoderConfig } from "../src/encoders/model-config.js";
import { readPreprocessorConfig } from "../src/image/index.js";
import { Llm } from "../src/llm/llm.js";
import { writeTinyGemma3Gguf } from "../src/tiny/gemma3.js";
import { writeTinySiglip } from "../src/tiny/siglip.js";
import { cardForPairing } from "../src/vlm/pairing-card.js";
import { Vlm } from "../src/vlm.js";
import { writeSyntheticJpegs } from "./synthetic-images.js";

const root = path.join(os.tmpdir(), "vlmkit-bench-llm");
const ROWS = 256;
const DECODE_TOKENS = 64;
const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const REPEATS = Number(argValue("--repeats") ?? 3);
const TYPES = (argValue("--types") ?? "f16,q8_0").split(",") as ("f16" | "q8_0")[];
const load = () => os.loadavg().map((x) => Number(x.toFixed(2)));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function model(type: "f16" | "q8_0"): Promise<string> {
  const file = path.join(root, `gemma-3-270m-random-${type}.gguf`);
  if (!fs.existsSync(file)) {
    console.error(`writing ${file} ...`);
    await writeTinyGemma3Gguf(file, { preset: "gemma-3-270m", type, seed: 1 });
  }
  return file;
}

async function prefill(llm: Llm): Promise<{ tokensMs: number; embeddingsMs: number; nonCausalMs: number }> {
  const ctx = llm.model.createContext({ contextSize: 1024, batchSize: 512 });
  const tokens = Int32Array.from({ length: ROWS }, (_, i) => 1000 + ((i * 7919) % 200000));
  const embeddings = await llm.tokenEmbeddings(tokens);
  const runs = {
    tokens: () => ctx.decode({ tokens, positions: 0 }),
    embeddings: () => ctx.decode({ embeddings, positions: 0 }),
    nonCausal: () => ctx.decode({ embeddings, positions: 0, causal: false }),
  };
  const ms: Record<keyof typeof runs, number[]> = { tokens: [], embeddings: [], nonCausal: [] };
  try {
    // Interleaved, so load from anything else on the machine hits all three alike; round 0 warms up.
    for (let r = 0; r <= REPEATS; r++) {
      for (const key of Object.keys(runs) as (keyof typeof runs)[]) {
        ctx.clear();
        const t0 = performance.now();
        await runs[key]();
        if (r > 0) ms[key].push(performance.now() - t0);
      }
    }
    return {
      tokensMs: median(ms.tokens),
      embeddingsMs: median(ms.embeddings),
      nonCausalMs: median(ms.nonCausal),
    };
  } finally {
    ctx.dispose();
  }
}

/** Decode tokens/s of Vlm generation and of node-llama-cpp's own, measured alternately. */
async function decodeRates(
  llm: Llm,
  file: string,
  encoderDir: string,
  adapterDir: string,
  image: string,
): Promise<{ ours: number; theirs: number }> {
  const vlm = await Vlm.load({ encoder: encoderDir, adapter: adapterDir, llm });
  const model = await llm.model.llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const ctx = await model.createContext({
    contextSize: 4096,
    batchSize: 512,
    threads: llm.engine.context.info.threads,
  });
  const prompt = Array.from({ length: ROWS + 16 }, (_, i) => (1000 + i * 13) % 200000) as Token[];
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let r = 0; r < REPEATS; r++) {
      const res = await vlm.ask([image], "describe the image", { maxTokens: DECODE_TOKENS });
      ours.push(res.timings.tokensPerSecond);
      const seq = ctx.getSequence();
      let n = 0;
      let first = 0;
      for await (const _ of seq.evaluate(prompt, { temperature: 0 })) {
        if (n === 0) first = performance.now();
        if (++n === DECODE_TOKENS) break;
      }
      theirs.push(((n - 1) * 1000) / (performance.now() - first));
      seq.dispose();
    }
  } finally {
    await ctx.dispose();
    await model.dispose();
    await vlm.dispose();
  }
  return { ours: median(ours), theirs: median(theirs) };
}

/** Greedy decode tokens/s through the addon alone, for one ggml thread setting of the context. */
async function rawDecode(llm: Llm, threadpool: false | { poll: number }): Promise<number> {
  const ctx = llm.model.createContext({ contextSize: 1024, batchSize: 512, threadpool });
  const sampler = llm.model.createSampler({ temperature: 0 });
  const prompt = Int32Array.from({ length: 16 }, (_, i) => 1000 + i * 13);
  const rates: number[] = [];
  try {
    for (let r = 0; r < REPEATS; r++) {
      ctx.clear();
      await ctx.decode({ tokens: prompt, positions: 0 });
      let token = sampler.sample(ctx, prompt.length - 1);
      const t0 = performance.now();
      for (let i = 0; i < DECODE_TOKENS; i++) {
        await ctx.decode({ tokens: [token] });
        token = sampler.sample(ctx, 0);
      }
      rates.push((DECODE_TOKENS * 1000) / (performance.now() - t0));
    }
    return median(rates);
  } finally {
    sampler.dispose();
    ctx.dispose();
  }
}

/** llama-bench pp256 and tg64 (tokens/s, mean of its repetitions) on `file` with `threads`. */
function llamaBench(bin: string, file: string, threads: number): { pp: number; tg: number } {
  const out = execFileSync(
    bin,
    [
      "-m",
      file,
      "-t",
      String(threads),
      "-p",
      String(ROWS),
      "-n",
      String(DECODE_TOKENS),
      "-b",
      "512",
      "-ub",
      "512",
    ].concat(["-ngl", "0", "-r", String(REPEATS), "-o", "json"]),
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 2 ** 20 },
  );
  const tests = JSON.parse(out) as { n_prompt: number; n_gen: number; avg_ts: number }[];
  const pp = tests.find((t) => t.n_prompt === ROWS && t.n_gen === 0)?.avg_ts;
  const tg = tests.find((t) => t.n_prompt === 0 && t.n_gen === DECODE_TOKENS)?.avg_ts;
  if (pp === undefined || tg === undefined)
    throw new Error(`unexpected llama-bench output: ${out.slice(0, 400)}`);
  return { pp, tg };
}

fs.mkdirSync(root, { recursive: true });
const benchBin = await llamaTool("llama-bench");
const benchBuild = llamaToolsBuildInfo();
const noOpenmpBin = llamaToolsBuildInfo({ openmp: false })?.tools.includes("llama-bench")
  ? path.join(llamaToolsBinDir({ openmp: false }), "llama-bench")
  : undefined;
const encoderDir = path.join(root, "siglip2-tiny");
if (!fs.existsSync(path.join(encoderDir, "onnx", "vision_model.onnx"))) {
  await writeTinySiglip(encoderDir, {
    variant: "siglip2",
    towers: ["vision"],
    sizes: { imageSize: 128, patch: 8 },
  }); // 256 patches
}
const [image] = await writeSyntheticJpegs(path.join(root, "images"), 1);

const rows: Record<string, unknown>[] = [];
for (const type of TYPES) {
  const file = await model(type);
  const llm = await Llm.load(file, { gpu: false, contextSize: 4096, batchSize: 512 });
  const adapterDir = path.join(root, `adapter-${type}`);
  const config = readEncoderConfig(encoderDir);
  await saveAdapter(
    adapterDir,
    LinearAdapter.init({
      inputSize: config.visionHidden,
      outputSize: llm.identity.nEmbd,
      seed: 1,
      targetRms: 0.02,
    }),
    cardForPairing({
      encoder: { dir: encoderDir, config, preprocess: await readPreprocessorConfig(encoderDir) },
      llm: llm.identity,
      style: "gemma-chat",
      attention: "bidirectional-image",
    }),
  );
  const loadBefore = load();
  const p = await prefill(llm);
  const { ours, theirs } = await decodeRates(llm, file, encoderDir, adapterDir, image);
  const threads = llm.engine.context.info.threads;
  const native = llamaBench(benchBin, file, threads);
  const nativeNoOpenmp = noOpenmpBin ? llamaBench(noOpenmpBin, file, threads) : undefined;
  const raw = {
    pool: await rawDecode(llm, { poll: 0 }),
    poll50: await rawDecode(llm, { poll: 50 }),
    perGraph: await rawDecode(llm, false),
  };
  const prefillTps = (ROWS * 1000) / p.tokensMs;
  const r2 = (x: number) => Number(x.toFixed(2));
  const row = {
    type,
    vocab: llm.identity.nVocab,
    prefillTokensMs: Number(p.tokensMs.toFixed(1)),
    prefillEmbeddingsMs: Number(p.embeddingsMs.toFixed(1)),
    prefillNonCausalMs: Number(p.nonCausalMs.toFixed(1)),
    prefillRatio: Number((p.embeddingsMs / p.tokensMs).toFixed(3)),
    vlmTokensPerSecond: Number(ours.toFixed(2)),
    nodeLlamaCppTokensPerSecond: Number(theirs.toFixed(2)),
    decodeVsNodeLlamaCpp: Number((ours / theirs).toFixed(3)),
    threads,
    prefillTokensPerSecond: r2(prefillTps),
    nativePp256: r2(native.pp),
    nativeTg64: r2(native.tg),
    prefillVsNative: Number((prefillTps / native.pp).toFixed(3)),
    decodeVsNative: Number((ours / native.tg).toFixed(3)),
    ...(nativeNoOpenmp && {
      nativeNoOpenmpPp256: r2(nativeNoOpenmp.pp),
      nativeNoOpenmpTg64: r2(nativeNoOpenmp.tg),
      decodeVsNativeNoOpenmp: Number((ours / nativeNoOpenmp.tg).toFixed(3)),
    }),
    rawDecodePoolTokensPerSecond: r2(raw.pool),
    rawDecodePoll50TokensPerSecond: r2(raw.poll50),
    rawDecodePerGraphTokensPerSecond: r2(raw.perGraph),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    loadAverage: { before: loadBefore, after: load() },
  };
  rows.push(row);
  console.log(
    `${type.padEnd(5)} prefill 256: tokens ${row.prefillTokensMs} ms, embeddings ${row.prefillEmbeddingsMs} ms (non-causal ${row.prefillNonCausalMs} ms) ratio ${row.prefillRatio} | decode: Vlm ${row.vlmTokensPerSecond} tok/s, node-llama-cpp ${row.nodeLlamaCppTokensPerSecond} tok/s ratio ${row.decodeVsNodeLlamaCpp} | RSS ${row.rssMiB} MiB`,
  );
  console.log(
    `      native llama-bench (${threads} threads, OpenMP): pp256 ${row.nativePp256} tok/s, tg64 ${row.nativeTg64} tok/s → prefillVsNative ${row.prefillVsNative}, decodeVsNative ${row.decodeVsNative}` +
      (nativeNoOpenmp
        ? ` | no-OpenMP build: pp256 ${row.nativeNoOpenmpPp256}, tg64 ${row.nativeNoOpenmpTg64}`
        : ""),
  );
  console.log(
    `      addon greedy decode: persistent pool ${row.rawDecodePoolTokensPerSecond} tok/s, pool polling 50 ${row.rawDecodePoll50TokensPerSecond}, per-graph threads ${row.rawDecodePerGraphTokensPerSecond} | load ${loadBefore.join(" ")} → ${row.loadAverage.after.join(" ")}`,
  );
  await llm.dispose();
}
const worst = (key: string, pick: (...xs: number[]) => number) => pick(...rows.map((r) => r[key] as number));
console.log(
  JSON.stringify({
    bench: "llm",
    prefillRatio: worst("prefillRatio", Math.max),
    prefillGoal: 1.05,
    decodeVsNodeLlamaCpp: worst("decodeVsNodeLlamaCpp", Math.min),
    decodeVsNodeLlamaCppGoal: 1.25,
    decodeVsNative: worst("decodeVsNative", Math.min),
    decodeVsNativeGoal: 0.97,
    prefillVsNative: worst("prefillVsNative", Math.min),
    prefillVsNativeGoal: 0.95,
    model: "gemma-3-270m-shaped (random weights)",
    native: { llamaCpp: benchBuild?.commit.slice(0, 12), cmakeFlags: benchBuild?.cmakeFlags },
    loadAverage: load(),
    rows,
  }),
);
