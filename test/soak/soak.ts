/**
 * A soak of the HTTP server: `clients` concurrent clients for `seconds`, each looping over a seeded
 * mix of greedy chat requests with images (OpenAI and Ollama routes, streaming and not), zero-shot
 * classification, image embeddings, malformed requests, oversized bodies and streams dropped after
 * their first chunk. The server runs in its own process (`server.ts`), so its resident memory is
 * measured alone (/proc/<pid>/status).
 *
 * Checks: every completed greedy answer equals the one the same request got alone before the load;
 * no 5xx; RSS after warm-up grows less than `maxRssGrowth`; `/metrics` ends with no active or queued
 * generation and no running or waiting encoder job. Only 127.0.0.1 is contacted.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import sharp from "sharp";
import { SeededRandom } from "../../src/util/random.js";

export interface SoakOptions {
  seconds: number;
  /** Default 16. */
  clients?: number;
  /** Default 1. */
  seed?: number;
  /** Largest accepted RSS growth from the end of warm-up to the end, as a fraction. Default 0.10. */
  maxRssGrowth?: number;
}

export interface SoakReport {
  seconds: number;
  clients: number;
  requests: number;
  /** Answers outside what was expected (5xx, a wrong status, a greedy answer that differs). */
  errors: number;
  /** Streams the client dropped on purpose after the first chunk. */
  disconnects: number;
  byKind: Record<string, number>;
  statuses: Record<string, number>;
  rssStartMb: number;
  rssEndMb: number;
  rssGrowth: number;
  p50Ms: number;
  p99Ms: number;
  /** What `/metrics` said at the end: active + queued generations, running + waiting encoder jobs. */
  busyAtEnd: number;
  loadAverage: number[];
  problems: string[];
}

const KINDS = [
  ["openai", 4],
  ["openai-stream", 4],
  ["ollama", 3],
  ["ollama-stream", 3],
  ["classify", 2],
  ["embeddings", 2],
  ["bad-json", 1],
  ["bad-field", 1],
  ["oversized", 1],
  ["disconnect", 2],
] as const;
type Kind = (typeof KINDS)[number][0];

const QUESTIONS = ["what is this?", "what color is the shape?", "describe the image", "what shape is it?"];

interface Prompt {
  model: "chat" | "pali";
  image: string;
  /** Which of the images `image` is, for the reference key. */
  imageIndex: number;
  question: string;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const clients = options.clients ?? 16;
  const images = await Promise.all(
    [
      [220, 30, 30],
      [30, 200, 40],
      [40, 60, 210],
    ].map(async ([r, g, b]) =>
      (
        await sharp({ create: { width: 48, height: 40, channels: 3, background: { r, g, b } } })
          .png()
          .toBuffer()
      ).toString("base64"),
    ),
  );
  const prompts: Prompt[] = [];
  for (const model of ["chat", "pali"] as const)
    for (const [imageIndex, image] of images.entries())
      for (const question of QUESTIONS) prompts.push({ model, image, imageIndex, question });

  const server = await startServer();
  const url = server.url;
  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < 20) problems.push(p);
  };
  try {
    // Each prompt alone, before the load: the reference answers.
    const reference = new Map<string, string>();
    for (const p of prompts) reference.set(key(p), await openai(url, p, false));

    const report = {
      requests: 0,
      errors: 0,
      disconnects: 0,
      byKind: {} as Record<string, number>,
      statuses: {} as Record<string, number>,
    };
    const latencies: number[] = [];
    // Warm-up: the same load for a fifth of the run (20 to 30 s) before the first RSS reading, so that
    // buffers sized by concurrency (KV cache pages, sockets, thread pools) are already there.
    const warmupMs = Math.min(30_000, Math.max(20_000, options.seconds * 200));
    let rssStart = 0;
    const warm = setTimeout(() => {
      rssStart = rssOf(server.pid);
    }, warmupMs);
    const deadline = Date.now() + warmupMs + options.seconds * 1000;
    const total = KINDS.reduce((n, [, w]) => n + w, 0);
    const pickKind = (r: SeededRandom): Kind => {
      let x = r.int(total);
      for (const [k, w] of KINDS) {
        if (x < w) return k;
        x -= w;
      }
      return "openai";
    };

    const client = async (id: number) => {
      const r = new SeededRandom((options.seed ?? 1) * 1000 + id);
      while (Date.now() < deadline) {
        const kind = pickKind(r);
        const p = prompts[r.int(prompts.length)];
        const t0 = performance.now();
        report.requests++;
        report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
        try {
          const outcome = await request(url, kind, p, images[r.int(images.length)]);
          report.statuses[outcome.status] = (report.statuses[outcome.status] ?? 0) + 1;
          if (outcome.status >= 500) {
            report.errors++;
            problem(`${kind}: HTTP ${outcome.status} ${outcome.body.slice(0, 200)}`);
          } else if (outcome.expected !== undefined && outcome.status !== outcome.expected) {
            if (outcome.status !== 429) {
              report.errors++;
              problem(
                `${kind}: HTTP ${outcome.status}, expected ${outcome.expected}: ${outcome.body.slice(0, 200)}`,
              );
            }
          } else if (outcome.answer !== undefined && outcome.answer !== reference.get(key(p))) {
            report.errors++;
            problem(
              `${kind} ${key(p)}: ${JSON.stringify(outcome.answer)} under load, ${JSON.stringify(reference.get(key(p)))} alone`,
            );
          }
          if (kind === "disconnect") report.disconnects++;
          else latencies.push(performance.now() - t0);
        } catch (error) {
          if (kind === "oversized") {
            // The server answers 413 and closes while the client is still sending: a reset, not a failure.
            report.statuses["413-reset"] = (report.statuses["413-reset"] ?? 0) + 1;
            continue;
          }
          report.errors++;
          problem(`${kind}: ${(error as Error).message} ${String((error as Error).cause ?? "")}`);
        }
      }
    };
    await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
    clearTimeout(warm);

    // Dropped streams end on the server shortly after the client goes; give them a moment.
    let busy = await busyAtEnd(url);
    for (let i = 0; i < 50 && busy > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      busy = await busyAtEnd(url);
    }
    if (busy > 0) problem(`/metrics still shows ${busy} busy generations or encoder jobs after the load`);
    const rssEnd = rssOf(server.pid);
    const growth = (rssEnd - rssStart) / rssStart;
    if (growth >= (options.maxRssGrowth ?? 0.1))
      problem(`server RSS grew ${(growth * 100).toFixed(1)}% after warm-up`);
    latencies.sort((a, b) => a - b);
    const quantile = (q: number) =>
      Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
    return {
      seconds: options.seconds,
      clients,
      ...report,
      rssStartMb: Math.round(rssStart / 2 ** 20),
      rssEndMb: Math.round(rssEnd / 2 ** 20),
      rssGrowth: Math.round(growth * 1000) / 1000,
      p50Ms: quantile(0.5),
      p99Ms: quantile(0.99),
      busyAtEnd: busy,
      loadAverage: os.loadavg().map((x) => Math.round(x * 10) / 10),
      problems,
    };
  } finally {
    await server.stop();
  }
}

const key = (p: Prompt) => `${p.model}/image ${p.imageIndex}/${p.question}`;

interface Outcome {
  status: number;
  body: string;
  /** The status this kind of request must get (bad requests: 400, oversized: 413). */
  expected?: number;
  /** The greedy answer, for chat requests that completed. */
  answer?: string;
}

async function request(url: string, kind: Kind, p: Prompt, image: string): Promise<Outcome> {
  switch (kind) {
    case "openai":
    case "openai-stream": {
      const answer = await openai(url, p, kind === "openai-stream");
      return { status: 200, body: "", answer };
    }
    case "ollama":
    case "ollama-stream": {
      const stream = kind === "ollama-stream";
      const res = await post(url, "/api/chat", {
        model: p.model,
        messages: [{ role: "user", content: p.question, images: [p.image] }],
        options: { temperature: 0, num_predict: 8 },
        stream,
      });
      const body = await res.text();
      if (res.status !== 200) return { status: res.status, body, expected: 200 };
      const lines = body
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l));
      const answer = stream ? lines.map((l) => l.message?.content ?? "").join("") : lines[0].message.content;
      return { status: res.status, body: "", answer };
    }
    case "classify": {
      const res = await post(url, "/v1/classify", {
        model: "enc",
        images: [`data:image/png;base64,${image}`],
        labels: ["red", "green", "blue"],
      });
      return { status: res.status, body: await res.text(), expected: 200 };
    }
    case "embeddings": {
      const res = await post(url, "/v1/images/embeddings", {
        model: "enc",
        input: `data:image/png;base64,${image}`,
      });
      return { status: res.status, body: await res.text(), expected: 200 };
    }
    case "bad-json": {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"model": "chat", "messages": [',
      });
      return { status: res.status, body: await res.text(), expected: 400 };
    }
    case "bad-field": {
      const res = await post(url, "/v1/chat/completions", {
        model: "chat",
        messages: "hello",
        max_tokens: -3,
      });
      return { status: res.status, body: await res.text(), expected: 400 };
    }
    case "oversized": {
      // On a connection of its own (node:http, no agent): see docs/reliability.md on 413 and keep-alive.
      const { status, body } = await rawPost(url, "/v1/chat/completions", {
        model: "chat",
        messages: [{ role: "user", content: "x".repeat(2 << 20) }],
      });
      return { status, body, expected: 413 };
    }
    case "disconnect": {
      const controller = new AbortController();
      const res = await post(
        url,
        "/v1/chat/completions",
        { ...openaiBody(p, true), max_tokens: 32 },
        controller.signal,
      );
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await reader.cancel().catch(() => {});
      return { status: res.status, body: "" };
    }
  }
}

function openaiBody(p: Prompt, stream: boolean) {
  return {
    model: p.model,
    messages: [
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: `data:image/png;base64,${p.image}` } },
          { type: "text", text: p.question },
        ],
      },
    ],
    temperature: 0,
    max_tokens: 8,
    stream,
  };
}

/** The greedy answer to `p` over the OpenAI route; throws on a status other than 200. */
async function openai(url: string, p: Prompt, stream: boolean): Promise<string> {
  const res = await post(url, "/v1/chat/completions", openaiBody(p, stream));
  const body = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${body.slice(0, 200)}`);
  if (!stream) return JSON.parse(body).choices[0].message.content;
  return body
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? "")
    .join("");
}

function post(url: string, route: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
}

/** POST over a fresh connection that is closed afterwards. */
function rawPost(url: string, route: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${route}`, {
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json", connection: "close" },
    });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function busyAtEnd(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let busy = 0;
  for (const m of text.matchAll(
    /^vlmkit_(?:generation_requests|queue_depth|queue_running)\{[^}]*\} (\d+(?:\.\d+)?)$/gm,
  )) {
    busy += Number(m[1]);
  }
  return busy;
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function startServer(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", path.join(import.meta.dirname, "server.ts")],
    {
      // stderr is kept, not shown: llama.cpp logs every decode that a dropped stream aborts.
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, VLMKIT_THREADS: "1" },
    },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString("utf8")).slice(-4000);
  });
  const lines = readline.createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) =>
      reject(new Error(`soak server exited (${code}) before listening: ${stderr}`)),
    );
  });
  const { url, pid } = JSON.parse(first) as { url: string; pid: number };
  return {
    url,
    pid,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
      }),
  };
}
