// The llama.cpp addon on a tiny gemma3 GGUF written by vlmkit's own GGUF writer: input embeddings
// against tokens, causal and non-causal batches, the KV cache, sampling against node-llama-cpp.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readGgufFileInfo, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isVlmkitError } from "../../src/errors.js";
import { type NativeContext, NativeModel } from "../../src/llm/native.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";

let dir: string;
let ggufPath: string;
let model: NativeModel;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-native-"));
  ggufPath = path.join(dir, "tiny-gemma3.gguf");
  await writeTinyGemma3Gguf(ggufPath, { seed: 7, type: "f32" });
  model = await NativeModel.load(ggufPath, { gpu: false });
});

afterAll(() => {
  model?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** token_embd rows of `tokens`, read from the F32 GGUF at node-llama-cpp's reported file offset. */
async function tokenEmbeddingRows(tokens: ArrayLike<number>): Promise<Float32Array> {
  const info = await readGgufFileInfo(ggufPath);
  const tensor = info.fullTensorInfo?.find((t) => t.name === "token_embd.weight");
  if (!tensor) throw new Error("token_embd.weight not found");
  expect(tensor.ggmlType).toBe(0); // F32
  const width = Number(tensor.dimensions[0]);
  const file = fs.readFileSync(ggufPath);
  const out = new Float32Array(tokens.length * width);
  for (let i = 0; i < tokens.length; i++) {
    const start = Number(tensor.fileOffset) + tokens[i] * width * 4;
    out.set(
      new Float32Array(file.buffer.slice(file.byteOffset + start, file.byteOffset + start + width * 4)),
      i * width,
    );
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

async function rowsLogits(ctx: NativeContext, rows: number): Promise<Float32Array[]> {
  return Array.from({ length: rows }, (_, i) => ctx.logits(i));
}

describe("NativeModel", () => {
  it("binds to the libllama node-llama-cpp loaded, and no other copy", () => {
    const maps = fs.readFileSync("/proc/self/maps", "utf8");
    const loaded = new Set(
      maps
        .split("\n")
        .map((l) => l.split(/\s+/).pop() ?? "")
        .filter((f) => /\/libllama\.[^/]*so/.test(f)),
    );
    expect([...loaded]).toEqual([model.info.libraryPath]);
    expect(model.info.libraryPath).toContain(`${path.sep}@node-llama-cpp${path.sep}`);
  });

  it("reports the vocabulary and dims of the GGUF", () => {
    expect(model.info).toMatchObject({
      architecture: "gemma3",
      nEmbd: 64,
      nEmbdInp: 64,
      nLayer: 2,
      bos: 2,
      eos: 1,
    });
    expect(model.info.eot).toBe(5); // <end_of_turn>
    expect(model.isEndOfGeneration(model.info.eos)).toBe(true);
    expect(model.isEndOfGeneration(model.info.eot)).toBe(true);
    expect(model.isEndOfGeneration(model.tokenize("cat")[0])).toBe(false);
  });

  it("tokenizes with and without special-token parsing, and detokenizes back", () => {
    const text = "<start_of_turn>user\nwhat is this";
    const parsed = model.tokenize(text, { parseSpecial: true });
    expect(parsed[0]).toBe(4);
    expect(model.tokenText(parsed[1])).toBe("user");
    expect(model.detokenize(parsed, { renderSpecial: true })).toBe(text);
    expect(model.detokenize(parsed)).toBe("user\nwhat is this");
    const literal = model.tokenize(text);
    expect(literal).not.toContain(4);
    expect(model.detokenize(literal)).toBe(text);
    expect(model.tokenize("what", { addSpecial: true })[0]).toBe(model.info.bos);
    expect(Buffer.from(model.tokenPiece(model.tokenize(" the")[0])).toString()).toBe(" the");
  });
});

describe("decode", () => {
  it("token_embd rows × √n_embd fed as embeddings reproduce the token logits", async () => {
    const tokens = model.tokenize("what is the color of this shape", { addSpecial: true });
    const embd = await tokenEmbeddingRows(tokens);
    // llama.cpp's gemma3 graph scales token embeddings by √n_embd, input embeddings not at all.
    const scale = Math.sqrt(model.info.nEmbd);
    for (let i = 0; i < embd.length; i++) embd[i] *= scale;
    const ctx = model.createContext({ contextSize: 256, sequences: 2 });
    try {
      await ctx.decode({ tokens, seqIds: 0, logits: "all" });
      const fromTokens = await rowsLogits(ctx, tokens.length);
      await ctx.decode({ embeddings: { data: embd, dims: [tokens.length, 64] }, seqIds: 1, logits: "all" });
      const fromEmbd = await rowsLogits(ctx, tokens.length);
      let worst = 0;
      for (let i = 0; i < tokens.length; i++) worst = Math.max(worst, maxAbsDiff(fromTokens[i], fromEmbd[i]));
      expect(worst).toBeLessThanOrEqual(1e-5);
      // and the logits are not trivially equal (e.g. all zero)
      expect(maxAbsDiff(fromTokens[0], fromTokens[1])).toBeGreaterThan(1e-2);
    } finally {
      ctx.dispose();
    }
  });

  it("a non-causal embedding block changes its earlier rows' logits; a causal one does not", async () => {
    const prefix = model.tokenize("describe", { addSpecial: true });
    const block = new Float32Array(4 * 64);
    for (let i = 0; i < block.length; i++) block[i] = Math.sin(i * 0.37) * 2;
    const ctx = model.createContext({ contextSize: 256, sequences: 4 });
    try {
      for (const seq of [0, 1, 2]) await ctx.decode({ tokens: prefix, seqIds: seq, logits: "none" });
      const start = prefix.length;
      // row 0 of the block alone: what a causal row 0 sees
      await ctx.decode({ embeddings: block.subarray(0, 64), seqIds: 0, positions: start });
      const alone = ctx.logits(0);
      await ctx.decode({ embeddings: block, seqIds: 1, positions: start, logits: "all", causal: true });
      const causal = await rowsLogits(ctx, 4);
      await ctx.decode({ embeddings: block, seqIds: 2, positions: start, logits: "all", causal: false });
      const bidirectional = await rowsLogits(ctx, 4);
      expect(maxAbsDiff(causal[0], alone)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(bidirectional[0], alone)).toBeGreaterThan(1e-3);
      // a following causal token decode works after a non-causal block (the mode is per batch)
      await ctx.decode({ tokens: model.tokenize(" what"), seqIds: 2 });
      expect(ctx.seqPosMax(2)).toBe(start + 4);
    } finally {
      ctx.dispose();
    }
  });

  it("a prompt decoded at once and incrementally through the KV cache gives the same logits", async () => {
    const tokens = model.tokenize("what is the color of the small circle", { addSpecial: true });
    const ctx = model.createContext({ contextSize: 256, sequences: 3 });
    try {
      await ctx.decode({ tokens, seqIds: 0, logits: "all" });
      const atOnce = await rowsLogits(ctx, tokens.length);
      for (let i = 0; i < tokens.length; i++) {
        await ctx.decode({ tokens: [tokens[i]], seqIds: 1 });
        expect(maxAbsDiff(ctx.logits(0), atOnce[i])).toBeLessThanOrEqual(1e-4);
      }
      expect(ctx.seqPosMax(1)).toBe(tokens.length - 1);
      // a shared prefix: copy 4 positions of seq 0 into seq 2, then decode the rest there
      ctx.seqCopy(0, 2, 0, 4);
      expect(ctx.seqPosMax(2)).toBe(3);
      await ctx.decode({ tokens: tokens.subarray(4), seqIds: 2, logits: "all" });
      for (let i = 4; i < tokens.length; i++) {
        expect(maxAbsDiff(ctx.logits(i - 4), atOnce[i])).toBeLessThanOrEqual(1e-4);
      }
      // removing the tail and decoding it again reproduces it
      expect(ctx.seqRemove(1, 5, -1)).toBe(true);
      expect(ctx.seqPosMax(1)).toBe(4);
      await ctx.decode({ tokens: tokens.subarray(5), seqIds: 1, logits: "last" });
      expect(maxAbsDiff(ctx.logits(tokens.length - 6), atOnce[tokens.length - 1])).toBeLessThanOrEqual(1e-4);
      ctx.seqKeep(1);
      expect(ctx.seqPosMax(0)).toBe(-1);
      ctx.clear();
      expect(ctx.seqPosMax(1)).toBe(-1);
    } finally {
      ctx.dispose();
    }
  });

  it("runs off the JS thread and refuses a second decode or other calls while one runs", async () => {
    const ctx = model.createContext({ contextSize: 512, batchSize: 256 });
    try {
      const tokens = new Int32Array(200).fill(model.tokenize("red")[0]);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      const first = ctx.decode({ tokens });
      expect(ctx.busy).toBe(true);
      await expect(ctx.decode({ tokens: [1], positions: 200 })).rejects.toMatchObject({ code: "BUSY" });
      expect(() => ctx.seqPosMax(0)).toThrow(expect.objectContaining({ code: "BUSY" }));
      await first;
      clearInterval(timer);
      expect(ctx.busy).toBe(false);
      expect(ticks).toBeGreaterThan(0);
      expect(ctx.seqPosMax(0)).toBe(199);
    } finally {
      ctx.dispose();
    }
  });

  it("an AbortSignal stops a decode inside llama.cpp and leaves the context usable", async () => {
    // small ubatches: llama.cpp checks the abort flag while it computes each one
    const ctx = model.createContext({ contextSize: 1024, batchSize: 512, ubatchSize: 8 });
    try {
      const tokens = new Int32Array(512).fill(model.tokenize("blue")[0]);
      const controller = new AbortController();
      const running = ctx.decode({ tokens }, { signal: controller.signal });
      controller.abort();
      await expect(running).rejects.toMatchObject({ code: "ABORTED" });
      // ubatches computed before the abort stay cached: fewer than all 512 positions
      expect(ctx.seqPosMax(0)).toBeLessThan(511);
      await expect(ctx.decode({ tokens: [2] }, { signal: controller.signal })).rejects.toMatchObject({
        code: "ABORTED",
      });
      ctx.clear();
      await ctx.decode({ tokens: tokens.subarray(0, 16) });
      expect(ctx.seqPosMax(0)).toBe(15);
    } finally {
      ctx.dispose();
    }
  });

  it("disposed handles raise DISPOSED; a decode in flight still settles", async () => {
    const ctx = model.createContext({ contextSize: 256 });
    const running = ctx.decode({ tokens: model.tokenize("what is this") });
    ctx.dispose();
    await running;
    await expect(ctx.decode({ tokens: [2] })).rejects.toMatchObject({ code: "DISPOSED" });
    expect(() => ctx.logits(0)).toThrow(expect.objectContaining({ code: "DISPOSED" }));
    const sampler = model.createSampler();
    sampler.dispose();
    expect(() => sampler.reset()).toThrow(expect.objectContaining({ code: "DISPOSED" }));
  });
});

describe("threads", () => {
  it("setThreads lowers the compute threads between decodes; the logits do not depend on them", async () => {
    const ctx = model.createContext({ contextSize: 256, threads: 2 });
    try {
      expect(ctx.info.threads).toBe(2);
      const tokens = model.tokenize("what is the color of", { addSpecial: true });
      await ctx.decode({ tokens });
      const two = ctx.logits(tokens.length - 1);
      ctx.setThreads(1);
      expect(ctx.threads).toBe(1);
      expect(ctx.info.threads).toBe(2);
      ctx.clear();
      await ctx.decode({ tokens });
      expect(ctx.logits(tokens.length - 1)).toEqual(two);
      expect(() => ctx.setThreads(3)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      expect(() => ctx.setThreads(0)).toThrow(/threads/);
      const running = ctx.decode({ tokens: [2] });
      expect(() => ctx.setThreads(2)).toThrow(expect.objectContaining({ code: "BUSY" }));
      await running;
    } finally {
      ctx.dispose();
    }
  });
});

describe("sampling", () => {
  it("greedy generation matches node-llama-cpp's own greedy evaluation of the same GGUF", async () => {
    const prompt = model.tokenize("what is the color of this", { addSpecial: true });
    const steps = 12;

    const ctx = model.createContext({ contextSize: 256 });
    const sampler = model.createSampler({ temperature: 0 });
    const ours: number[] = [];
    try {
      await ctx.decode({ tokens: prompt });
      for (let i = 0; i < steps; i++) {
        // logits rows are batch indices: the prompt's last row, then row 0 of each 1-token batch
        const token = sampler.sample(ctx, i === 0 ? prompt.length - 1 : 0);
        ours.push(token);
        await ctx.decode({ tokens: [token] });
      }
    } finally {
      sampler.dispose();
      ctx.dispose();
    }

    const reference = await model.llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
    const refCtx = await reference.createContext({ contextSize: 256, threads: 2 });
    const theirs: number[] = [];
    try {
      const sequence = refCtx.getSequence();
      for await (const token of sequence.evaluate(Array.from(prompt) as Token[], { temperature: 0 })) {
        theirs.push(token as number);
        if (theirs.length === steps) break;
      }
    } finally {
      await refCtx.dispose();
      await reference.dispose();
    }
    expect(ours).toEqual(theirs);
    expect(ours).toHaveLength(steps);
  });

  it("greedy picks the argmax; a seeded chain repeats itself and penalties change the choice", async () => {
    const prompt = model.tokenize("what is the color of", { addSpecial: true });
    const ctx = model.createContext({ contextSize: 256 });
    try {
      await ctx.decode({ tokens: prompt });
      const last = prompt.length - 1;
      const logits = ctx.logits(last);
      const greedy = model.createSampler();
      expect(greedy.sample(ctx, last)).toBe(argmax(logits));
      // greedy alone scans the logits itself; through llama.cpp's chain (a no-op temperature stage
      // first) the same row selects the same token
      const chained = model.createSampler([{ type: "temperature", temperature: 1 }, { type: "greedy" }]);
      expect(chained.sample(ctx, last)).toBe(greedy.sample(ctx, last));
      chained.dispose();
      // a penalty on the argmax token (accepted as history) moves the greedy choice away from it
      const penalized = model.createSampler({ repeatPenalty: 1e6, repeatLastN: 8 });
      penalized.accept(argmax(logits));
      expect(penalized.sample(ctx, last)).not.toBe(argmax(logits));

      const draw = (seed: number) => {
        const s = model.createSampler({ temperature: 5, topK: 0, topP: 1, minP: 0, seed });
        const out = Array.from({ length: 16 }, () => s.sample(ctx, last));
        s.dispose();
        return out;
      };
      expect(draw(42)).toEqual(draw(42));
      expect(new Set(draw(42)).size).toBeGreaterThan(1);
      expect(draw(42)).not.toEqual(draw(43));
    } finally {
      ctx.dispose();
    }
  });

  it("sampling a row without logits raises instead of reaching llama.cpp's assert", async () => {
    const ctx = model.createContext({ contextSize: 256 });
    const sampler = model.createSampler();
    try {
      await ctx.decode({ tokens: model.tokenize("what is this"), logits: [0] });
      expect(() => sampler.sample(ctx, 2)).toThrow(/row 2 has no logits.*\[0\]/);
      try {
        sampler.sample(ctx, 2);
      } catch (error) {
        expect(isVlmkitError(error) && error.code).toBe("INVALID_ARGUMENT");
      }
    } finally {
      sampler.dispose();
      ctx.dispose();
    }
  });
});
