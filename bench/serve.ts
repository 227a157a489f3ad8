/**
 * bench:serve — the HTTP server under concurrent chat load, side by side with llama.cpp's own
 * `llama-server --parallel 8` (built from the llama.cpp commit node-llama-cpp bundles, by
 * scripts/llama-tools.ts) on the same GGUF and threads. A Gemma-3-270M-shaped GGUF (random weights,
 * Q8_0, cached in the temp dir), a tiny SigLIP 2 encoder and an adapter for the pair are served the way
 * `vlmkit serve --parallel 8` serves them (one LLM, 8 sequences, continuous batching), on 127.0.0.1:0.
 * 1, 4 and 8 clients each send streaming requests (max_tokens 64, temperature 0): to vlmkit
 * `/v1/chat/completions` with an image and a question; to llama-server `/completion` with a token
 * prompt of the same length (vlmkit's `usage.prompt_tokens`), distinct per request so nothing is
 * reused from its prompt cache. The two servers take turns per client count. Reported for each:
 * aggregate generated tokens/s and time to first token p50/p99. llama-server streams an event per
 * token, so its TTFT is the first token's; vlmkit's OpenAI stream carries only non-empty deltas, so its
 * TTFT is the first visible text (or the end). With this random-weight model and its synthetic
 * vocabulary most tokens render as empty pieces (64 tokens gave 1–14 characters), which makes
 * vlmkit's TTFT, its p99 above all, later than its first token: the comparison is conservative for
 * vlmkit. Timing both by first visible text instead gave llama-server 980 / 3295 / 4476 ms p50 at
 * 1 / 4 / 8 clients, against vlmkit's 173 / 482 / 699, which measures the random vocabulary more than
 * the servers.
 * Last line: JSON with `ratio` (vlmkit ÷ llama-server tokens/s at 8 clients, goal ≥ 1.25), `ttftRatio`
 * (TTFT p50 at 8 clients, goal ≤ 0.8), `singleRatio` (tokens/s at 1 client, goal ≥ 1.0) and `selfRatio`
 * (vlmkit 8 clients ÷ 1 client).
 * `--background-load` also runs vlmkit's 8 clients while one busy-looping process competes for the
 * CPU and reports `loadedRatio` (that aggregate ÷ the unloaded one, goal ≥ 0.5) and how many requests
 * went past the request deadline (120 s). It also runs a second vlmkit server whose ggml threads are
 * pinned (`adaptiveThreads: false`) for one quiet and one loaded 8-client run: `pinnedLoadedRatio` and
 * `adaptiveVsPinnedLoaded` (adaptive ÷ pinned tokens/s under the load) show what the thread governor
 * (src/llm/thread-governor.ts) buys.
 * `--threads <n>` sets llama.cpp/onnxruntime threads for both servers. Default: the library's default,
 * physical cores (`defaultThreads()`), as `vlmkit serve` runs.
 */

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { llamaTool, llamaToolsBuildInfo } from "../scripts/llama-tools.js";
import { LinearAdapter, saveAdapter } from "../src/adapter/index.js";
import { readEncoderConfig } from "../src/encoders/model-config.js";
import { defaultThreads } from "../src/env.js";
import { readPreprocessorConfig } from "../src/image/index.js";
import { Llm } from "../src/llm/llm.js";
import { createApp } from "../src/server/app.js";
import { listen } from "../src/server/listen.js";
import { loadVlms } from "../src/server/load-vlms.js";
import { ServedModels } from "../src/server/models.js";
import { writeTinyGemma3Gguf } from "../src/tiny/gemma3.js";
import { writeTinySiglip } from "../src/tiny/siglip.js";
import { cardForPairing } from "../src/vlm/pairing-card.js";
import { writeSyntheticJpegs } from "./synthetic-images.js";

const root = path.join(os.tmpdir(), "vlmkit-bench-serve");
const PARALLEL = 8;
const MAX_TOKENS = 64;
/** Requests each client sends one after the other, by client count. */
const REQUESTS: Record<number, number> = { 1: 4, 4: 2, 8: 2 };
const threadsArg = process.argv.indexOf("--threads");
const threads = threadsArg > 0 ? Number(process.argv[threadsArg + 1]) : defaultThreads();
const backgroundLoad = process.argv.includes("--background-load");
const DEADLINE_MS = 120_000;
const load = () => os.loadavg().map((x) => Number(x.toFixed(2)));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

fs.mkdirSync(root, { recursive: true });
const gguf = path.join(root, "gemma-3-270m-random-q8_0.gguf");
if (!fs.existsSync(gguf)) {
  console.error(`writing ${gguf} ...`);
  await writeTinyGemma3Gguf(gguf, { preset: "gemma-3-270m", type: "q8_0", seed: 1 });
}
const encoderDir = path.join(root, "siglip2-tiny");
if (!fs.existsSync(path.join(encoderDir, "onnx", "vision_model.onnx"))) {
  await writeTinySiglip(encoderDir, { variant: "siglip2", towers: ["vision"], seed: 1 });
}
const adapterDir = path.join(root, "adapter");
if (!fs.existsSync(path.join(adapterDir, "adapter.json"))) {
  const probe = await Llm.load(gguf, { gpu: false, contextSize: 256 }); // for the adapter card's LLM identity
  const config = readEncoderConfig(encoderDir);
  await saveAdapter(
    adapterDir,
    LinearAdapter.init({
      inputSize: config.visionHidden,
      outputSize: probe.identity.nEmbd,
      seed: 1,
      targetRms: 0.02,
    }),
    cardForPairing({
      encoder: { dir: encoderDir, config, preprocess: await readPreprocessorConfig(encoderDir) },
      llm: probe.identity,
      style: "gemma-chat",
      attention: "bidirectional-image",
    }),
  );
  await probe.dispose();
}
const images = (await writeSyntheticJpegs(path.join(root, "images"), 8)).map(
  (f) => `data:image/jpeg;base64,${fs.readFileSync(f).toString("base64")}`,
);

/** A vlmkit server as `vlmkit serve --parallel 8` runs it; `adaptiveThreads: false` pins ggml's threads. */
async function startVlmkit(adaptiveThreads: boolean) {
  const models = new ServedModels();
  await models.loading(() =>
    loadVlms(
      models,
      { demo: { encoder: encoderDir, adapter: adapterDir, llm: gguf } },
      {
        llm: { gpu: false, sequences: PARALLEL, contextSize: 4096, threads, adaptiveThreads },
        encoder: { threads, allowSpinning: false }, // as `vlmkit serve`
      },
    ),
  );
  const { app } = createApp({ models, logger: pino({ level: "silent" }) });
  const engine = models.servedVlms()[0].vlm.llm.engine;
  const server = await listen(app, { host: "127.0.0.1", port: 0 });
  return { models, engine, server };
}
const { models, engine, server } = await startVlmkit(true);

interface Sample {
  ttftMs: number;
  tokens: number;
  promptTokens: number;
  /** Whole request, to the last byte. */
  totalMs: number;
  /** Ended with an error (a 408 past the deadline, a stream error). */
  failed: boolean;
}

/** One streaming request: time to the first content delta, and the completion tokens from usage. */
async function vlmkitRequest(i: number, url = server.url): Promise<Sample> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "demo",
      messages: [
        {
          role: "user",
          content: [
            { type: "image_url", image_url: { url: images[i % images.length] } },
            { type: "text", text: `Describe picture number ${i} in detail, one sentence after another.` },
          ],
        },
      ],
      max_tokens: MAX_TOKENS,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (res.status === 408)
    return { ttftMs: -1, tokens: 0, promptTokens: 0, totalMs: performance.now() - t0, failed: true };
  if (res.status !== 200) throw new Error(`request ${i}: HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let ttftMs = -1;
  let tokens = 0;
  let promptTokens = 0;
  let failed = false;
  for await (const bytes of res.body!) {
    buffer += decoder.decode(bytes, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const data = buffer.slice(6, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.error) {
        failed = true;
        continue;
      }
      // The first chunk carries the role; the first token is the next event (content or finish).
      if (ttftMs < 0 && chunk.choices[0] && !chunk.choices[0].delta.role) ttftMs = performance.now() - t0;
      if (chunk.usage) {
        tokens = chunk.usage.completion_tokens;
        promptTokens = chunk.usage.prompt_tokens;
      }
    }
  }
  return { ttftMs, tokens, promptTokens, totalMs: performance.now() - t0, failed };
}

/** A token prompt of `n` ids for llama-server, different for every request `i` (no prompt-cache reuse). */
function tokenPrompt(n: number, i: number): number[] {
  return Array.from({ length: n }, (_, k) => 1000 + ((i * 7919 + k * 104729) % 200000));
}

/** One streaming `/completion` request to llama-server with a token prompt of `promptTokens` ids. */
async function llamaServerRequest(url: string, i: number, promptTokens: number): Promise<Sample> {
  const t0 = performance.now();
  const res = await fetch(`${url}/completion`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt: tokenPrompt(promptTokens, i),
      n_predict: MAX_TOKENS,
      temperature: 0,
      stream: true,
      cache_prompt: false,
    }),
  });
  if (res.status !== 200)
    throw new Error(`llama-server request ${i}: HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let ttftMs = -1;
  let tokens = 0;
  let counted = 0;
  for await (const bytes of res.body!) {
    buffer += decoder.decode(bytes, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const data = buffer.slice(buffer.indexOf("data: ") + 6, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      const chunk = JSON.parse(data);
      if (!chunk.stop) {
        if (ttftMs < 0) ttftMs = performance.now() - t0;
        counted++;
      } else tokens = chunk.tokens_predicted ?? counted;
    }
  }
  return { ttftMs, tokens: tokens || counted, promptTokens, totalMs: performance.now() - t0, failed: false };
}

/** Starts llama-server on a free port and resolves its URL once /health answers. */
async function startLlamaServer(bin: string): Promise<{ url: string; child: ChildProcess }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args = ["-m", gguf, "-t", String(threads), "-tb", String(threads), "--parallel", String(PARALLEL)];
  args.push("-c", "4096", "-ngl", "0", "--host", "127.0.0.1", "--port", String(port), "--no-webui");
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d) => {
    log = (log + d).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited with ${child.exitCode}:\n${log}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return { url, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`llama-server did not become ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function run(clients: number, send: (i: number) => Promise<Sample>, offset = 0) {
  const perClient = REQUESTS[clients];
  const samples: Sample[] = [];
  const loadBefore = load();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let r = 0; r < perClient; r++) samples.push(await send(offset + c * perClient + r));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const tokens = samples.reduce((n, s) => n + s.tokens, 0);
  const ttft = samples.map((s) => s.ttftMs);
  return {
    clients,
    requests: samples.length,
    tokens,
    seconds: Number(seconds.toFixed(2)),
    tokensPerSecond: Number((tokens / seconds).toFixed(1)),
    ttftP50Ms: Math.round(percentile(ttft, 50)),
    ttftP99Ms: Math.round(percentile(ttft, 99)),
    overDeadline: samples.filter((x) => x.failed || x.totalMs > DEADLINE_MS).length,
    loadAverage: loadBefore,
  };
}

type Row = Awaited<ReturnType<typeof run>>;

/** Where the engine's token steps spent their time during `work`: per step, in ms. */
async function profiled<T>(work: () => Promise<T>): Promise<{ result: T; step: StepSplit }> {
  const before = engine.stepProfile;
  const result = await work();
  const after = engine.stepProfile;
  const steps = after.steps - before.steps;
  const per = (key: "decodeMs" | "sampleMs" | "betweenMs") =>
    Number(((after[key] - before[key]) / Math.max(steps, 1)).toFixed(2));
  return {
    result,
    step: {
      steps,
      rowsPerStep: Number(((after.rows - before.rows) / Math.max(steps, 1)).toFixed(2)),
      sampledPerStep: Number(((after.sampled - before.sampled) / Math.max(steps, 1)).toFixed(2)),
      decodeMs: per("decodeMs"),
      sampleMs: per("sampleMs"),
      betweenMs: per("betweenMs"),
      fewerThreads: after.fewerThreads - before.fewerThreads,
    },
  };
}

interface StepSplit {
  steps: number;
  rowsPerStep: number;
  sampledPerStep: number;
  decodeMs: number;
  sampleMs: number;
  betweenMs: number;
  /** Steps the adaptive thread count ran on fewer threads (probes, or a busy machine). */
  fewerThreads: number;
}

function printRows(name: string, rows: Row[]) {
  console.log(`${name}\nclients  requests  tokens  seconds  tokens/s  TTFT p50 ms  TTFT p99 ms  load avg`);
  for (const r of rows) {
    console.log(
      `${String(r.clients).padStart(7)}  ${String(r.requests).padStart(8)}  ${String(r.tokens).padStart(6)}  ${r.seconds.toFixed(2).padStart(7)}  ${r.tokensPerSecond.toFixed(1).padStart(8)}  ${String(r.ttftP50Ms).padStart(11)}  ${String(r.ttftP99Ms).padStart(11)}  ${r.loadAverage[0]}`,
    );
  }
}

const warm = await vlmkitRequest(0); // warm-up: first decode graphs, first encoder run
const promptTokens = warm.promptTokens;
const peer = await startLlamaServer(await llamaTool("llama-server"));
await llamaServerRequest(peer.url, 0, promptTokens);
const ours: Row[] = [];
const theirs: Row[] = [];
const steps: Record<string, StepSplit> = {};
// Taking turns per client count, so a change in the machine's load hits both alike.
for (const clients of [1, 4, 8]) {
  const { result, step } = await profiled(() => run(clients, vlmkitRequest, 100 * clients));
  ours.push(result);
  steps[clients] = step;
  theirs.push(await run(clients, (i) => llamaServerRequest(peer.url, i, promptTokens), 100 * clients));
}
peer.child.kill("SIGTERM");
let loaded: Row | undefined;
/** The same 8-client run on a server whose ggml threads are pinned (adaptive threads off), alternating. */
const pinned: { quiet?: Row; loaded?: Row } = {};
if (backgroundLoad) {
  const fixed = await startVlmkit(false);
  const pinnedRequest = (i: number) => vlmkitRequest(i, fixed.server.url);
  await pinnedRequest(0);
  pinned.quiet = await run(8, pinnedRequest, 3000);
  // One process that never sleeps, for the length of the loaded runs.
  const busy = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const r = await profiled(() => run(8, vlmkitRequest, 5000));
    loaded = r.result;
    steps.loaded = r.step;
    pinned.loaded = await run(8, pinnedRequest, 7000);
  } finally {
    busy.kill("SIGKILL");
  }
  await fixed.server.close(5000);
  await fixed.models.dispose();
}
await server.close(5000);
await models.dispose();

printRows(`vlmkit (prompt ${promptTokens} tokens: image rows + text)`, ours);
printRows(`llama-server --parallel ${PARALLEL} (token prompt of ${promptTokens})`, theirs);
if (loaded) printRows("vlmkit, 8 clients, one busy-looping process beside it", [loaded]);
if (pinned.quiet && pinned.loaded)
  printRows("vlmkit with pinned threads (adaptiveThreads: false), 8 clients: quiet, then loaded", [
    pinned.quiet,
    pinned.loaded,
  ]);
console.log("vlmkit token steps (per step, ms): decode of the batch; sampling + streaming; JS between steps");
console.log("clients  steps  rows/step  sampled/step  decode  sample  between  fewer threads");
for (const [clients, s] of Object.entries(steps))
  console.log(
    `${clients.padStart(7)}  ${String(s.steps).padStart(5)}  ${s.rowsPerStep.toFixed(2).padStart(9)}  ${s.sampledPerStep.toFixed(2).padStart(12)}  ${s.decodeMs.toFixed(2).padStart(6)}  ${s.sampleMs.toFixed(2).padStart(6)}  ${s.betweenMs.toFixed(2).padStart(7)}  ${String(s.fewerThreads).padStart(13)}`,
  );
const at = (rows: Row[], clients: number) => rows.find((r) => r.clients === clients)!;
const r3 = (x: number) => Number(x.toFixed(3));
const build = llamaToolsBuildInfo();
console.log(
  JSON.stringify({
    bench: "serve",
    ratio: r3(at(ours, 8).tokensPerSecond / at(theirs, 8).tokensPerSecond),
    ratioGoal: 1.25,
    ttftRatio: r3(at(ours, 8).ttftP50Ms / at(theirs, 8).ttftP50Ms),
    ttftRatioGoal: 0.8,
    singleRatio: r3(at(ours, 1).tokensPerSecond / at(theirs, 1).tokensPerSecond),
    singleRatioGoal: 1,
    selfRatio: r3(at(ours, 8).tokensPerSecond / at(ours, 1).tokensPerSecond),
    ...(loaded && {
      loadedRatio: r3(loaded.tokensPerSecond / at(ours, 8).tokensPerSecond),
      loadedRatioGoal: 0.5,
      loadedOverDeadline: loaded.overDeadline,
      pinnedLoadedRatio:
        pinned.loaded && pinned.quiet && r3(pinned.loaded.tokensPerSecond / pinned.quiet.tokensPerSecond),
      adaptiveVsPinnedLoaded: pinned.loaded && r3(loaded.tokensPerSecond / pinned.loaded.tokensPerSecond),
    }),
    model: "gemma-3-270m-shaped Q8_0 (random weights), tiny SigLIP 2",
    parallel: PARALLEL,
    maxTokens: MAX_TOKENS,
    promptTokens,
    threads,
    cpus: os.cpus().length,
    peer: { llamaCpp: build?.commit.slice(0, 12), cmakeFlags: build?.cmakeFlags },
    vlmkit: ours,
    vlmkitSteps: steps,
    llamaServer: theirs,
    ...(loaded && { loaded, pinned }),
  }),
);
