// Every invalid argument must come back as a JS error with a vlmkit code; if one reached llama.cpp it
// could hit a GGML_ASSERT and abort the process. The cases run in a child process so that an abort
// fails this test instead of killing the test runner.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeModel } from "../../src/llm/native.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";

const child = path.join(import.meta.dirname, "helpers", "child-native-validation.ts");
let dir: string;
let ggufPath: string;
let results: Map<string, { code: string; message: string }>;
let run: ReturnType<typeof spawnSync>;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-native-validation-"));
  ggufPath = path.join(dir, "tiny-gemma3.gguf");
  await writeTinyGemma3Gguf(ggufPath, { seed: 3 });
  run = spawnSync(process.execPath, ["--import", "tsx", child, ggufPath], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, VLMKIT_THREADS: "2" },
  });
  results = new Map();
  for (const line of String(run.stdout).split("\n")) {
    if (!line.startsWith("{")) continue;
    const { name, code, message } = JSON.parse(line);
    results.set(name, { code, message });
  }
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const expected: Record<string, [code: string, message?: RegExp]> = {
  "non-causal batch longer than ubatch": ["INVALID_ARGUMENT", /non-causal batch of 16 rows .* ubatchSize 8/],
  "batch longer than n_batch": ["INVALID_ARGUMENT", /40 rows, more than the context's batchSize 32/],
  "token id = n_vocab": ["INVALID_ARGUMENT", /tokens\[1\] = \d+ is not a token id/],
  "negative token id": ["INVALID_ARGUMENT", /tokens\[0\] = -1/],
  "embedding width != n_embd": ["SHAPE_MISMATCH", /63 values, not a multiple of n_embd = 64/],
  "non-finite embedding": ["INVALID_ARGUMENT", /not finite/],
  "seq id >= n_seq_max": ["INVALID_ARGUMENT", /seqIds\[0\] = 2 is not a sequence id in \[0, 2\)/],
  "negative seq id": ["INVALID_ARGUMENT", /seqIds\[0\] = -1/],
  "position beyond n_ctx": ["CONTEXT_OVERFLOW", /positions\[0\] = 256 is beyond the 256 positions/],
  "negative position": ["INVALID_ARGUMENT", /-3 is negative/],
  "positions with a gap": ["INVALID_ARGUMENT", /must be 1/],
  "positions length mismatch": ["SHAPE_MISMATCH", /2 rows but positions, seqIds and logits have 1, 2 and 2/],
  "empty batch": ["INVALID_ARGUMENT", /empty/],
  "tokens and embeddings together": ["INVALID_ARGUMENT", /exactly one of tokens/],
  "tokens as a plain array": ["INVALID_ARGUMENT", /must be an Int32Array, got an array/],
  "positions as Float32Array": ["INVALID_ARGUMENT", /must be an Int32Array/],
  "batch is null": ["INVALID_ARGUMENT", /batch must be an object, got null/],
  "logits of a row without logits": ["INVALID_ARGUMENT", /row 0 has no logits/],
  "logits row as a string": ["INVALID_ARGUMENT", /row must be an integer, got "0"/],
  "seq op on seq id >= n_seq_max": ["INVALID_ARGUMENT", /got 2/],
  "reversed range": ["INVALID_ARGUMENT", /\[5, 2\) is reversed/],
  "partial seqCopy without a unified KV cache": ["INVALID_ARGUMENT", /kvUnified: true/],
  "contextSize is a string": ["INVALID_ARGUMENT", /contextSize must be an integer, got "big"/],
  "ubatch larger than batch": ["INVALID_ARGUMENT", /ubatchSize must be an integer in \[1, 32\], got 64/],
  "threadpool polling level out of range": ["INVALID_ARGUMENT", /threadpoolPoll/],
  "unknown flashAttention": ["INVALID_ARGUMENT", /got "yes"/],
  "context of a non-model": ["INVALID_ARGUMENT", /must be a NativeModel/],
  "sampler without a final choice": ["INVALID_ARGUMENT", /last stage must be "greedy" or "dist"/],
  "sampler top-p above 1": ["INVALID_ARGUMENT", /p must be a number in \[0, 1\], got 2/],
  "sampler unknown stage": ["INVALID_ARGUMENT", /got "mirostat"/],
  "sample a row without logits": ["INVALID_ARGUMENT", /row 0 has no logits/],
  "accept token out of range": ["INVALID_ARGUMENT", /token must be an integer/],
  "tokenize a number": ["INVALID_ARGUMENT", /text must be a string, got 5/],
  "detokenize token out of range": ["INVALID_ARGUMENT", /is not in \[0, /],
  "tokenText of token -1": ["INVALID_ARGUMENT", /got -1/],
  "construct a model directly": ["INVALID_ARGUMENT", /cannot be constructed directly/],
  "load a missing file": ["MODEL_FORMAT", /could not load the GGUF file "\/nonexistent\/model.gguf"/],
  "second decode while one runs": ["BUSY", /a decode is running/],
  "KV cache full": ["CONTEXT_OVERFLOW", /no room for a batch of 100 rows/],
  "disposed sampler": ["DISPOSED"],
  "sampler penalties lastN beyond the bound": ["INVALID_ARGUMENT", /lastN/],
  "sampler stage type read once (a getter cannot drop the final choice)": ["NONE"],
  "a batch getter that disposes the context": ["DISPOSED", /disposed while its batch was being read/],
  "a batch getter that detaches an array read earlier": [
    "SHAPE_MISMATCH",
    /2 rows but positions, seqIds and logits have 0, 2 and 2/,
  ],
  "a batch getter that detaches the array read just before it": [
    "SHAPE_MISMATCH",
    /2 rows but positions, seqIds and logits have 2, 0 and 2/,
  ],
  "valid decode afterwards": ["OK"],
  "tokenize after model dispose": ["DISPOSED"],
  "context of a disposed model": ["DISPOSED"],
};

describe("addon argument validation (child process)", () => {
  it("the child ran every case and exited normally (no abort)", () => {
    expect(run.error).toBeUndefined();
    expect(run.signal, String(run.stderr)).toBeNull();
    expect(run.status, String(run.stderr)).toBe(0);
    expect([...results.keys()].sort()).toEqual(Object.keys(expected).sort());
  });

  for (const [name, [code, message]] of Object.entries(expected)) {
    it(`${name} → ${code}`, () => {
      const got = results.get(name);
      expect(got?.code, got?.message).toBe(code);
      if (message) expect(got?.message).toMatch(message);
    });
  }
});

describe("NativeModel.load", () => {
  it("reports a missing file as NOT_FOUND before llama.cpp sees it", async () => {
    await expect(NativeModel.load(path.join(dir, "absent.gguf"), { gpu: false })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("absent.gguf"),
    });
  });
});
