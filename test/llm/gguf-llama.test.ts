/**
 * llama.cpp (through node-llama-cpp) as the judge of the GGUF files vlmkit writes and of the values
 * it decodes: every written type loads, tokenizes and generates; and with `zeroResiduals` the logits
 * have a closed form in token_embd and output_norm, so llama.cpp's logits check the dequantized
 * weights, for vlmkit's own files and for K-quant/BF16 files made by llama-quantize.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, type Llama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultThreads } from "../../src/env.js";
import { GgufReader } from "../../src/llm/gguf-read.js";
import {
  GEMMA3_270M_DIMS,
  type Gemma3Dims,
  type TinyGemma3Options,
  tinyGemma3Vocab,
  writeTinyGemma3Gguf,
} from "../../src/tiny/gemma3.js";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "gguf");

let llama: Llama;
let dir: string;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-gguf-llama-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function withModel<T>(file: string, fn: (m: Awaited<ReturnType<Llama["loadModel"]>>) => Promise<T>) {
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  try {
    return await fn(model);
  } finally {
    await model.dispose();
  }
}

/** llama.cpp's next-token log-probabilities after the single token `token` (logits up to a constant). */
async function llamaLogProbs(file: string, token: number): Promise<Float64Array> {
  return withModel(file, async (model) => {
    const context = await model.createContext({ contextSize: 32, threads: defaultThreads() });
    try {
      const [out] = await context
        .getSequence()
        .controlledEvaluate([
          [
            token as Token,
            { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } },
          ],
        ]);
      const probs = out?.next.probabilities;
      if (!probs) throw new Error("no probabilities returned");
      // topK 0 / topP 1 / minP 0 keep every token, so the map covers the whole vocabulary.
      const lp = new Float64Array(probs.size);
      for (const [t, p] of probs) lp[t] = Math.log(p);
      return lp;
    } finally {
      await context.dispose();
    }
  });
}

/**
 * The closed-form logits of a zeroResiduals model from its dequantized weights:
 * h = √n_embd·E[t]; logits = E · (h / rms(h) ⊙ g).
 */
async function closedFormLogits(file: string, token: number, eps: number): Promise<Float64Array> {
  const reader = await GgufReader.open(file);
  try {
    const E = await reader.readTensor("token_embd.weight"); // [n_vocab, n_embd]
    const g = (await reader.readTensor("output_norm.weight")).data; // [n_embd]
    const [V, D] = E.dims;
    const scale = Math.fround(Math.sqrt(D));
    const h = Array.from(E.data.subarray(token * D, (token + 1) * D), (v) => v * scale);
    const rms = Math.sqrt(h.reduce((s, v) => s + v * v, 0) / D + eps);
    const n = h.map((v, i) => (v / rms) * g[i]);
    const logits = new Float64Array(V);
    for (let j = 0; j < V; j++) {
      let s = 0;
      for (let i = 0; i < D; i++) s += n[i] * E.data[j * D + i];
      logits[j] = s;
    }
    return logits;
  } finally {
    await reader.close();
  }
}

/** Largest difference after removing each vector's mean (log-probs equal logits up to a constant). */
function maxCenteredDiff(a: Float64Array, b: Float64Array): { diff: number; scale: number } {
  expect(a.length).toBe(b.length);
  const mean = (x: Float64Array) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = mean(a);
  const mb = mean(b);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - ma - (b[i] - mb)));
    scale = Math.max(scale, Math.abs(b[i] - mb));
  }
  return { diff, scale };
}

const TYPES = ["f32", "f16", "q8_0", "q4_0"] as const;

describe("llama.cpp loads tiny gemma3 GGUF files", () => {
  for (const type of TYPES) {
    it(`${type}: loads, tokenizes with the tiny vocabulary and generates greedily`, async () => {
      const file = path.join(dir, `tiny-${type}.gguf`);
      const written = await writeTinyGemma3Gguf(file, { seed: 1, type });
      await withModel(file, async (model) => {
        expect(model.fileInfo.metadata.general.architecture).toBe("gemma3");
        expect(model.fileInsights.trainContextSize).toBe(512);
        expect(model.tokens.bos).toBe(2);
        expect(model.tokens.eos).toBe(1);
        const tokens = model.tokenize("what is this color?\n");
        expect(tokens.map((t) => written.tokens[t])).toEqual(["what", "▁is", "▁this", "▁color", "?", "\n"]);
        expect(model.detokenize(tokens)).toBe("what is this color?\n");
        expect(model.tokenize("<start_of_turn>", true)).toEqual([written.special.startOfTurn]);

        const generate = async () => {
          const context = await model.createContext({ contextSize: 64, threads: defaultThreads() });
          try {
            const out: number[] = [];
            for await (const t of context
              .getSequence()
              .evaluate([model.tokens.bos as Token, ...tokens], { temperature: 0 })) {
              out.push(t);
              if (out.length === 6) break;
            }
            return out;
          } finally {
            await context.dispose();
          }
        };
        const first = await generate();
        expect(first).toHaveLength(6);
        for (const t of first) expect(t >= 0 && t < written.tokens.length).toBe(true);
        expect(await generate()).toEqual(first);
      });
    });
  }

  it("the tiny preset has a local (sliding-window) and a global layer, as llama.cpp reads them", async () => {
    const file = path.join(dir, "tiny-swa.gguf");
    await writeTinyGemma3Gguf(file, { seed: 1 });
    const logs: string[] = [];
    llama.logLevel = LlamaLogLevel.info;
    llama.logger = (_level, message) => logs.push(message);
    try {
      await withModel(file, async (model) => {
        const context = await model.createContext({ contextSize: 64, threads: defaultThreads() });
        await context.dispose();
      });
    } finally {
      llama.logLevel = LlamaLogLevel.error;
    }
    const text = logs.join("\n");
    expect(text).toMatch(/n_swa\s+= 16$/m);
    expect(text).toMatch(/freq_base_train\s+= 1000000\.0$/m);
    expect(text).toMatch(/freq_base_swa\s+= 10000\.0$/m);
    // The interleaved-SWA KV cache: one cache for global layers, one for local ones, 1 layer each.
    expect(text).toMatch(/creating non-SWA KV cache/);
    expect(text).toMatch(/creating {5}SWA KV cache/);
    expect(text.match(/cells,\s+1 layers/g)).toHaveLength(2);
  });

  it("Gemma-3-270M shapes (head_dim 256 ≠ n_embd/n_head, 1 KV head) load, with one layer and a small vocab", async () => {
    const file = path.join(dir, "270m-shaped.gguf");
    const dims: Partial<Gemma3Dims> = { layers: 1, vocab: 1024, contextLength: 256 };
    const written = await writeTinyGemma3Gguf(file, { preset: "gemma-3-270m", dims, type: "q8_0", seed: 2 });
    expect(written.dims).toMatchObject({ ...GEMMA3_270M_DIMS, ...dims });
    expect(written.tokens).toHaveLength(1024);
    await withModel(file, async (model) => {
      const arch = model.fileInfo.architectureMetadata;
      expect(arch).toMatchObject({
        embedding_length: 640,
        feed_forward_length: 2048,
        attention: { head_count: 4, head_count_kv: 1, key_length: 256, sliding_window: 512 },
      });
      const context = await model.createContext({ contextSize: 32, threads: defaultThreads() });
      try {
        let first = -1;
        for await (const t of context.getSequence().evaluate([2, 700, 701] as Token[], { temperature: 0 })) {
          first = t;
          break;
        }
        expect(first >= 0 && first < 1024).toBe(true);
      } finally {
        await context.dispose();
      }
    });
  });
});

describe("dequantized token_embd reproduces llama.cpp's logits (zeroResiduals closed form)", () => {
  // Tolerances, relative to the largest centered logit, come from llama.cpp's side: its matmul
  // quantizes the activations (to Q8) for quantized weights and rounds them to F16/BF16 for those
  // weights. Measured (|Δ| / scale): f32 1e-7, f16 1.2e-4, bf16 7.5e-4, q8_0 2.4e-3, q4_0 1.9e-3,
  // Q4_K 1.7e-3, Q5_K 2.1e-3, Q6_K 1.8e-3. A decoding error in token_embd moves logits by O(scale).
  const tolerance: Record<string, number> = { F32: 1e-5, F16: 1e-3, BF16: 4e-3 };
  const quantizedTolerance = 6e-3;
  const token = 350;

  for (const type of TYPES) {
    it(`${type} (written by vlmkit)`, async () => {
      const file = path.join(dir, `zero-${type}.gguf`);
      await writeTinyGemma3Gguf(file, { seed: 3, type, zeroResiduals: true });
      const { diff, scale } = maxCenteredDiff(
        await llamaLogProbs(file, token),
        await closedFormLogits(file, token, 1e-6),
      );
      expect(scale).toBeGreaterThan(2);
      expect(diff / scale).toBeLessThan(tolerance[type.toUpperCase()] ?? quantizedTolerance);
    });
  }

  for (const file of ["kquant-q4_k_m.gguf", "kquant-q5_k_m.gguf", "kquant-q6_k.gguf", "tiny-bf16.gguf"]) {
    it(`${file} (written by llama-quantize)`, async () => {
      const full = path.join(FIXTURES, file);
      const reader = await GgufReader.open(full);
      const embdType = reader.tensor("token_embd.weight").type?.name ?? "?";
      await reader.close();
      expect(embdType).toBe(
        file.includes("q4_k")
          ? "Q4_K"
          : file.includes("q5_k")
            ? "Q5_K"
            : file.includes("q6_k")
              ? "Q6_K"
              : "BF16",
      );
      const { diff, scale } = maxCenteredDiff(
        await llamaLogProbs(full, token),
        await closedFormLogits(full, token, 1e-6),
      );
      expect(scale).toBeGreaterThan(2);
      expect(diff / scale).toBeLessThan(tolerance[embdType] ?? quantizedTolerance);
    });
  }
});

describe("K-quant and BF16 fixtures decode close to their F32 originals", () => {
  interface FixtureSpec {
    kquant: { seed: number; zeroResiduals: boolean; dims: Partial<Gemma3Dims> };
    bf16: { seed: number; zeroResiduals: boolean; dims: Partial<Gemma3Dims> };
    files: Record<string, { source: "kquant" | "bf16"; ftype: string }>;
  }
  /** Relative RMS error bounds per ggml type (measured values in docs/gguf.md, with margin). */
  const bound: Record<string, number> = { Q4_K: 0.12, Q5_K: 0.06, Q6_K: 0.03, BF16: 0.004, F32: 0 };

  it("every tensor of every fixture is within its type's error of the regenerated F32 model", async () => {
    const spec = JSON.parse(await fs.readFile(path.join(FIXTURES, "fixtures.json"), "utf8")) as FixtureSpec;
    const originals: Record<string, string> = {};
    for (const source of ["kquant", "bf16"] as const) {
      originals[source] = path.join(dir, `original-${source}.gguf`);
      const { seed, zeroResiduals, dims } = spec[source];
      await writeTinyGemma3Gguf(originals[source], {
        seed,
        zeroResiduals,
        dims,
        type: "f32",
      } as TinyGemma3Options);
    }
    const typesSeen = new Set<string>();
    for (const [file, f] of Object.entries(spec.files)) {
      const quant = await GgufReader.open(path.join(FIXTURES, file));
      const orig = await GgufReader.open(originals[f.source]);
      try {
        expect([...quant.tensors.keys()].sort()).toEqual([...orig.tensors.keys()].sort());
        for (const entry of quant.tensors.values()) {
          const typeName = entry.type?.name ?? `id ${entry.typeId}`;
          typesSeen.add(typeName);
          const a = (await quant.readTensor(entry.name)).data;
          const b = (await orig.readTensor(entry.name)).data;
          let err = 0;
          let ref = 0;
          for (let i = 0; i < a.length; i++) {
            err += (a[i] - b[i]) ** 2;
            ref += b[i] ** 2;
          }
          const rel = ref === 0 ? Math.sqrt(err) : Math.sqrt(err / ref);
          expect(rel, `${file} ${entry.name} (${typeName})`).toBeLessThanOrEqual(bound[typeName] ?? -1);
        }
      } finally {
        await quant.close();
        await orig.close();
      }
    }
    expect([...typesSeen].sort()).toEqual(["BF16", "F32", "Q4_K", "Q5_K", "Q6_K"]);
  });

  it("the tiny vocabulary has unique strings (llama.cpp aborts on duplicates)", () => {
    const { tokens } = tinyGemma3Vocab(2000);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.slice(0, 4)).toEqual(["<pad>", "<eos>", "<bos>", "<unk>"]);
  });
});
