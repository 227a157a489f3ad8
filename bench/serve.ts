/**
 * bench:serve — the HTTP server under concurrent chat load. A Gemma-3-270M-shaped GGUF (random weights,
 * Q8_0, cached in the temp dir), a tiny SigLIP 2 encoder and an adapter for the pair are served the way
 * `vlmkit serve --parallel 8` serves them (one LLM, 8 sequences, continuous batching), on 127.0.0.1:0.
 * 1, 4 and 8 clients each send streaming `/v1/chat/completions` requests with an image (max_tokens 64,
 * temperature 0, `include_usage` for the token count). Reported per client count: aggregate generated
 * tokens/s and time to first token p50/p99.
 * Last line: JSON with `ratio` = 8-client ÷ 1-client aggregate tokens/s (goal ≥ 3).
 * `--threads <n>` sets llama.cpp/onnxruntime threads. Default: the library's default, physical cores
 * (`defaultThreads()`), as `vlmkit serve` runs. On a machine busy with other work, fewer threads than
 * cores holds up better (2 llama.cpp threads that wait for each other on a loaded 2-core box starve).
 */

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
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

const models = new ServedModels();
await models.loading(() =>
  loadVlms(
    models,
    { demo: { encoder: encoderDir, adapter: adapterDir, llm: gguf } },
    {
      llm: { gpu: false, sequences: PARALLEL, contextSize: 4096, threads },
      encoder: { threads },
    },
  ),
);
const { app } = createApp({ models, logger: pino({ level: "silent" }) });
const server = await listen(app, { host: "127.0.0.1", port: 0 });

interface Sample {
  ttftMs: number;
  tokens: number;
}

/** One streaming request: time to the first content delta, and the completion tokens from usage. */
async function request(i: number): Promise<Sample> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}/v1/chat/completions`, {
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
  if (res.status !== 200) throw new Error(`request ${i}: HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let ttftMs = -1;
  let tokens = 0;
  for await (const bytes of res.body!) {
    buffer += decoder.decode(bytes, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const data = buffer.slice(6, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(`request ${i}: ${chunk.error.message}`);
      // The first chunk carries the role; the first token is the next event (content or finish).
      if (ttftMs < 0 && chunk.choices[0] && !chunk.choices[0].delta.role) ttftMs = performance.now() - t0;
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  return { ttftMs, tokens };
}

async function run(clients: number) {
  const perClient = REQUESTS[clients];
  const samples: Sample[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let r = 0; r < perClient; r++) samples.push(await request(c * perClient + r));
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
  };
}

await request(0); // warm-up: first decode graphs, first encoder run
const rows = [];
for (const clients of [1, 4, 8]) rows.push(await run(clients));
await server.close(5000);
await models.dispose();

console.log("clients  requests  tokens  seconds  tokens/s  TTFT p50 ms  TTFT p99 ms");
for (const r of rows) {
  console.log(
    `${String(r.clients).padStart(7)}  ${String(r.requests).padStart(8)}  ${String(r.tokens).padStart(6)}  ${r.seconds.toFixed(2).padStart(7)}  ${r.tokensPerSecond.toFixed(1).padStart(8)}  ${String(r.ttftP50Ms).padStart(11)}  ${String(r.ttftP99Ms).padStart(11)}`,
  );
}
const one = rows[0].tokensPerSecond;
const eight = rows[2].tokensPerSecond;
console.log(
  JSON.stringify({
    bench: "serve",
    ratio: Number((eight / one).toFixed(2)),
    goal: 3,
    model: "gemma-3-270m-shaped Q8_0 (random weights), tiny SigLIP 2",
    parallel: PARALLEL,
    maxTokens: MAX_TOKENS,
    threads,
    cpus: os.cpus().length,
    rows,
  }),
);
