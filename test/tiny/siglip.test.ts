import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initializerMap, readModel } from "../../src/graph/index.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { TINY_WORDS } from "../../src/tiny/tokenizer.js";
import {
  fixedEmbeddings,
  type Mat,
  naflexEmbeddings,
  textTower,
  visionTower,
  type Weights,
} from "./reference.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-tiny-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function weightsOf(file: string): Promise<Weights> {
  const map = initializerMap(await readModel(file));
  return (name) => {
    const t = map.get(name);
    if (!t) throw new Error(`no initializer ${name}`);
    return t.values as Float32Array;
  };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const rand = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.9);
const dims = { hidden: 32, heads: 4, mlp: 64 };

describe("tiny SigLIP (fixed resolution)", () => {
  const dir = path.join(root, "siglip");
  beforeAll(async () => {
    await writeTinySiglip(dir, { variant: "siglip", seed: 7, dtypes: ["fp32", "fp16"] });
  });

  it("writes the public export layout", () => {
    for (const f of [
      "config.json",
      "preprocessor_config.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "special_tokens_map.json",
      "onnx/vision_model.onnx",
      "onnx/text_model.onnx",
      "onnx/model.onnx",
      "onnx/vision_model_fp16.onnx",
      "onnx/model_fp16.onnx",
    ]) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    }
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(config.model_type).toBe("siglip");
    expect(config.vision_config).toMatchObject({ hidden_size: 32, image_size: 32, patch_size: 8 });
    const pre = JSON.parse(fs.readFileSync(path.join(dir, "preprocessor_config.json"), "utf8"));
    expect(pre).toMatchObject({
      image_processor_type: "SiglipImageProcessor",
      size: { height: 32, width: 32 },
      resample: 3,
    });
  });

  it("vision tower matches a float64 reference forward", async () => {
    const file = path.join(dir, "onnx", "vision_model.onnx");
    const session = await ort.InferenceSession.create(file);
    expect(session.inputNames).toEqual(["pixel_values"]);
    expect(session.outputNames).toEqual(["last_hidden_state", "pooler_output"]);
    const img = [rand(3 * 32 * 32, 1), rand(3 * 32 * 32, 2)];
    const data = new Float32Array(2 * 3 * 32 * 32);
    data.set(img[0]);
    data.set(img[1], img[0].length);
    const out = await session.run({ pixel_values: new ort.Tensor("float32", data, [2, 3, 32, 32]) });
    expect(out.last_hidden_state.dims).toEqual([2, 16, 32]);
    expect(out.pooler_output.dims).toEqual([2, 32]);
    const w = await weightsOf(file);
    for (let b = 0; b < 2; b++) {
      const ref = visionTower(w, fixedEmbeddings(w, img[b], 32, 8, 32), 2, null, dims);
      const got = out.pooler_output.data as Float32Array;
      expect(maxDiff(got.subarray(b * 32, (b + 1) * 32), ref.pooled)).toBeLessThan(1e-4);
      const lhs = out.last_hidden_state.data as Float32Array;
      expect(maxDiff(lhs.subarray(b * 512, (b + 1) * 512), ref.last.flat())).toBeLessThan(1e-4);
    }
  });

  it("text tower matches a float64 reference forward", async () => {
    const file = path.join(dir, "onnx", "text_model.onnx");
    const session = await ort.InferenceSession.create(file);
    expect(session.inputNames).toEqual(["input_ids"]);
    const ids = Array.from({ length: 64 }, (_, i) => (i < 6 ? 5 + i * 7 : 1));
    const out = await session.run({
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, 64]),
    });
    const ref = textTower(await weightsOf(file), ids, 2, dims);
    expect(maxDiff(out.pooler_output.data as Float32Array, ref.pooled)).toBeLessThan(1e-4);
    expect(maxDiff(out.last_hidden_state.data as Float32Array, ref.last.flat())).toBeLessThan(1e-4);
  });

  it("combined model = towers + normalize + exp(logit_scale)·cos + logit_bias", async () => {
    const [vision, text, model] = await Promise.all(
      ["vision_model", "text_model", "model"].map((m) =>
        ort.InferenceSession.create(path.join(dir, "onnx", `${m}.onnx`)),
      ),
    );
    expect([...model.outputNames].sort()).toEqual([
      "image_embeds",
      "logits_per_image",
      "logits_per_text",
      "text_embeds",
    ]);
    const pixel_values = new ort.Tensor("float32", rand(3 * 32 * 32, 3), [1, 3, 32, 32]);
    const ids = [5, 9, 1, 3].map((start) => Array.from({ length: 64 }, (_, i) => (i < 4 ? start + i : 1)));
    const input_ids = new ort.Tensor("int64", BigInt64Array.from(ids.flat().map(BigInt)), [4, 64]);
    const all = await model.run({ pixel_values, input_ids });
    const img = (await vision.run({ pixel_values })).pooler_output.data as Float32Array;
    const txt = (await text.run({ input_ids })).pooler_output.data as Float32Array;
    const norm = (v: Float32Array) => {
      const n = Math.hypot(...v);
      return Array.from(v, (x) => x / n);
    };
    const ie = norm(img);
    const expected = ids.map((_, t) => {
      const te = norm(txt.subarray(t * 32, (t + 1) * 32));
      return te.reduce((s, x, i) => s + x * ie[i], 0) * 10 - 10;
    });
    expect(all.logits_per_image.dims).toEqual([1, 4]);
    expect(maxDiff(all.logits_per_image.data as Float32Array, expected)).toBeLessThan(1e-4);
    const meta = await readModel(path.join(dir, "onnx", "vision_model.onnx"));
    const props = Object.fromEntries(meta.metadataProps.map((p) => [p.key, p.value]));
    expect(Number(props.logit_scale)).toBeCloseTo(Math.log(10), 6);
    expect(Number(props.logit_bias)).toBe(-10);
  });

  it("fp16 files hold float16 weights and stay close to fp32", async () => {
    const model = await readModel(path.join(dir, "onnx", "vision_model_fp16.onnx"));
    expect(model.graph!.initializer.some((t) => t.dataType === 10)).toBe(true);
    const pixel_values = new ort.Tensor("float32", rand(3 * 32 * 32, 4), [1, 3, 32, 32]);
    const a = await (await ort.InferenceSession.create(path.join(dir, "onnx", "vision_model.onnx"))).run({
      pixel_values,
    });
    const b = await (await ort.InferenceSession.create(path.join(dir, "onnx", "vision_model_fp16.onnx"))).run(
      { pixel_values },
    );
    const d = maxDiff(a.pooler_output.data as Float32Array, b.pooler_output.data as Float32Array);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(0.2);
  });

  it("tokenizer.json encodes a zero-shot prompt into whole known words + </s>", () => {
    const t = new Tokenizer(
      JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
      JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
    );
    const enc = t.encode("a photo of a red circle");
    expect(enc.tokens).toEqual(["▁a", "▁photo", "▁of", "▁a", "▁red", "▁circle", "</s>"]);
    expect(enc.ids.at(-1)).toBe(1);
    expect(t.decode(enc.ids, { skip_special_tokens: true })).toBe("a photo of a red circle");
  });
});

describe("tiny SigLIP 2", () => {
  it("Gemma-style tokenizer: <pad>=0 <eos>=1 <bos>=2 <unk>=3, whole words, byte fallback", async () => {
    const dir = path.join(root, "siglip2");
    await writeTinySiglip(dir, { variant: "siglip2", towers: ["text"], externalData: true });
    const t = new Tokenizer(
      JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
      JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
    );
    const enc = t.encode("a photo of a red circle");
    expect(enc.tokens).toEqual(["a", "▁photo", "▁of", "▁a", "▁red", "▁circle", "<eos>"]);
    expect(enc.ids.at(-1)).toBe(1);
    for (const [id, tok] of ["<pad>", "<eos>", "<bos>", "<unk>"].entries())
      expect(t.encode(tok, { add_special_tokens: false }).ids).toEqual([id]);
    expect(t.encode("ç", { add_special_tokens: false }).tokens).toEqual(["<0xC3>", "<0xA7>"]);
    expect(TINY_WORDS).toContain("triangle");
    expect(fs.existsSync(path.join(dir, "onnx", "text_model.onnx_data"))).toBe(true);
    const out = await (await ort.InferenceSession.create(path.join(dir, "onnx", "text_model.onnx"))).run({
      input_ids: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: 64 }, (_, i) => BigInt(enc.ids[i] ?? 0)),
        [1, 64],
      ),
    });
    expect(out.pooler_output.dims).toEqual([1, 32]);
  });
});

describe("tiny SigLIP 2 NaFlex", () => {
  const dir = path.join(root, "naflex");
  let session: ort.InferenceSession;
  let w: Weights;
  const patchDim = 3 * 8 * 8;
  // A 3×5 grid: rows shrink 4→3 (antialias matters), columns grow 4→5.
  const [h, wd] = [3, 5];
  const real: Mat = Array.from({ length: h * wd }, (_, i) => Array.from(rand(patchDim, 10 + i)));

  beforeAll(async () => {
    await writeTinySiglip(dir, { variant: "siglip2-naflex", seed: 3, towers: ["vision"] });
    const file = path.join(dir, "onnx", "vision_model.onnx");
    session = await ort.InferenceSession.create(file);
    w = await weightsOf(file);
  });

  async function run(maxPatches: number) {
    const pv = new Float32Array(maxPatches * patchDim);
    for (const [i, r] of real.entries()) pv.set(r, i * patchDim);
    return session.run({
      pixel_values: new ort.Tensor("float32", pv, [1, maxPatches, patchDim]),
      pixel_attention_mask: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: maxPatches }, (_, i) => (i < h * wd ? 1n : 0n)),
        [1, maxPatches],
      ),
      spatial_shapes: new ort.Tensor("int64", BigInt64Array.from([BigInt(h), BigInt(wd)]), [1, 2]),
    });
  }

  it("has the NaFlex inputs and matches a float64 reference (resized positions, key mask, MAP head)", async () => {
    expect(session.inputNames).toEqual(["pixel_values", "pixel_attention_mask", "spatial_shapes"]);
    const P = 24;
    const out = await run(P);
    const padded = [
      ...real,
      ...Array.from({ length: P - h * wd }, () => new Array<number>(patchDim).fill(0)),
    ];
    const emb = naflexEmbeddings(w, padded, h, wd, 4, 32);
    const mask = Array.from({ length: P }, (_, i) => i < h * wd);
    const ref = visionTower(w, emb, 2, mask, dims);
    expect(maxDiff(out.pooler_output.data as Float32Array, ref.pooled)).toBeLessThan(1e-4);
    const lhs = out.last_hidden_state.data as Float32Array;
    expect(maxDiff(lhs.subarray(0, h * wd * 32), ref.last.slice(0, h * wd).flat())).toBeLessThan(1e-4);
  });

  it("outputs for real patches do not change when padding grows", async () => {
    const a = await run(16);
    const b = await run(40);
    expect(maxDiff(a.pooler_output.data as Float32Array, b.pooler_output.data as Float32Array)).toBeLessThan(
      1e-5,
    );
    const la = (a.last_hidden_state.data as Float32Array).subarray(0, h * wd * 32);
    const lb = (b.last_hidden_state.data as Float32Array).subarray(0, h * wd * 32);
    expect(maxDiff(la, lb)).toBeLessThan(1e-5);
  });
});
