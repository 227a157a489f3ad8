/**
 * Dequantization checked by llama.cpp itself: token_embd rows decoded by GgufReader, × √n_embd, fed
 * as input embeddings through the addon, must give the logits llama.cpp computes from the token ids
 * (its gemma3 graph dequantizes those rows with get_rows and scales them by √n_embd). Any decoding
 * difference, even one ulp in one value, shows up in the logits of a full random model.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgufReader } from "../../src/llm/gguf-read.js";
import { NativeModel } from "../../src/llm/native.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "gguf");

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-gguf-native-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Logits of every row for `tokens` decoded as ids and as dequantized, scaled embedding rows. */
async function tokenVsEmbeddingLogits(file: string, tokens: number[]) {
  const reader = await GgufReader.open(file);
  const rows = await reader.readRows("token_embd.weight", tokens); // [n, n_embd]
  const typeName = reader.tensor("token_embd.weight").type?.name;
  await reader.close();
  const nEmbd = rows.dims[1];
  // llama.cpp multiplies by sqrtf(n_embd): a float32 factor.
  const scale = Math.fround(Math.sqrt(nEmbd));
  const embeddings = rows.data.map((v) => v * scale);

  const model = await NativeModel.load(file, { gpu: false });
  try {
    const ctx = model.createContext({ contextSize: 256, sequences: 2 });
    try {
      const read = () => tokens.map((_, i) => Float32Array.from(ctx.logits(i)));
      await ctx.decode({ tokens, seqIds: 0, logits: "all" });
      const fromTokens = read();
      await ctx.decode({
        embeddings: { data: embeddings, dims: [tokens.length, nEmbd] },
        seqIds: 1,
        logits: "all",
      });
      const fromEmbeddings = read();
      return { typeName, fromTokens, fromEmbeddings };
    } finally {
      ctx.dispose();
    }
  } finally {
    model.dispose();
  }
}

function expectSameLogits(a: Float32Array[], b: Float32Array[]): void {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a[i].length; j++) worst = Math.max(worst, Math.abs(a[i][j] - b[i][j]));
  }
  expect(worst).toBe(0);
  // not trivially equal: different positions give different logits
  expect(a[0]).not.toEqual(a[1]);
}

const TOKENS = [2, 350, 360, 300, 12, 400, 5];

describe("decoded token_embd rows reproduce llama.cpp's token logits exactly", () => {
  for (const type of ["f32", "f16", "q8_0", "q4_0"] as const) {
    it(`${type} (written by vlmkit, full random model)`, async () => {
      const file = path.join(dir, `native-${type}.gguf`);
      await writeTinyGemma3Gguf(file, { seed: 4, type });
      const { typeName, fromTokens, fromEmbeddings } = await tokenVsEmbeddingLogits(file, TOKENS);
      expect(typeName).toBe(type.toUpperCase());
      expectSameLogits(fromTokens, fromEmbeddings);
    });
  }

  for (const [file, type] of [
    ["kquant-q4_k_m.gguf", "Q4_K"],
    ["kquant-q5_k_m.gguf", "Q5_K"],
    ["kquant-q6_k.gguf", "Q6_K"],
    ["tiny-bf16.gguf", "BF16"],
  ] as const) {
    it(`${type} (${file}, written by llama-quantize)`, async () => {
      const { typeName, fromTokens, fromEmbeddings } = await tokenVsEmbeddingLogits(
        path.join(FIXTURES, file),
        TOKENS,
      );
      expect(typeName).toBe(type);
      expectSameLogits(fromTokens, fromEmbeddings);
    });
  }
});
