// Adapter training learns: on the synthetic shapes dataset with a tiny SigLIP 2 (random weights) and a
// small random gemma3, the validation loss falls and the trained adapter, run through the native
// inference path (Vlm.ask on llama.cpp, greedy), names the colour of held-out images far above
// chance (4 colours: 25 %) while the untrained adapter does not. Then `vlmkit train` is killed with
// SIGKILL after its first checkpoint and resumed with --resume: it continues from the checkpoint and
// ends with the adapter an uninterrupted run produces.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinearAdapter, readAdapterCard, saveAdapter } from "../../src/adapter/index.js";
import { readEncoderConfig } from "../../src/encoders/index.js";
import { readPreprocessorConfig } from "../../src/image/index.js";
import { Llm } from "../../src/llm/llm.js";
import { loadDataset } from "../../src/train/data/dataset.js";
import { accuracy, generateAnswers } from "../../src/train/loop/evaluate.js";
import { readMetrics } from "../../src/train/loop/metrics.js";
import { type TrainResult, trainAdapter } from "../../src/train/loop/trainer.js";
import { readSafetensors } from "../../src/util/safetensors.js";
import { cardForPairing } from "../../src/vlm/pairing-card.js";
import { Vlm } from "../../src/vlm.js";
import { LLM_DIMS, writeLearningFixture } from "../helpers/learning-fixture.js";
import { spawnCli } from "../helpers/spawn-cli.js";

const EPOCHS = 10;
const CHECKPOINT_EVERY = 25;

let dir: string;
let encoder: string;
let gguf: string;
let trainFile: string;
let valFile: string;
let result: TrainResult;
let llm: Llm;

beforeAll(async () => {
  ({ dir, encoder, gguf, trainFile, valFile } = await writeLearningFixture("vlmkit-learning-"));
  result = await trainAdapter({
    data: trainFile,
    valFile,
    encoder,
    llm: gguf,
    out: path.join(dir, "adapter"),
    epochs: EPOCHS,
    checkpointEvery: CHECKPOINT_EVERY,
    featureCacheDir: path.join(dir, "features"),
    onReport: () => {},
  });
  llm = await Llm.load(gguf, { gpu: false, contextSize: 1024, threads: 1 });
}, 120_000);

afterAll(async () => {
  await llm?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Greedy answers through Vlm for every held-out row. */
async function heldOutAccuracy(adapterDir: string): Promise<number> {
  const val = await loadDataset(valFile, { valFraction: 0, onReport: () => {} });
  const vlm = await Vlm.load({ encoder, adapter: adapterDir, llm });
  try {
    return accuracy(await generateAnswers(vlm, val.train, { maxTokens: 8 }));
  } finally {
    await vlm.dispose();
  }
}

describe("adapter training on coloured shapes", () => {
  it("lowers the validation loss markedly", () => {
    expect(result.trainExamples).toBe(200);
    expect(result.valExamples).toBe(40);
    expect(result.steps).toBe(EPOCHS * 25);
    expect(result.imagesEncoded).toBe(240); // each image once
    expect(result.finalValLoss).toBeLessThan(0.4 * result.initialValLoss);
    const metrics = readMetrics(path.join(dir, "adapter", "metrics.jsonl"));
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: result.steps }, (_, i) => i + 1));
    expect(metrics.filter((m) => m.valLoss !== undefined)).toHaveLength(EPOCHS);
    expect(fs.statSync(path.join(dir, "adapter", "loss.png")).size).toBeGreaterThan(1000);
  });

  it("names the colour of held-out images through Vlm.ask far above chance", async () => {
    const trained = await heldOutAccuracy(path.join(dir, "adapter"));
    expect(trained).toBeGreaterThanOrEqual(0.8);

    // The untrained adapter (same initialization, same card) does not.
    const untrainedDir = path.join(dir, "untrained");
    const config = readEncoderConfig(encoder);
    const card = cardForPairing({
      encoder: { dir: encoder, config, preprocess: await readPreprocessorConfig(encoder) },
      llm: llm.identity,
      style: "paligemma",
      attention: "prefix-lm",
    });
    const adapter = LinearAdapter.init({
      inputSize: config.visionHidden,
      outputSize: LLM_DIMS.embedding,
      seed: 0,
    });
    await saveAdapter(untrainedDir, adapter, card);
    expect(await heldOutAccuracy(untrainedDir)).toBeLessThan(0.4);
  });

  it("writes a card that records the pairing and the training", async () => {
    const card = await readAdapterCard(path.join(dir, "adapter"));
    expect(card.prompt.style).toBe("paligemma");
    expect(card.attention).toBe("prefix-lm");
    expect(card.llm.n_embd).toBe(LLM_DIMS.embedding);
    expect(card.llm.vocab_fingerprint).toBe(llm.identity.vocabFingerprint);
    expect(card.training).toMatchObject({ dataset: "data.jsonl", steps: EPOCHS * 25, seed: 0 });
    expect(card.training?.final_loss).toBeCloseTo(result.finalValLoss, 5);
  });
});

describe("vlmkit train after SIGKILL", () => {
  it("resumes from the last checkpoint and ends where an uninterrupted run ends", async () => {
    const out = path.join(dir, "killed");
    const args = [
      "train",
      "--data",
      trainFile,
      "--val-file",
      valFile,
      "--encoder",
      encoder,
      "--llm",
      gguf,
      "--out",
      out,
      "--epochs",
      String(EPOCHS),
      "--checkpoint-every",
      String(CHECKPOINT_EVERY),
      "--json",
    ];
    const env = { VLMKIT_CACHE: dir }; // <dir>/features: filled by the first run
    const first = spawnCli(args, env);
    const checkpoints = path.join(out, "checkpoints");
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (fs.existsSync(checkpoints) && fs.readdirSync(checkpoints).some((f) => f.endsWith(".safetensors")))
        break;
      if (first.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    first.child.kill("SIGKILL");
    const killed = await first.exited;
    expect(killed.signal).toBe("SIGKILL");
    const before = readMetrics(path.join(out, "metrics.jsonl"));
    const lastBefore = before.at(-1)?.step ?? 0;
    expect(lastBefore).toBeGreaterThanOrEqual(CHECKPOINT_EVERY);
    expect(lastBefore).toBeLessThan(EPOCHS * 25); // killed mid-run
    expect(fs.existsSync(path.join(out, "adapter.json"))).toBe(false);

    const second = await spawnCli([...args, "--resume"], env).exited;
    expect(second.code, second.stderr).toBe(0);
    const summary = JSON.parse(second.stdout) as TrainResult;
    expect(summary.resumedFrom % CHECKPOINT_EVERY).toBe(0);
    expect(summary.resumedFrom).toBeGreaterThan(0);
    expect(lastBefore - summary.resumedFrom).toBeLessThan(CHECKPOINT_EVERY); // at most one interval lost
    expect(summary.imagesEncoded).toBe(0); // features came from the cache
    const metrics = readMetrics(path.join(out, "metrics.jsonl"));
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: EPOCHS * 25 }, (_, i) => i + 1));

    // Same seed, same order, restored AdamW moments: the resumed run ends with the uninterrupted
    // run's adapter (equal up to float32 summation-order noise).
    const a = await readSafetensors(path.join(out, "adapter.safetensors"));
    const b = await readSafetensors(path.join(dir, "adapter", "adapter.safetensors"));
    for (const name of ["linear.weight", "linear.bias"]) {
      const x = a.tensors.get(name)!.data;
      const y = b.tensors.get(name)!.data;
      const scale = Math.max(...y.map(Math.abs));
      expect(Math.max(...x.map((v, i) => Math.abs(v - y[i]))), name).toBeLessThan(1e-3 * scale);
    }
  }, 120_000);
});
