// Adapter kinds: the block grouping on the patch grid (partial blocks at the edges, non-square
// NaFlex-like grids), each kind's onnxruntime `apply` against a plain-JS reference of its operations,
// save/load through the card, and the card's token-count rules.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Adapter,
  initAdapter,
  loadAdapter,
  mergedGrid,
  saveAdapter,
  tokensPerImage,
} from "../../src/adapter/index.js";
import { TokenMerger } from "../../src/adapter/kinds/merge.js";
import { kindSpec } from "../../src/adapter/kinds/registry.js";
import { blockIndex } from "../../src/adapter/kinds/token-grid.js";
import { InvalidArgumentError, ModelFormatError, ShapeError } from "../../src/errors.js";
import { vocabFingerprint } from "../../src/llm/identity.js";
import { type Tensor, tensor } from "../../src/tensor.js";
import { SeededRandom } from "../../src/util/random.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function randomFeatures(n: number, dv: number, seed: number): Tensor {
  return tensor(new SeededRandom(seed).normalArray(n * dv, 1), [n, dv]);
}

/** The real patches of block (R, C), row-major inside the block; null for a slot outside the grid. */
function blockPatches(rows: number, cols: number, f: number, R: number, C: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let dy = 0; dy < f; dy++)
    for (let dx = 0; dx < f; dx++) {
      const r = R * f + dy;
      const c = C * f + dx;
      out.push(r < rows && c < cols ? r * cols + c : null);
    }
  return out;
}

/** x · Wᵀ (+ b) for one row; W is [out, in] row-major. */
function linear(x: ArrayLike<number>, w: Tensor, b?: Tensor): number[] {
  const [out, inp] = w.dims;
  return Array.from({ length: out }, (_, o) => {
    let s = b ? b.data[o] : 0;
    for (let i = 0; i < inp; i++) s += w.data[o * inp + i] * x[i];
    return s;
  });
}

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** Each kind's operations in plain JS, straight from its definition in docs/adapter.md. */
function reference(adapter: Adapter, features: Tensor, rows: number, cols: number): number[][] {
  const p = adapter.toTensors();
  const dv = adapter.inputSize;
  const row = (i: number) => Array.from(features.data.subarray(i * dv, (i + 1) * dv));
  const f = adapter.factor;
  const merged = mergedGrid({ rows, cols }, f);
  const blocks = Array.from({ length: merged.rows * merged.cols }, (_, t) =>
    blockPatches(rows, cols, f, Math.floor(t / merged.cols), t % merged.cols),
  );
  switch (adapter.kind) {
    case "linear":
      return Array.from({ length: rows * cols }, (_, i) =>
        linear(row(i), p.get("linear.weight")!, p.get("linear.bias")),
      );
    case "mlp":
      return Array.from({ length: rows * cols }, (_, i) =>
        linear(
          linear(row(i), p.get("mlp.0.weight")!, p.get("mlp.0.bias")).map(geluTanh),
          p.get("mlp.2.weight")!,
          p.get("mlp.2.bias"),
        ),
      );
    case "pixel-shuffle":
      return blocks.map((slots) =>
        linear(
          slots.flatMap((i) => (i === null ? new Array(dv).fill(0) : row(i))),
          p.get("proj.weight")!,
        ),
      );
    case "avgpool":
      return blocks.map((slots) => {
        const present = slots.filter((i): i is number => i !== null);
        const mean = new Array(dv).fill(0);
        for (const i of present) {
          for (const [c, v] of row(i).entries()) mean[c] += v / present.length;
        }
        const rms = Math.sqrt(mean.reduce((s, v) => s + v * v, 0) / dv + 1e-6);
        const w = p.get("norm.weight")!.data;
        return linear(
          mean.map((v, c) => (v / rms) * w[c]),
          p.get("proj.weight")!,
        );
      });
  }
}

function expectClose(actual: Tensor, expected: number[][], what: string): void {
  expect(actual.dims, what).toEqual([expected.length, expected[0].length]);
  let worst = 0;
  let scale = 0;
  for (const [i, r] of expected.entries()) {
    for (const [j, v] of r.entries()) {
      worst = Math.max(worst, Math.abs(actual.data[i * r.length + j] - v));
      scale = Math.max(scale, Math.abs(v));
    }
  }
  expect(worst, what).toBeLessThan(1e-4 * Math.max(1, scale));
}

describe("blocks on the patch grid", () => {
  it("covers a grid divisible by the factor with whole blocks, row-major", () => {
    const b = blockIndex({ rows: 4, cols: 4 }, 2);
    expect(b.grid).toEqual({ rows: 2, cols: 2 });
    // Token 1 is block (0, 1): patches (0,2) (0,3) (1,2) (1,3).
    expect(Array.from(b.index.subarray(4, 8), Number)).toEqual([2, 3, 6, 7]);
    expect(Array.from(b.inverseCount)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it("gives a non-square grid not divisible by the factor partial blocks whose missing slots point at the zero row", () => {
    // A NaFlex-like 5×3 grid (15 real patches), factor 2 → 3×2 tokens.
    const b = blockIndex({ rows: 5, cols: 3 }, 2);
    expect(b.grid).toEqual({ rows: 3, cols: 2 });
    const tokens = Array.from({ length: 6 }, (_, t) =>
      Array.from(b.index.subarray(t * 4, t * 4 + 4), Number),
    );
    expect(tokens[1]).toEqual([2, 15, 5, 15]); // right column: (0,2), (1,2) present
    expect(tokens[4]).toEqual([12, 13, 15, 15]); // bottom row: (4,0), (4,1) present
    expect(tokens[5]).toEqual([14, 15, 15, 15]); // corner: only (4,2)
    expect(Array.from(b.inverseCount)).toEqual([0.25, 0.5, 0.25, 0.5, 0.5, 1]);
    expect(mergedGrid({ rows: 5, cols: 3 }, 4)).toEqual({ rows: 2, cols: 1 });
  });

  it("counts tokens per image for fixed resolution", () => {
    expect(tokensPerImage(64, 4)).toBe(256); // Gemma 3: 896 px / 14 px patches, pooled 4×4
    expect(tokensPerImage(14, 4)).toBe(16); // 224 / 16 = 14 → ⌈14/4⌉²
    expect(tokensPerImage(16, 2)).toBe(64);
    expect(tokensPerImage(16, 1)).toBe(256);
  });
});

describe("each kind's apply in onnxruntime", () => {
  const DV = 6;
  const DL = 5;
  const grids = [
    { rows: 4, cols: 4 },
    { rows: 5, cols: 3 }, // non-square, not divisible
    { rows: 1, cols: 7 },
  ];
  for (const [kind, factor] of [
    ["linear", 1],
    ["mlp", 1],
    ["pixel-shuffle", 2],
    ["pixel-shuffle", 3],
    ["avgpool", 2],
    ["avgpool", 4],
  ] as const) {
    it(`${kind} (factor ${factor}) matches its definition on square and non-square grids`, async () => {
      const adapter = initAdapter(kind, { inputSize: DV, outputSize: DL, factor, seed: 3, targetRms: 2 });
      // Non-trivial biases and norm scales, so each term is exercised.
      for (const [name, t] of adapter.toTensors()) {
        if (t.dims.length === 1) t.data.set(new SeededRandom(name.length).normalArray(t.data.length, 0.5));
      }
      try {
        for (const [i, grid] of grids.entries()) {
          const features = randomFeatures(grid.rows * grid.cols, DV, 10 + i);
          const y = await adapter.apply(features, grid);
          expectClose(
            y,
            reference(adapter, features, grid.rows, grid.cols),
            `${kind} on ${grid.rows}×${grid.cols}`,
          );
        }
      } finally {
        await (adapter as { dispose?: () => Promise<void> }).dispose?.();
      }
    });
  }

  it("starts the outputs near the target RMS for every kind", async () => {
    for (const [kind, factor] of [
      ["linear", 1],
      ["mlp", 1],
      ["pixel-shuffle", 2],
      ["avgpool", 2],
    ] as const) {
      const adapter = initAdapter(kind, { inputSize: 64, outputSize: 64, factor, seed: 1, targetRms: 3 });
      const y = await adapter.apply(randomFeatures(256, 64, 4), { rows: 16, cols: 16 });
      const rms = Math.sqrt(y.data.reduce((s, v) => s + v * v, 0) / y.data.length);
      expect(rms, kind).toBeGreaterThan(3 * 0.7);
      expect(rms, kind).toBeLessThan(3 * 1.3);
    }
  });

  it("refuses a merging kind without a grid, or with a grid that does not fit the features", async () => {
    const adapter = initAdapter("avgpool", { inputSize: DV, outputSize: DL, factor: 2 });
    const features = randomFeatures(12, DV, 1);
    await expect(adapter.apply(features)).rejects.toThrow(ShapeError);
    await expect(adapter.apply(features, { rows: 3, cols: 5 })).rejects.toThrow(
      /3×5 has 15 patches but the features have 12 rows/,
    );
    await expect(adapter.apply(randomFeatures(12, 4, 1), { rows: 3, cols: 4 })).rejects.toThrow(ShapeError);
  });

  it("refuses factors that do not suit the kind and unknown kinds", () => {
    expect(() => initAdapter("avgpool", { inputSize: 4, outputSize: 4, factor: 1 })).toThrow(
      /integer factor ≥ 2/,
    );
    expect(() => initAdapter("mlp", { inputSize: 4, outputSize: 4, factor: 2 })).toThrow(/no pool factor/);
    expect(() => initAdapter("conv", { inputSize: 4, outputSize: 4, factor: 1 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => kindSpec("conv")).toThrow(/linear, mlp, pixel-shuffle, avgpool/);
  });

  it("merges for training exactly as apply does", async () => {
    const adapter = initAdapter("pixel-shuffle", { inputSize: DV, outputSize: DL, factor: 2, seed: 2 });
    const merger = new TokenMerger(kindSpec("pixel-shuffle"), 2, DV, { threads: 1 });
    try {
      const grid = { rows: 5, cols: 3 };
      const features = randomFeatures(15, DV, 7);
      const tokens = await merger.merge(features, grid);
      expect(tokens.dims).toEqual([6, 4 * DV]);
      const w = adapter.toTensors().get("proj.weight")!;
      const viaTokens = Array.from({ length: 6 }, (_, t) =>
        linear(tokens.data.subarray(t * 4 * DV, (t + 1) * 4 * DV), w),
      );
      expectClose(await adapter.apply(features, grid), viaTokens, "merge + head");
    } finally {
      await merger.dispose();
    }
  });
});

describe("saving and loading each kind", () => {
  const VOCAB = ["<pad>", "<eos>", "<bos>", "a"];
  const card = (
    tokens: number | "dynamic",
    preprocessing = { kind: "fixed" as const, size: 224, patch_size: 16 },
  ) => ({
    encoder: { id: "siglip2-base-patch16-224", family: "siglip2" as const, hidden: 12, preprocessing },
    llm: {
      architecture: "gemma3",
      n_embd: 8,
      n_vocab: 4,
      vocab_fingerprint: vocabFingerprint(VOCAB),
      name: "tiny",
    },
    prompt: { style: "gemma-chat" as const, image_tokens: tokens },
    attention: "bidirectional-image" as const,
  });

  for (const [kind, factor, tokens] of [
    ["mlp", 1, 196],
    ["pixel-shuffle", 2, 49],
    ["avgpool", 4, 16],
  ] as const) {
    it(`round-trips a ${kind} adapter with its kind, factor and tokens per image in the card`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-kinds-"));
      dirs.push(dir);
      const adapter = initAdapter(kind, { inputSize: 12, outputSize: 8, factor, seed: 4 });
      const saved = await saveAdapter(dir, adapter, card(tokens));
      expect(saved.adapter).toEqual({ kind, factor });
      const loaded = await loadAdapter(dir);
      expect(loaded.projection.kind).toBe(kind);
      expect(loaded.projection.factor).toBe(factor);
      expect(loaded.card.prompt.image_tokens).toBe(tokens);
      expect(loaded.projection.toTensors()).toEqual(adapter.toTensors());
    });
  }

  it("refuses a card whose token count ignores the merge, and weights of another kind", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-kinds-"));
    dirs.push(dir);
    const adapter = initAdapter("avgpool", { inputSize: 12, outputSize: 8, factor: 4 });
    await expect(saveAdapter(dir, adapter, card(196))).rejects.toThrow(
      /merged by avgpool 4×4 give 16 tokens, got 196/,
    );
    await saveAdapter(dir, adapter, card(16));
    const json = JSON.parse(fs.readFileSync(path.join(dir, "adapter.json"), "utf8"));
    json.adapter = { kind: "pixel-shuffle", factor: 4 };
    json.prompt.image_tokens = 16;
    fs.writeFileSync(path.join(dir, "adapter.json"), JSON.stringify(json));
    await expect(loadAdapter(dir)).rejects.toThrow(ModelFormatError);
    await expect(loadAdapter(dir)).rejects.toThrow(
      /proj\.weight is \[8, 12\]; its second dim must be a multiple of 16/,
    );
  });

  it("reads a card written before kinds as linear, and NaFlex cards as dynamic", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-kinds-"));
    dirs.push(dir);
    const adapter = initAdapter("pixel-shuffle", { inputSize: 12, outputSize: 8, factor: 2 });
    const saved = await saveAdapter(
      dir,
      adapter,
      card("dynamic", { kind: "naflex", patch_size: 16, max_num_patches: 256 } as never),
    );
    expect(saved.prompt.image_tokens).toBe("dynamic");
  });
});
