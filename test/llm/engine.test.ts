// The generation engine (continuous batching over one llama.cpp context) on a tiny gemma3 GGUF.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, isVlmkitError } from "../../src/errors.js";
import type { PromptChunk } from "../../src/llm/engine.js";
import { Llm } from "../../src/llm/llm.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";

let dir: string;
let ggufPath: string;
let llm: Llm;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-engine-"));
  ggufPath = path.join(dir, "tiny.gguf");
  await writeTinyGemma3Gguf(ggufPath, { seed: 11, type: "f32" });
  llm = await Llm.load(ggufPath, { gpu: false, contextSize: 1024, sequences: 4, batchSize: 64 });
});

afterAll(async () => {
  await llm?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const PROMPTS = ["what is the color of", "a red circle and a", "the shape is", "blue green red yellow"];

function tokensChunk(text: string): PromptChunk[] {
  return [{ kind: "tokens", tokens: llm.model.tokenize(text, { addSpecial: true }) }];
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

async function greedyTokens(text: string, n: number): Promise<number[]> {
  // Collect the token ids by re-tokenizing is lossy; read them from a sampler-free manual run instead.
  const ctx = llm.model.createContext({ contextSize: 256 });
  try {
    const prompt = llm.model.tokenize(text, { addSpecial: true });
    const out: number[] = [];
    // Without the KV cache: every step decodes the whole sequence again from an empty cache.
    let seq = Array.from(prompt);
    for (let i = 0; i < n; i++) {
      ctx.clear();
      await ctx.decode({ tokens: seq });
      const t = argmax(ctx.logits(seq.length - 1));
      if (llm.model.isEndOfGeneration(t)) break;
      out.push(t);
      seq = [...seq, t];
    }
    return out;
  } finally {
    ctx.dispose();
  }
}

describe("GenerationEngine", () => {
  it("greedy generation with the KV cache equals recomputing every step without it", async () => {
    for (const text of PROMPTS.slice(0, 2)) {
      const expected = llm.model.detokenize(await greedyTokens(text, 10));
      const result = await llm.engine.submit(tokensChunk(text), { maxTokens: 10 }).result;
      expect(result.text).toBe(expected);
      expect(result.usage.completionTokens).toBeGreaterThan(0);
    }
  });

  it("greedy text matches node-llama-cpp's own generation on the same GGUF", async () => {
    const text = PROMPTS[2];
    const ours = await llm.engine.submit(tokensChunk(text), { maxTokens: 8 }).result;
    const reference = await llm.model.llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
    const ctx = await reference.createContext({ contextSize: 256 });
    const theirs: number[] = [];
    try {
      const prompt = Array.from(llm.model.tokenize(text, { addSpecial: true })) as Token[];
      for await (const token of ctx.getSequence().evaluate(prompt, { temperature: 0 })) {
        if (llm.model.isEndOfGeneration(token as number)) break;
        theirs.push(token as number);
        if (theirs.length === ours.usage.completionTokens) break;
      }
    } finally {
      await ctx.dispose();
      await reference.dispose();
    }
    expect(ours.text).toBe(llm.model.detokenize(theirs));
  });

  it("requests decoded together give the texts they give one at a time (greedy and seeded)", async () => {
    const opts = (i: number) => ({
      maxTokens: 12,
      sampling: i % 2 ? { temperature: 0.9, seed: 100 + i } : {},
    });
    const alone: string[] = [];
    for (const [i, text] of PROMPTS.entries())
      alone.push((await llm.engine.submit(tokensChunk(text), opts(i)).result).text);
    const together = await Promise.all(
      PROMPTS.map((text, i) => llm.engine.submit(tokensChunk(text), opts(i)).result),
    );
    expect(together.map((r) => r.text)).toEqual(alone);
    expect(new Set(alone).size).toBeGreaterThan(1);
  });

  it("queues more requests than sequences and serves them all", async () => {
    const results = await Promise.all(
      Array.from(
        { length: 9 },
        (_, i) => llm.engine.submit(tokensChunk(PROMPTS[i % 4]), { maxTokens: 3 }).result,
      ),
    );
    expect(results.every((r) => r.usage.completionTokens >= 1)).toBe(true);
    expect(llm.engine.load).toEqual({ active: 0, queued: 0 });
  });

  it("streams deltas that add up to the text, and stops before a stop string", async () => {
    const full = await llm.engine.submit(tokensChunk(PROMPTS[3]), {
      maxTokens: 16,
      sampling: { temperature: 1, seed: 5 },
    }).result;
    expect(full.text.length).toBeGreaterThan(2);
    const stop = full.text.slice(2, 4);
    const gen = llm.engine.submit(tokensChunk(PROMPTS[3]), {
      maxTokens: 16,
      stop: [stop],
      sampling: { temperature: 1, seed: 5 },
    });
    let streamed = "";
    for await (const delta of gen) streamed += delta;
    const stopped = await gen.result;
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    expect(streamed).toBe(stopped.text);
  });

  it("ends with finishReason length at maxTokens", async () => {
    const r = await llm.engine.submit(tokensChunk(PROMPTS[0]), {
      maxTokens: 2,
      sampling: { temperature: 1, seed: 1 },
    }).result;
    expect(r.usage.completionTokens).toBeLessThanOrEqual(2);
    if (r.usage.completionTokens === 2) expect(r.finishReason).toBe("length");
  });

  it("profiles its token steps: every sampled token and decoded row is counted, with timings", async () => {
    const before = llm.engine.stepProfile;
    const prompts = PROMPTS.slice(0, 3).map((p) => llm.model.tokenize(p, { addSpecial: true }));
    const results = await Promise.all(
      prompts.map(
        (tokens) =>
          llm.engine.submit([{ kind: "tokens", tokens }], {
            maxTokens: 4,
            sampling: { temperature: 1, seed: 3 },
          }).result,
      ),
    );
    const after = llm.engine.stepProfile;
    // Each request samples one token per completion token, plus one that ended it early (end of generation).
    const sampled = results.reduce(
      (n, r) => n + r.usage.completionTokens + (r.finishReason === "stop" ? 1 : 0),
      0,
    );
    expect(after.sampled - before.sampled).toBe(sampled);
    // Rows: every prompt token, then each sampled token fed back except the last of each request.
    const fedBack = results.reduce((n, r) => n + Math.max(r.usage.completionTokens - 1, 0), 0);
    const promptRows = prompts.reduce((n, t) => n + t.length, 0);
    expect(after.rows - before.rows).toBe(promptRows + fedBack);
    expect(after.steps - before.steps).toBeGreaterThanOrEqual(4); // 3 requests batched: ≥ one step per token
    expect(after.decodeMs).toBeGreaterThan(before.decodeMs);
    expect(after.sampleMs).toBeGreaterThanOrEqual(before.sampleMs);
  });

  it("an abort frees the sequence; the next requests are served", async () => {
    const controller = new AbortController();
    const gen = llm.engine.submit(tokensChunk(PROMPTS[1]), { maxTokens: 200, signal: controller.signal });
    const it = gen[Symbol.asyncIterator]();
    await it.next();
    controller.abort();
    await expect(gen.result).rejects.toBeInstanceOf(AbortError);
    expect(llm.engine.load.active).toBe(0);
    const after = await Promise.all(
      PROMPTS.map((p) => llm.engine.submit(tokensChunk(p), { maxTokens: 2 }).result),
    );
    expect(after).toHaveLength(4);
  });

  it("refuses prompts that cannot fit, with the numbers", async () => {
    const big = new Int32Array(2000).fill(5);
    expect(() => llm.engine.submit([{ kind: "tokens", tokens: big }])).toThrow(
      /2000 positions but a request may use at most 1024/,
    );
    expect(() => llm.engine.submit(tokensChunk("a"), { maxTokens: 5000 })).toThrow(
      /maxTokens: 5000 tokens do not fit/,
    );
    expect(() => llm.engine.submit([{ kind: "tokens", tokens: Int32Array.of(1, 999999) }])).toThrow(
      /outside the vocabulary/,
    );
    const width = llm.identity.nEmbd;
    expect(() =>
      llm.engine.submit([
        { kind: "embeddings", data: new Float32Array(100 * width), rows: 100, causal: false },
      ]),
    ).toThrow(/exceeds the context's ubatch size 64/);
    try {
      llm.engine.submit([{ kind: "tokens", tokens: new Int32Array(0) }]);
    } catch (e) {
      expect(isVlmkitError(e) && e.code).toBe("INVALID_ARGUMENT");
    }
  });

  it("feeds embedding chunks: token rows as embeddings give the same text as the tokens", async () => {
    const ids = llm.model.tokenize(PROMPTS[0], { addSpecial: true });
    const rows = await llm.tokenEmbeddings(ids);
    const viaTokens = await llm.engine.submit(tokensChunk(PROMPTS[0]), { maxTokens: 8 }).result;
    const viaEmbeddings = await llm.engine.submit(
      [{ kind: "embeddings", data: rows, rows: ids.length, causal: true }],
      {
        maxTokens: 8,
      },
    ).result;
    expect(viaEmbeddings.text).toBe(viaTokens.text);
  });

  it("refuses bad sampling options at submit instead of failing the shared loop", async () => {
    expect(() => llm.engine.submit(tokensChunk("a"), { sampling: { temperature: -1 } })).toThrow(
      /sampling.temperature = -1/,
    );
    expect(() => llm.engine.submit(tokensChunk("a"), { sampling: { topP: 2 } })).toThrow(/sampling.topP = 2/);
    expect(() => llm.engine.submit(tokensChunk("a"), { sampling: { repeatLastN: 1e9 } })).toThrow(
      /repeatLastN/,
    );
    // top-k beyond the vocabulary keeps every token; -1 for repeatLastN means the whole context.
    const r = await llm.engine.submit(tokensChunk("a"), {
      maxTokens: 2,
      sampling: { temperature: 0.7, topK: 100_000, repeatPenalty: 1.1, repeatLastN: -1, seed: 1 },
    }).result;
    expect(r.usage.completionTokens).toBeGreaterThan(0);
    // The engine still serves afterwards.
    expect((await llm.engine.submit(tokensChunk("b"), { maxTokens: 1 }).result).usage.completionTokens).toBe(
      1,
    );
  });

  it("drops empty chunks instead of stalling", async () => {
    const r = await llm.engine.submit(
      [{ kind: "tokens", tokens: new Int32Array(0) }, ...tokensChunk(PROMPTS[0])],
      {
        maxTokens: 2,
      },
    ).result;
    expect(r.usage.promptTokens).toBe(llm.model.tokenize(PROMPTS[0], { addSpecial: true }).length);
  });

  it("slices a causal embedding chunk longer than the batch size", async () => {
    const ids = llm.model.tokenize("red ".repeat(80), { addSpecial: true }); // > 64 rows, the batch size here
    expect(ids.length).toBeGreaterThan(64);
    const rows = await llm.tokenEmbeddings(ids);
    const viaTokens = await llm.engine.submit([{ kind: "tokens", tokens: ids }], { maxTokens: 4 }).result;
    const viaEmbeddings = await llm.engine.submit(
      [{ kind: "embeddings", data: rows, rows: ids.length, causal: true }],
      {
        maxTokens: 4,
      },
    ).result;
    expect(viaEmbeddings.text).toBe(viaTokens.text);
  });

  it("an abort right after submit rejects, even when the request would finish in one step", async () => {
    const controller = new AbortController();
    const gen = llm.engine.submit(tokensChunk(PROMPTS[2]), { maxTokens: 1, signal: controller.signal });
    controller.abort();
    await expect(gen.result).rejects.toBeInstanceOf(AbortError);
    expect(llm.engine.load).toEqual({ active: 0, queued: 0 });
  });
});

describe("GenerationEngine.admissible", () => {
  it("says whether a request fits, and why not, with the failing field in details", async () => {
    const { engine } = llm;
    const capacity = engine.capacity;
    expect(engine.admissible(10)).toEqual({ ok: true, maxTokens: Math.min(256, capacity - 10) });
    expect(engine.admissible(10, 5)).toEqual({ ok: true, maxTokens: 5 });
    expect(engine.admissible(capacity - 1, 1)).toEqual({ ok: true, maxTokens: 1 });
    const refused = (rows: number, maxTokens?: number, param?: string) => {
      const a = engine.admissible(rows, maxTokens, { param });
      if (a.ok) throw new Error(`expected ${rows} + ${maxTokens} to be refused`);
      return a.error;
    };
    expect(refused(capacity)).toMatchObject({
      code: "CONTEXT_OVERFLOW",
      message: `the prompt takes ${capacity} positions but a request may use at most ${capacity}`,
      details: { promptRows: capacity, capacity },
    });
    expect(refused(1, capacity)).toMatchObject({
      code: "CONTEXT_OVERFLOW",
      message: `maxTokens: ${capacity} tokens do not fit; a request may use at most ${capacity} positions (prompt and answer together)`,
      details: { param: "maxTokens", maxTokens: capacity, capacity },
    });
    expect(refused(100, capacity - 99, "max_tokens")).toMatchObject({
      code: "CONTEXT_OVERFLOW",
      message: `max_tokens: ${capacity - 99} plus a 100-position prompt exceeds the ${capacity} positions a request may use (at most ${capacity - 100} here)`,
      details: { param: "max_tokens", maxTokens: capacity - 99, promptRows: 100, room: capacity - 100 },
    });
    expect(refused(1, 0)).toMatchObject({ code: "INVALID_ARGUMENT", details: { param: "maxTokens" } });
    expect(refused(1, 1.5)).toMatchObject({ code: "INVALID_ARGUMENT" });
    // submit refuses with the same error.
    expect(() => engine.submit(tokensChunk("a"), { maxTokens: capacity })).toThrow(
      refused(1, capacity).message,
    );
  });

  it("refuses when the queue is full (BUSY) and when the engine is closed", async () => {
    const own = await Llm.load(ggufPath, {
      gpu: false,
      contextSize: 512,
      sequences: 1,
      batchSize: 64,
      maxQueue: 1,
    });
    try {
      const stop = new AbortController();
      const running = own.engine.submit(tokensChunk(PROMPTS[0]), { maxTokens: 200, signal: stop.signal });
      await running[Symbol.asyncIterator]().next(); // holds the only sequence
      expect(own.engine.admissible(5).ok).toBe(true);
      const waiting = own.engine.submit(tokensChunk(PROMPTS[1]), { maxTokens: 1, signal: stop.signal });
      const busy = own.engine.admissible(5);
      expect(busy).toMatchObject({
        ok: false,
        error: {
          code: "BUSY",
          message: "1 requests are already waiting for a sequence (the limit is 1); try again later",
          details: { waiting: 1, limit: 1 },
        },
      });
      expect(() => own.engine.submit(tokensChunk("a"))).toThrow(/already waiting for a sequence/);
      stop.abort();
      await expect(running.result).rejects.toBeInstanceOf(AbortError);
      await expect(waiting.result).rejects.toBeInstanceOf(AbortError);
    } finally {
      await own.dispose();
    }
    expect(own.engine.admissible(5)).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
  });
});

describe("GenerationEngine.close", () => {
  it("fails running and queued requests and lets the model be disposed without hanging", async () => {
    const own = await Llm.load(ggufPath, { gpu: false, contextSize: 512, sequences: 1, batchSize: 64 });
    const running = own.engine.submit(tokensChunk(PROMPTS[0]), { maxTokens: 200 });
    const queued = own.engine.submit(tokensChunk(PROMPTS[1]), { maxTokens: 200 });
    const it = running[Symbol.asyncIterator]();
    await it.next();
    await own.dispose();
    await expect(running.result).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(queued.result).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(() => own.engine.submit(tokensChunk("a"))).toThrow(/closed/);
  });
});
