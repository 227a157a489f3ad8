// Every adapter kind learns: the same synthetic coloured-shapes task as learning.test.ts (tiny SigLIP 2
// with a 4×4 patch grid, the 128-wide random gemma3), trained per kind, then held-out images are
// answered greedily through the native inference path (Vlm.ask on llama.cpp, which runs the kind's
// onnxruntime apply graph). The merging kinds see 4 image tokens instead of 16. Smaller batches than
// the linear test give more optimizer steps for the same examples, so each run stays short. avgpool
// goes through `vlmkit train --adapter-kind avgpool --pool 2`; pixel-shuffle is also evaluated the way
// `vlmkit eval` does.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAdapterCard } from "../../src/adapter/index.js";
import { Llm } from "../../src/llm/llm.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { loadDataset } from "../../src/train/data/dataset.js";
import { writeShapesDataset } from "../../src/train/data/synthetic.js";
import { accuracy, evaluateAdapter, generateAnswers } from "../../src/train/loop/evaluate.js";
import { type TrainResult, trainAdapter } from "../../src/train/loop/trainer.js";
import { Vlm } from "../../src/vlm.js";
import { spawnCli } from "../helpers/spawn-cli.js";

const LLM_DIMS = { embedding: 128, headDim: 32, ff: 256 };

let dir: string;
let encoder: string;
let gguf: string;
let trainFile: string;
let valFile: string;
let llm: Llm;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-learning-kinds-"));
  encoder = path.join(dir, "siglip2");
  gguf = path.join(dir, "gemma3.gguf");
  await writeTinySiglip(encoder, { variant: "siglip2", seed: 0 });
  await writeTinyGemma3Gguf(gguf, { seed: 0, type: "f32", dims: LLM_DIMS });
  trainFile = (
    await writeShapesDataset(path.join(dir, "train"), { count: 200, seed: 1, size: 32, tasks: ["color"] })
  ).file;
  valFile = (
    await writeShapesDataset(path.join(dir, "val"), { count: 40, seed: 2, size: 32, tasks: ["color"] })
  ).file;
  llm = await Llm.load(gguf, { gpu: false, contextSize: 1024, threads: 1 });
}, 60_000);

afterAll(async () => {
  await llm?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function heldOutAccuracy(adapterDir: string): Promise<number> {
  const val = await loadDataset(valFile, { valFraction: 0, onReport: () => {} });
  const vlm = await Vlm.load({ encoder, adapter: adapterDir, llm });
  try {
    return accuracy(await generateAnswers(vlm, val.train, { maxTokens: 8 }));
  } finally {
    await vlm.dispose();
  }
}

const RUNS = [
  { kind: "mlp", pool: undefined, epochs: 3, tokens: 16 },
  { kind: "pixel-shuffle", pool: 2, epochs: 4, tokens: 4 },
  { kind: "avgpool", pool: 2, epochs: 5, tokens: 4, cli: true },
] as const;

describe("each adapter kind learns the colours of held-out shapes", () => {
  for (const run of RUNS) {
    it(`${run.kind}${run.pool ? ` (factor ${run.pool})` : ""}`, async () => {
      const out = path.join(dir, run.kind);
      const common = { epochs: run.epochs, batchSize: 2, samples: 0, checkpointEvery: 1000 };
      let result: TrainResult;
      if ("cli" in run) {
        const args = [
          ...["train", "--data", trainFile, "--val-file", valFile, "--encoder", encoder, "--llm", gguf],
          ...["--out", out, "--adapter-kind", run.kind, "--pool", String(run.pool)],
          ...["--epochs", String(common.epochs), "--batch", "2", "--samples", "0", "--json"],
        ];
        const done = await spawnCli(args, { VLMKIT_CACHE: dir }).exited;
        expect(done.code, done.stderr).toBe(0);
        result = JSON.parse(done.stdout) as TrainResult;
      } else {
        result = await trainAdapter({
          data: trainFile,
          valFile,
          encoder,
          llm: gguf,
          out,
          adapterKind: run.kind,
          pool: run.pool,
          ...common,
          featureCacheDir: path.join(dir, "features"),
          onReport: () => {},
        });
      }
      expect(result.finalValLoss).toBeLessThan(0.4 * result.initialValLoss);
      const card = await readAdapterCard(out);
      expect(card.adapter).toEqual({ kind: run.kind, factor: run.pool ?? 1 });
      expect(card.prompt.image_tokens).toBe(run.tokens);
      expect(await heldOutAccuracy(out)).toBeGreaterThanOrEqual(0.8);
      if (run.kind === "pixel-shuffle") {
        // `vlmkit eval`'s path merges the features as training did: the same validation loss.
        const evaluated = await evaluateAdapter({
          data: valFile,
          adapter: out,
          encoder,
          llm: gguf,
          limit: 2,
          featureCacheDir: path.join(dir, "features"),
          onReport: () => {},
        });
        expect(evaluated.loss).toBeCloseTo(result.finalValLoss, 4);
      }
    }, 120_000);
  }

  it("refuses an unknown kind and a pool factor for a per-patch kind before loading anything", async () => {
    const base = [
      "train",
      "--data",
      trainFile,
      "--encoder",
      encoder,
      "--llm",
      gguf,
      "--out",
      path.join(dir, "x"),
    ];
    const unknown = await spawnCli([...base, "--adapter-kind", "conv"]).exited;
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(
      /--adapter-kind "conv"; expected one of linear, mlp, pixel-shuffle, avgpool/,
    );
    const pooled = await spawnCli([...base, "--adapter-kind", "mlp", "--pool", "2"]).exited;
    expect(pooled.code).not.toBe(0);
    expect(pooled.stderr).toMatch(/--pool applies to pixel-shuffle and avgpool/);
  }, 60_000);
});
