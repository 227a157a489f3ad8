// An encoder whose output ignores the pixels scores chance on linear-probe and loses to a working
// encoder with p < 0.05 (exact McNemar on the same test images).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runComparison } from "../../src/compare/index.js";
import { Graph, saveModel } from "../../src/graph/index.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { writeColourFolder } from "./helpers.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-compare-const-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A fixed-resolution vision model (32 px, 4×4 patches, width 32) whose outputs are constants. */
async function writeConstantVision(file: string) {
  const g = new Graph("vision_model");
  const pixels = g.input("pixel_values", "float32", ["batch_size", 3, 32, 32]);
  const zero = g.mul(g.reduceMean(pixels, [1, 2, 3], false), g.scalar(0, "float32")); // [B], all 0
  const hidden = g.constant(
    "float32",
    Float32Array.from({ length: 16 * 32 }, (_, i) => Math.sin(i)),
    [1, 16, 32],
  );
  const pooled = g.constant(
    "float32",
    Float32Array.from({ length: 32 }, (_, i) => Math.cos(i)),
    [1, 32],
  );
  g.output(g.add(g.reshape(zero, [-1, 1, 1]), hidden), "last_hidden_state"); // [B, 16, 32]
  g.output(g.add(g.reshape(zero, [-1, 1]), pooled), "pooler_output"); // [B, 32]
  await saveModel(g, file);
}

let data: Awaited<ReturnType<typeof writeColourFolder>>;
const good = path.join(root, "good");
const constant = path.join(root, "constant");
beforeAll(async () => {
  await writeTinySiglip(good, { variant: "siglip2", towers: ["vision", "text"] });
  fs.cpSync(good, constant, { recursive: true });
  await writeConstantVision(path.join(constant, "onnx", "vision_model.onnx"));
  data = await writeColourFolder(root, 80);
});

describe("linear-probe with a constant encoder", () => {
  it("scores chance and loses to a working encoder", async () => {
    const details = await runComparison({
      encoders: [`good=${good}`, `constant=${constant}`],
      data: data.classes,
      tasks: ["linear-probe"],
      featureCacheDir: path.join(root, "features"),
    });
    const acc = (name: string) => details.result.results.find((r) => r.encoder === name)!;
    const test = details.data.test;
    // Constant features: the probe can only learn the class prior, so it names one class for every image.
    const constPred = details.predictions.find((p) => p.encoder === "constant")!.predictions.predicted;
    expect(new Set(constPred).size).toBe(1);
    const shares = [0, 1, 2, 3].map(
      (c) => details.predictions[0].predictions.truth.filter((t) => t === c).length / test,
    );
    expect(acc("constant").value).toBeLessThanOrEqual(Math.max(...shares) + 1e-9);
    expect(acc("good").value).toBeGreaterThan(0.6); // 4 colours: chance is about 0.25
    expect(acc("good").ci![0]).toBeGreaterThan(acc("constant").ci![1]);
    const [pair] = details.result.pairs;
    expect(pair).toMatchObject({
      task: "linear-probe",
      metric: "accuracy",
      a: "good",
      b: "constant",
      winner: "good",
    });
    expect(pair.p).toBeLessThan(0.05);
  });
});
