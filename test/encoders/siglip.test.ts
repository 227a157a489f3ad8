import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dot,
  l2Normalize,
  Siglip,
  SiglipTextEncoder,
  sigmoid,
  VisionEncoder,
} from "../../src/encoders/index.js";
import { patchGrid } from "../../src/encoders/vision-encoder.js";
import { ModelFormatError } from "../../src/errors.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";

let root: string;
const dirs: Record<"siglip" | "siglip2" | "naflex", string> = { siglip: "", siglip2: "", naflex: "" };
const LOGIT_SCALE = Math.log(7);
const LOGIT_BIAS = -3;
let red: Buffer;
let wide: Buffer;
let tall: Buffer;

async function png(width: number, height: number, f: (x: number, y: number) => [number, number, number]) {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px.set(f(x, y), (y * width + x) * 3);
  return sharp(px, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-enc-"));
  process.env.VLMKIT_CACHE = path.join(root, "cache");
  const common = { logitScale: LOGIT_SCALE, logitBias: LOGIT_BIAS, dtypes: ["fp32", "fp16"] as const };
  dirs.siglip = (
    await writeTinySiglip(path.join(root, "siglip"), { variant: "siglip", seed: 1, ...common })
  ).dir;
  dirs.siglip2 = (
    await writeTinySiglip(path.join(root, "siglip2"), { variant: "siglip2", seed: 2, ...common })
  ).dir;
  dirs.naflex = (
    await writeTinySiglip(path.join(root, "naflex"), {
      variant: "siglip2-naflex",
      seed: 3,
      externalData: true,
      ...common,
    })
  ).dir;
  red = await png(32, 32, (x, y) => [200 + (x % 7), 30 + y, 40]);
  wide = await png(96, 24, (x, y) => [x * 2, y * 9, 120]);
  tall = await png(20, 70, (x, y) => [90, x * 11, y * 3]);
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("VisionEncoder (fixed resolution)", () => {
  it("returns patch features [N, Dv], the pooled embedding and the grid", async () => {
    const enc = await VisionEncoder.load(dirs.siglip2);
    const [f] = await enc.encode([red]);
    expect(enc.naflex).toBe(false);
    expect(f.grid).toEqual({ rows: 4, cols: 4 }); // 32 px / patch 8
    expect(f.patches.dims).toEqual([16, 32]);
    expect(f.pooled.length).toBe(32);
    expect(f.patches.data.every(Number.isFinite)).toBe(true);
    await enc.dispose();
  });

  it("gives the same features batched and one at a time", async () => {
    const enc = await VisionEncoder.load(dirs.siglip2);
    const together = await enc.encode([red, wide, tall], { batchSize: 3 });
    const alone = await enc.encode([red, wide, tall], { batchSize: 1 });
    for (let i = 0; i < 3; i++) {
      expect(maxAbsDiff(together[i].patches.data, alone[i].patches.data)).toBeLessThan(1e-5);
      expect(maxAbsDiff(together[i].pooled, alone[i].pooled)).toBeLessThan(1e-5);
    }
    // Different images give different features.
    expect(maxAbsDiff(together[0].pooled, together[1].pooled)).toBeGreaterThan(1e-3);
    await enc.dispose();
  });

  it("floors the patch grid when the side is not a multiple of the patch (so400m: 384 px / 14)", () => {
    expect(patchGrid(384, 384, 14)).toEqual({ rows: 27, cols: 27 }); // 729 positions, as the model has
    expect(patchGrid(224, 224, 16)).toEqual({ rows: 14, cols: 14 });
  });

  it("runs the fp16 variant close to fp32", async () => {
    const a = await VisionEncoder.load(dirs.siglip2);
    const b = await VisionEncoder.load(dirs.siglip2, { dtype: "fp16" });
    const [fa] = await a.encode([wide]);
    const [fb] = await b.encode([wide]);
    expect(maxAbsDiff(fa.pooled, fb.pooled)).toBeLessThan(2e-2);
    await a.dispose();
    await b.dispose();
  });

  it("names what is missing when a dtype file does not exist", async () => {
    await expect(VisionEncoder.load(dirs.siglip2, { dtype: "q4" })).rejects.toThrow(
      /vision_model_q4\.onnx not found.*vision_model\.onnx/,
    );
  });

  it("rejects a file whose inputs do not fit, listing both sides", async () => {
    const bad = path.join(root, "bad");
    fs.cpSync(dirs.siglip2, bad, { recursive: true });
    fs.copyFileSync(path.join(bad, "onnx", "text_model.onnx"), path.join(bad, "onnx", "vision_model.onnx"));
    const err = await VisionEncoder.load(bad).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toMatch(/expected inputs \[pixel_values\].*has inputs \[input_ids\]/);
  });
});

describe("VisionEncoder (NaFlex)", () => {
  it("keeps the aspect ratio in the grid and returns only real patches", async () => {
    const enc = await VisionEncoder.load(dirs.naflex);
    expect(enc.naflex).toBe(true);
    const [w, t] = await enc.encode([wide, tall]);
    expect(w.grid.cols).toBeGreaterThan(w.grid.rows);
    expect(t.grid.rows).toBeGreaterThan(t.grid.cols);
    expect(w.patches.dims).toEqual([w.grid.rows * w.grid.cols, 32]);
    expect(w.grid.rows * w.grid.cols).toBeLessThanOrEqual(24);
    await enc.dispose();
  });

  it("gives each image the same features whatever it is batched with (mask and spatial shapes)", async () => {
    const enc = await VisionEncoder.load(dirs.naflex);
    const together = await enc.encode([wide, tall, red], { batchSize: 3 });
    const alone = await enc.encode([wide, tall, red], { batchSize: 1 });
    for (let i = 0; i < 3; i++) {
      expect(maxAbsDiff(together[i].patches.data, alone[i].patches.data)).toBeLessThan(1e-4);
      expect(maxAbsDiff(together[i].pooled, alone[i].pooled)).toBeLessThan(1e-4);
    }
    await enc.dispose();
  });
});

describe("text tower and tokenizer", () => {
  it("SigLIP pads with </s> after an appended EOS; SigLIP 2 pads with <pad>; both to 64", async () => {
    const t1 = await SiglipTextEncoder.load(dirs.siglip);
    const ids1 = t1.tokenizer.encodeOne("A Red Circle!");
    expect(ids1.length).toBe(64);
    const eos1 = t1.tokenizer.padId; // SigLIP pads with </s>, its EOS
    const firstPad = ids1.indexOf(eos1);
    expect(firstPad).toBeGreaterThan(0);
    expect(Array.from(ids1.slice(firstPad)).every((id) => id === eos1)).toBe(true);
    // Canonicalization: case and punctuation do not change SigLIP 1 ids.
    expect(Array.from(t1.tokenizer.encodeOne("a red circle"))).toEqual(Array.from(ids1));

    const t2 = await SiglipTextEncoder.load(dirs.siglip2);
    const ids2 = t2.tokenizer.encodeOne("A Red Circle");
    expect(ids2.length).toBe(64);
    expect(ids2[63]).toBe(t2.tokenizer.padId);
    // The Gemma-style tokenizer.json appends <eos> (id 1) after the words, then <pad> (id 0) follows.
    const end = Array.from(ids2).indexOf(0);
    expect(ids2[end - 1]).toBe(1);
    expect(Array.from(t2.tokenizer.encodeOne("red ".repeat(200))).at(-1)).toBe(1);
    expect(Array.from(t2.tokenizer.encodeOne("a red circle"))).toEqual(Array.from(ids2));
    const [e] = (await t2.encode(["a red circle"])).dims;
    expect(e).toBe(1);
    await t1.dispose();
    await t2.dispose();
  });

  it("reads a bounded prefix of a huge text: same ids as that prefix, quickly", async () => {
    const t = await SiglipTextEncoder.load(dirs.siglip2);
    const huge = "red blue ".repeat(2_000_000); // 18 M characters
    const ids = t.tokenizer.encodeOne(huge);
    expect(Array.from(ids)).toEqual(Array.from(t.tokenizer.encodeOne(huge.slice(0, 1000))));
    await t.dispose();
  });

  it("truncates long texts to exactly 64 tokens", async () => {
    const t = await SiglipTextEncoder.load(dirs.siglip);
    const ids = t.tokenizer.encodeOne("red ".repeat(200));
    expect(ids.length).toBe(64);
    expect(ids[63]).toBe(t.tokenizer.padId); // </s> (EOS) survives truncation
    expect(ids[62]).not.toBe(t.tokenizer.padId);
    await t.dispose();
  });
});

describe("zero-shot and embeddings", () => {
  for (const name of ["siglip", "siglip2", "naflex"] as const) {
    it(`${name}: recovers logit_scale/logit_bias from the combined model`, async () => {
      const model = await Siglip.load(dirs[name]);
      const p = await model.logitParams();
      expect(p.scale).toBeCloseTo(Math.exp(LOGIT_SCALE), 3);
      expect(p.bias).toBeCloseTo(LOGIT_BIAS, 3);
      await model.dispose();
    });
  }

  it("classify through the separate towers equals sigmoid(logits_per_image) of the combined model", async () => {
    const labels = ["red circle", "blue square", "green triangle"];
    const model = await Siglip.load(dirs.siglip2);
    const [scores] = await model.classify([red], labels, { template: "a photo of a {}." });
    expect(scores.map((s) => s.score)).toEqual([...scores.map((s) => s.score)].sort((a, b) => b - a));

    // The same computation in one go, through onnx/model.onnx.
    const session = await ort.InferenceSession.create(path.join(dirs.siglip2, "onnx", "model.onnx"));
    const text = await model.textEncoder();
    const ids = text.tokenizer.encode(labels.map((l) => `a photo of a ${l}.`));
    const { preprocessFixed, loadImage } = await import("../../src/image/index.js");
    const pixels = await preprocessFixed(await loadImage(red), model.vision.preprocess as never);
    const out = await session.run({
      input_ids: new ort.Tensor("int64", BigInt64Array.from(Array.from(ids, BigInt)), [3, 64]),
      pixel_values: new ort.Tensor("float32", pixels.data, [1, ...pixels.dims]),
    });
    const logits = out.logits_per_image.data as Float32Array;
    for (const [j, label] of labels.entries()) {
      const got = scores.find((s) => s.label === label)!.score;
      expect(got).toBeCloseTo(sigmoid(logits[j]), 5);
    }
    await session.release();
    await model.dispose();
  });

  it("embeddings are unit-norm and the image-text dot product is the zero-shot cosine", async () => {
    const model = await Siglip.load(dirs.naflex);
    const [img] = await model.embedImages([wide]);
    const [txt] = await model.embedTexts(["a wide picture"]);
    expect(dot(img, img)).toBeCloseTo(1, 5);
    expect(dot(txt, txt)).toBeCloseTo(1, 5);
    const p = await model.logitParams();
    const [[s]] = await model.classify([wide], ["a wide picture"], { template: "{}" });
    expect(s.score).toBeCloseTo(sigmoid(dot(img, txt) * p.scale + p.bias), 5);
    expect(l2Normalize(new Float32Array([3, 4]))).toEqual(new Float32Array([0.6, 0.8]));
    await model.dispose();
  });

  it("rejects an empty label list, a template without exactly one {}, and oversized text", async () => {
    const model = await Siglip.load(dirs.siglip2);
    await expect(model.classify([red], [" ", ""])).rejects.toThrow(/at least one non-empty label/);
    await expect(model.classify([red], ["cat"], { template: "a photo" })).rejects.toThrow(
      /exactly one "\{\}".*holds 0/,
    );
    await expect(model.classify([red], ["cat"], { template: "{} and {}" })).rejects.toThrow(/holds 2/);
    await expect(model.classify([red], ["cat"], { template: "{}".repeat(4_000_000) })).rejects.toThrow(
      /8000000 characters long; at most 1024/,
    );
    await expect(model.classify([red], ["x".repeat(4_000_000)])).rejects.toThrow(
      /4000000 characters long; at most 1024/,
    );
    await model.dispose();
  });

  it("explains that zero-shot needs the combined model when it is absent", async () => {
    const towersOnly = path.join(root, "towers-only");
    fs.cpSync(dirs.siglip2, towersOnly, { recursive: true });
    fs.rmSync(path.join(towersOnly, "onnx", "model.onnx"));
    fs.rmSync(path.join(towersOnly, "onnx", "model_fp16.onnx"));
    const model = await Siglip.load(towersOnly);
    await expect(model.classify([red], ["cat"])).rejects.toThrow(
      /logit_scale and logit_bias: .*towers-only has no combined onnx\/model\.onnx to recover them from, and none were recorded/,
    );
    const fixed = await Siglip.load(towersOnly, { logitParams: { scale: 10, bias: -10 } });
    const [[r]] = await fixed.classify([red], ["cat"]);
    expect(r.score).toBeGreaterThan(0);
    await model.dispose();
    await fixed.dispose();
  });
});
