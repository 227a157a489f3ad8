// trainAdapter and evaluateAdapter on tiny models and a small shapes dataset: options that change the
// run (style, validation cadence, seed, bad rows, resume identity) and the `vlmkit eval` JSON.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAdapterCard } from "../../src/adapter/index.js";
import { CheckpointError, DatasetError } from "../../src/errors.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { writeShapesDataset } from "../../src/train/data/synthetic.js";
import { evaluateAdapter } from "../../src/train/loop/evaluate.js";
import { readMetrics } from "../../src/train/loop/metrics.js";
import { type TrainOptions, trainAdapter } from "../../src/train/loop/trainer.js";
import { readSafetensors } from "../../src/util/safetensors.js";
import { spawnCli } from "../helpers/spawn-cli.js";

let dir: string;
let base: Omit<TrainOptions, "out">;
let n = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-trainer-"));
  const encoder = path.join(dir, "siglip2");
  const llm = path.join(dir, "gemma3.gguf");
  await writeTinySiglip(encoder, { variant: "siglip2", seed: 0 });
  await writeTinyGemma3Gguf(llm, { seed: 0, type: "f32" });
  const data = await writeShapesDataset(path.join(dir, "data"), {
    count: 16,
    seed: 3,
    size: 32,
    tasks: ["color", "shape"],
  });
  base = {
    data: data.file,
    encoder,
    llm,
    epochs: 2,
    batchSize: 4,
    valFraction: 0.25,
    samples: 2,
    featureCacheDir: path.join(dir, "features"),
    onReport: () => {},
  };
}, 60_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const out = () => path.join(dir, `run-${++n}`);

async function weights(adapterDir: string): Promise<Float32Array> {
  return (await readSafetensors(path.join(adapterDir, "adapter.safetensors"))).tensors.get("linear.weight")!
    .data;
}

describe("trainAdapter", () => {
  it("trains a gemma-chat adapter, validating every K steps, and records it in the card", async () => {
    const dest = out();
    const events: string[] = [];
    const r = await trainAdapter({
      ...base,
      out: dest,
      style: "gemma-chat",
      evalEvery: 3,
      onEvent: (e) => events.push(e.kind),
    });
    expect(r.trainExamples + r.valExamples).toBe(32);
    expect(r.steps).toBe(2 * Math.ceil(r.trainExamples / 4));
    expect(r.samples).toHaveLength(2);
    expect(r.samples[0].reference).toMatch(/^(red|green|blue|yellow|circle|square|triangle)$/);
    expect(r.finalValLoss).toBeLessThan(r.initialValLoss);
    const card = await readAdapterCard(dest);
    expect(card.prompt.style).toBe("gemma-chat");
    expect(card.attention).toBe("bidirectional-image");
    expect(card.training?.steps).toBe(r.steps);
    const validated = readMetrics(path.join(dest, "metrics.jsonl"))
      .filter((m) => m.valLoss !== undefined)
      .map((m) => m.step);
    expect(validated).toEqual([
      ...Array.from({ length: Math.floor(r.steps / 3) }, (_, i) => 3 * (i + 1)),
      ...(r.steps % 3 === 0 ? [] : [r.steps]),
    ]);
    expect(events.filter((e) => e === "step")).toHaveLength(r.steps);
    expect(events).toContain("checkpoint");
  });

  it("is reproducible from its seed, and another seed gives another adapter", async () => {
    const a = out();
    const b = out();
    const c = out();
    await trainAdapter({ ...base, out: a, epochs: 1, samples: 0 });
    await trainAdapter({ ...base, out: b, epochs: 1, samples: 0 });
    await trainAdapter({ ...base, out: c, epochs: 1, samples: 0, seed: 7 });
    expect(await weights(b)).toEqual(await weights(a));
    expect(await weights(c)).not.toEqual(await weights(a));
  });

  it("refuses to resume a run written with other settings, naming them", async () => {
    const dest = out();
    await trainAdapter({ ...base, out: dest, epochs: 1, samples: 0, checkpointEvery: 2 });
    const resumed = trainAdapter({ ...base, out: dest, epochs: 1, samples: 0, lr: 0.001, resume: true });
    await expect(resumed).rejects.toThrow(CheckpointError);
    await expect(trainAdapter({ ...base, out: dest, epochs: 1, lr: 0.001, resume: true })).rejects.toThrow(
      /lr: 0\.03 → 0\.001/,
    );
    // The same settings resume after the last step: nothing left to do, the adapter is saved again.
    const again = await trainAdapter({
      ...base,
      out: dest,
      epochs: 1,
      samples: 0,
      checkpointEvery: 2,
      resume: true,
    });
    expect(again.resumedFrom).toBe(again.steps);
  });

  it("skips a bad row by default and fails on it with onBadRow fail, naming its line", async () => {
    const data = path.join(dir, "bad.jsonl");
    const rows = fs.readFileSync(base.data, "utf8").trim().split("\n");
    rows.splice(2, 0, JSON.stringify({ image: "images/missing.png", answer: "red" }));
    fs.writeFileSync(data, `${rows.join("\n")}\n`);
    for (const f of fs.readdirSync(path.dirname(base.data))) {
      if (f === "images")
        fs.cpSync(path.join(path.dirname(base.data), f), path.join(dir, f), { recursive: true });
    }
    const reports: string[] = [];
    const r = await trainAdapter({
      ...base,
      data,
      out: out(),
      epochs: 1,
      samples: 0,
      onReport: (m) => reports.push(m),
    });
    expect(r.trainExamples + r.valExamples).toBe(32);
    expect(reports.join("\n")).toMatch(/line 3/);
    await expect(trainAdapter({ ...base, data, out: out(), epochs: 1, onBadRow: "fail" })).rejects.toThrow(
      DatasetError,
    );
  });
});

describe("evaluateAdapter and vlmkit eval", () => {
  it("reports loss and answer accuracy through the inference path", async () => {
    const dest = out();
    await trainAdapter({ ...base, out: dest, epochs: 1, samples: 0 });
    const r = await evaluateAdapter({
      data: base.data,
      adapter: dest,
      encoder: base.encoder as string,
      llm: base.llm,
      limit: 5,
      featureCacheDir: path.join(dir, "features"),
    });
    expect(r.examples).toBe(32);
    expect(r.answered).toBe(5);
    expect(r.loss).toBeGreaterThan(0);
    expect(r.accuracy).toBe(r.answers.filter((a) => a.correct).length / 5);
    for (const a of r.answers)
      expect(a.correct).toBe(a.answer.trim().toLowerCase() === a.reference.toLowerCase());

    const cli = await spawnCli(
      [
        "eval",
        "--data",
        base.data,
        "--adapter",
        dest,
        "--encoder",
        base.encoder as string,
        "--llm",
        base.llm,
        "--limit",
        "5",
        "--json",
      ],
      { VLMKIT_CACHE: dir },
    ).exited;
    expect(cli.code, cli.stderr).toBe(0);
    const json = JSON.parse(cli.stdout);
    expect(json).toMatchObject({ examples: 32, answered: 5, accuracy: r.accuracy });
    expect(json.loss).toBeCloseTo(r.loss, 4);
  }, 60_000);
});
