// The adapter loss graph on a float32 tiny gemma3 GGUF: gradients against central differences, the
// loss of an untrained adapter against ln V, padding to a larger bucket, and SGD lowering the loss.
// Text is tokenized by llama.cpp (the tokenizer inference uses).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenMerger } from "../../src/adapter/kinds/merge.js";
import { adapterFromTensors, initAdapter, kindSpec } from "../../src/adapter/kinds/registry.js";
import { LinearAdapter } from "../../src/adapter/linear-adapter.js";
import { ShapeError } from "../../src/errors.js";
import { NativeModel } from "../../src/llm/native.js";
import { type Tensor, tensor } from "../../src/tensor.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";
import { layoutExample } from "../../src/train/data/example-layout.js";
import { AdapterLoss, type LossExample } from "../../src/train/model/adapter-loss.js";
import { buildAdapterLossGraph } from "../../src/train/model/loss-graph.js";
import { SeededRandom } from "../../src/util/random.js";

const Dv = 24;
const N = 16;
let dir: string;
let gguf: string;
let native: NativeModel;
let loss: AdapterLoss;
let vocab: number;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-loss-graph-"));
  gguf = path.join(dir, "tiny.gguf");
  const written = await writeTinyGemma3Gguf(gguf, { seed: 5, type: "f32" });
  vocab = written.tokens.length;
  native = await NativeModel.load(gguf, { gpu: false });
  loss = await AdapterLoss.load(gguf);
});

afterAll(async () => {
  native?.dispose();
  await loss?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const tokenize = (text: string, special: boolean) => native.tokenize(text, { parseSpecial: special });

function features(seed: number): Tensor {
  const rng = new SeededRandom(seed);
  return tensor(
    Float32Array.from({ length: N * Dv }, () => rng.normal(0, 1)),
    [N, Dv],
  );
}

function example(
  prompt: string,
  answer: string,
  seed: number,
  style: "paligemma" | "gemma-chat" = "paligemma",
): LossExample {
  return {
    layout: layoutExample({ prompt, answer, imageTokens: N, style }, tokenize),
    features: features(seed),
  };
}

function adapter(seed = 1): LinearAdapter {
  return LinearAdapter.init({ inputSize: Dv, outputSize: 64, seed });
}

/** A copy of `a` with `delta` added to one parameter (weight index or bias index). */
function perturbed(a: LinearAdapter, which: "weight" | "bias", index: number, delta: number): LinearAdapter {
  const w = a.weight.data.slice();
  const b = a.bias.data.slice();
  (which === "weight" ? w : b)[index] += delta;
  return new LinearAdapter(tensor(w, a.weight.dims), tensor(b, a.bias.dims));
}

/** A copy of `a` moved by `step` along the direction (dw, db). */
function moved(a: LinearAdapter, dw: Float32Array, db: Float32Array, step: number): LinearAdapter {
  const w = a.weight.data.map((v, i) => v + step * dw[i]);
  const b = a.bias.data.map((v, i) => v + step * db[i]);
  return new LinearAdapter(tensor(w, a.weight.dims), tensor(b, a.bias.dims));
}

describe("example layout", () => {
  it("puts the image block first for PaliGemma and predicts the answer tokens and <eos>", () => {
    const { layout } = example("what colour", "red", 1);
    expect(layout.imageStart).toBe(0);
    expect(layout.tokens[N]).toBe(2); // <bos>
    const answer = Array.from(tokenize("red", false));
    expect(layout.targets).toEqual([...answer, 1]); // + <eos>
    const first = layout.outputPositions[0];
    expect(layout.tokens[first + 1]).toBe(answer[0]);
    expect(layout.bidirectional).toEqual([{ start: 0, end: first + 1 }]); // prefix-LM over image + prefix
  });

  it("closes a gemma-chat answer with <end_of_turn> and keeps the image block bidirectional", () => {
    const { layout } = example("what colour", "red", 1, "gemma-chat");
    expect(layout.targets.at(-1)).toBe(5); // <end_of_turn>
    expect(layout.bidirectional).toEqual([{ start: layout.imageStart, end: layout.imageStart + N }]);
  });
});

describe("adapter loss graph", () => {
  it("has gradients that match central differences", async () => {
    const ex = example("what colour is the shape", "red circle", 3);
    const a = adapter(2);
    const base = await loss.run(ex, a);
    const gw = base.gradients?.get("linear.weight") as Float32Array;
    const gb = base.gradients?.get("linear.bias") as Float32Array;
    expect(gw.length).toBe(64 * Dv);
    expect(gb.length).toBe(64);

    // Along the gradient itself: (L(θ + εd) − L(θ − εd)) / 2ε = ‖g‖ for d = g/‖g‖.
    const norm = Math.hypot(...gw, ...gb);
    expect(norm).toBeGreaterThan(1e-3);
    const eps = 2e-2;
    const dw = gw.map((v) => v / norm);
    const db = gb.map((v) => v / norm);
    const up = await loss.run(ex, moved(a, dw, db, eps), { gradients: false });
    const down = await loss.run(ex, moved(a, dw, db, -eps), { gradients: false });
    const directional = (up.loss - down.loss) / (2 * eps);
    expect(Math.abs(directional - norm) / norm).toBeLessThan(0.01);

    // Single coordinates: the largest weight and bias entries, and one of middling size.
    const largest = (g: Float32Array) =>
      g.reduce((best, v, i) => (Math.abs(v) > Math.abs(g[best]) ? i : best), 0);
    const sortedW = [...gw.keys()].sort((i, j) => Math.abs(gw[j]) - Math.abs(gw[i]));
    const checks: ["weight" | "bias", number, number][] = [
      ["weight", largest(gw), gw[largest(gw)]],
      ["weight", sortedW[20], gw[sortedW[20]]],
      ["bias", largest(gb), gb[largest(gb)]],
    ];
    for (const [which, index, analytic] of checks) {
      const h = 1e-2;
      const plus = await loss.run(ex, perturbed(a, which, index, h), { gradients: false });
      const minus = await loss.run(ex, perturbed(a, which, index, -h), { gradients: false });
      const numeric = (plus.loss - minus.loss) / (2 * h);
      expect(Math.abs(numeric - analytic) / Math.abs(analytic), `${which}[${index}]`).toBeLessThan(0.03);
    }
  });

  it("gives an untrained adapter a loss of the order of ln V", async () => {
    const r = await loss.run(example("what colour", "blue", 4), adapter(3), { gradients: false });
    expect(r.tokens).toBe(2);
    expect(r.loss).toBeGreaterThan(0.5 * Math.log(vocab));
    expect(r.loss).toBeLessThan(3 * Math.log(vocab));
  });

  it("gives the same loss and gradients in a larger bucket (padding is masked)", async () => {
    const ex = example("what shape", "a small red square", 6);
    const a = adapter(4);
    const small = await loss.run(ex, a);
    const big = await AdapterLoss.load(gguf, { textBuckets: [128], outputBuckets: [32] });
    try {
      expect(big.bucket(ex.layout)).toEqual({ length: N + 128, outputs: 32 });
      expect(loss.bucket(ex.layout)).toEqual({ length: N + 32, outputs: 8 });
      const padded = await big.run(ex, a);
      expect(padded.loss).toBeCloseTo(small.loss, 5);
      const gs = small.gradients?.get("linear.weight") as Float32Array;
      const gp = padded.gradients?.get("linear.weight") as Float32Array;
      const scale = Math.max(...gs.map(Math.abs));
      expect(Math.max(...gs.map((v, i) => Math.abs(v - gp[i])))).toBeLessThan(1e-4 * scale);
    } finally {
      await big.dispose();
    }
  });

  it("lowers the loss with a few gradient steps", async () => {
    const ex = example("what colour", "green", 8);
    const a = adapter(5);
    const first = await loss.run(ex, a, { gradients: false });
    for (let step = 0; step < 8; step++) {
      const r = await loss.run(ex, a);
      const gw = r.gradients?.get("linear.weight") as Float32Array;
      const gb = r.gradients?.get("linear.bias") as Float32Array;
      for (let i = 0; i < gw.length; i++) a.weight.data[i] -= 0.5 * gw[i];
      for (let i = 0; i < gb.length; i++) a.bias.data[i] -= 0.5 * gb[i];
    }
    const last = await loss.run(ex, a, { gradients: false });
    expect(last.loss).toBeLessThan(0.7 * first.loss);
  });

  it("refuses features whose shape does not fit the layout or the adapter", async () => {
    const ex = example("what colour", "red", 1);
    const wrong = { layout: ex.layout, features: tensor(new Float32Array(N * 8), [N, 8]) };
    await expect(loss.run(wrong, adapter())).rejects.toThrow(ShapeError);
    await expect(loss.run(wrong, adapter())).rejects.toThrow(/\[16, 8\]/);
  });

  it("emits no backward nodes for the frozen LLM weights", () => {
    const { graph, gradients } = buildAdapterLossGraph(loss.spec, {
      length: N + 32,
      outputs: 4,
      featureSize: Dv,
    });
    expect(gradients?.get("linear.weight")?.shape).toEqual([64, Dv]);
    expect(gradients?.get("linear.bias")?.shape).toEqual([64]);
    expect(graph.outputs.map((o) => o.name).sort()).toEqual([
      "grad.linear.bias",
      "grad.linear.weight",
      "loss",
    ]);
    // No node computes a tensor shaped like a frozen weight's gradient ([V, E], [ff, E], [E, ff]);
    // only the forward Transposes of the weights have such shapes.
    const { vocab: V, embedding: E, ff } = loss.spec;
    const weightShaped = graph.nodes.filter(
      (n) =>
        n.op !== "Transpose" &&
        n.outputs.some((o) => [`${V},${E}`, `${ff},${E}`, `${E},${ff}`].includes(o.shape.join(","))),
    );
    expect(weightShaped.map((n) => n.op)).toEqual([]);
  });
});

describe("adapter loss graph for each kind", () => {
  for (const [kind, factor] of [
    ["mlp", 1],
    ["pixel-shuffle", 2],
    ["avgpool", 2],
  ] as const) {
    it(`${kind}: every parameter gets a gradient that matches central differences`, async () => {
      const merger = new TokenMerger(kindSpec(kind), factor, Dv, { threads: 1 });
      try {
        const tokens = await merger.merge(features(9), { rows: 4, cols: 4 }); // [M, W]
        const M = tokens.dims[0];
        expect(M).toBe(factor === 1 ? N : N / (factor * factor));
        const ex: LossExample = {
          layout: layoutExample(
            { prompt: "what colour", answer: "red circle", imageTokens: M, style: "paligemma" },
            tokenize,
          ),
          features: tokens,
        };
        const a = initAdapter(kind, { inputSize: Dv, outputSize: 64, factor, seed: 6 });
        for (const [name, t] of a.toTensors()) {
          if (t.dims.length === 1) t.data.set(new SeededRandom(name.length).normalArray(t.data.length, 0.3));
        }
        const base = await loss.run(ex, a);
        const grads = base.gradients as Map<string, Float32Array>;
        expect([...grads.keys()].sort()).toEqual([...a.toTensors().keys()].sort());
        // Along the gradient: (L(θ + εd) − L(θ − εd)) / 2ε = ‖g‖ for d = g/‖g‖.
        let sq = 0;
        for (const [name, g] of grads) {
          expect(g.length, name).toBe(a.toTensors().get(name)?.data.length);
          for (const v of g) sq += v * v;
        }
        const norm = Math.sqrt(sq);
        expect(norm).toBeGreaterThan(1e-3);
        const eps = 1e-2;
        const shifted = (step: number) => {
          const params = new Map(
            [...a.toTensors()].map(([name, t]) => {
              const g = grads.get(name) as Float32Array;
              return [
                name,
                tensor(
                  t.data.map((v, i) => v + (step * g[i]) / norm),
                  t.dims,
                ),
              ];
            }),
          );
          return adapterFromTensors(kind, factor, params, "shifted");
        };
        const up = await loss.run(ex, shifted(eps), { gradients: false });
        const down = await loss.run(ex, shifted(-eps), { gradients: false });
        const directional = (up.loss - down.loss) / (2 * eps);
        expect(Math.abs(directional - norm) / norm).toBeLessThan(0.02);
      } finally {
        await merger.dispose();
      }
    });
  }
});
