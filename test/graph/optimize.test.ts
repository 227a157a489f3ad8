import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { VisionEncoder } from "../../src/encoders/index.js";
import { readModel, toModelProto } from "../../src/graph/index.js";
import { optimizedModelFile, optimizeModel } from "../../src/graph/optimize/index.js";
import { type ModelProto, ModelProtoSchema } from "../../src/graph/proto/onnx_pb.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { TORCH_SIZES, torchExportEncoder } from "./torch-export-encoder.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-optimize-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const rand = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.9);
const ops = (m: ModelProto) => m.graph!.node.map((n) => n.opType);

/** Runs both models on `feeds`; every output must match within 1e-4 and have cosine ≥ 0.9999. */
async function expectSameOutputs(
  original: Uint8Array | string,
  fused: Uint8Array | string,
  feeds: Record<string, ort.Tensor>,
) {
  const open = (m: Uint8Array | string) =>
    typeof m === "string" ? ort.InferenceSession.create(m) : ort.InferenceSession.create(m);
  const [a, b] = await Promise.all([open(original), open(fused)]);
  const [ra, rb] = [await a.run(feeds), await b.run(feeds)];
  for (const name of Object.keys(ra)) {
    const x = ra[name].data as Float32Array;
    const y = rb[name].data as Float32Array;
    expect(y.length, name).toBe(x.length);
    let maxDiff = 0;
    let dot = 0;
    let nx = 0;
    let ny = 0;
    for (let i = 0; i < x.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
      dot += x[i] * y[i];
      nx += x[i] * x[i];
      ny += y[i] * y[i];
    }
    expect(maxDiff, name).toBeLessThan(1e-4);
    expect(dot / Math.sqrt(nx * ny), name).toBeGreaterThanOrEqual(0.9999);
  }
  await Promise.all([a.release(), b.release()]);
}

describe("optimizeModel on torch.onnx-style exports", () => {
  it("fuses decomposed LayerNorm, tanh GELU, run-time-shaped attention with a padding mask, residual LayerNorm", async () => {
    const model = toModelProto(torchExportEncoder(), { opset: 14 });
    const original = toBinary(ModelProtoSchema, model);
    const { fused } = optimizeModel(model);
    const L = TORCH_SIZES.layers;
    // 2 LayerNorms per layer + the final one; every one but the first follows a residual Add.
    expect(fused).toEqual({ layerNorm: 2 * L + 1, gelu: L, attention: L, skipLayerNorm: 2 * L });
    const left = ops(model);
    for (const op of ["Softmax", "Tanh", "ReduceMean", "Pow", "Transpose", "Reshape", "Div"])
      expect(left).not.toContain(op);
    expect(left.filter((o) => o === "Attention")).toHaveLength(L);
    const B = 3;
    const S = 6;
    const valid = [6, 4, 1]; // padded rows: keys past `valid` are masked out
    await expectSameOutputs(original, toBinary(ModelProtoSchema, model), {
      hidden: new ort.Tensor("float32", rand(B * S * TORCH_SIZES.hidden, 3), [B, S, TORCH_SIZES.hidden]),
      attention_mask: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: B * S }, (_, i) => (i % S < valid[Math.floor(i / S)] ? 1n : 0n)),
        [B, S],
      ),
    });
  });

  it("leaves a graph without the patterns as it was", () => {
    const model = toModelProto(torchExportEncoder(), { opset: 14 });
    for (const n of model.graph!.node) if (n.opType === "Tanh") n.opType = "Sigmoid";
    const { fused } = optimizeModel(model);
    expect(fused.gelu).toBe(0);
    expect(ops(model)).toContain("Sigmoid");
  });
});

describe("optimizeModel on the tiny SigLIP models", () => {
  const variants = ["siglip", "siglip2", "siglip2-naflex"] as const;
  for (const variant of variants) {
    it(`${variant}: vision and text towers give the same outputs fused`, async () => {
      const dir = path.join(root, variant);
      const { sizes } = await writeTinySiglip(dir, { variant, towers: ["vision", "text"] });
      for (const tower of ["vision_model", "text_model"]) {
        const file = path.join(dir, "onnx", `${tower}.onnx`);
        const model = await readModel(file);
        const { fused } = optimizeModel(model);
        // The pooling head's probe attends over the patches (cross-attention): left as it is.
        expect(fused.attention, tower).toBe(sizes.layers);
        expect(fused.gelu, tower).toBe(sizes.layers + (tower === "vision_model" ? 1 : 0));
        expect(fused.skipLayerNorm, tower).toBeGreaterThanOrEqual(2 * sizes.layers - 1);
        const feeds: Record<string, ort.Tensor> = {};
        if (tower === "text_model") {
          const L = sizes.textLength;
          feeds.input_ids = new ort.Tensor(
            "int64",
            BigInt64Array.from({ length: 2 * L }, (_, i) => BigInt((i * 7) % 20)),
            [2, L],
          );
        } else if (variant === "siglip2-naflex") {
          // Three images of 4×4, 3×4 and 2×3 patches padded to 16: fixed and padded rows in one batch.
          const M = 16;
          const per = 3 * sizes.patch * sizes.patch;
          const real = [16, 12, 6];
          feeds.pixel_values = new ort.Tensor("float32", rand(3 * M * per, 1), [3, M, per]);
          feeds.pixel_attention_mask = new ort.Tensor(
            "int64",
            BigInt64Array.from({ length: 3 * M }, (_, i) => (i % M < real[Math.floor(i / M)] ? 1n : 0n)),
            [3, M],
          );
          feeds.spatial_shapes = new ort.Tensor("int64", BigInt64Array.of(4n, 4n, 3n, 4n, 2n, 3n), [3, 2]);
        } else {
          const S = sizes.imageSize;
          feeds.pixel_values = new ort.Tensor("float32", rand(2 * 3 * S * S, 2), [2, 3, S, S]);
        }
        await expectSameOutputs(file, toBinary(ModelProtoSchema, model), feeds);
      }
    });
  }
});

describe("optimized model cache", () => {
  it("writes the fused copy once, keyed by content, with external data, and the encoder loads it", async () => {
    const dir = path.join(root, "cached");
    await writeTinySiglip(dir, { variant: "siglip2", towers: ["vision"], externalData: true });
    const file = path.join(dir, "onnx", "vision_model.onnx");
    const cache = path.join(root, "cache", "optimized");
    const first = await optimizedModelFile(file, cache);
    expect(first.fused?.attention).toBeGreaterThan(0);
    const second = await optimizedModelFile(file, cache);
    expect(second.file).toBe(first.file);
    expect(second.fused).toBeUndefined(); // served from the cache
    expect(fs.readdirSync(cache).sort()).toEqual([
      path.basename(first.file),
      `${path.basename(first.file)}_data`,
    ]);

    process.env.VLMKIT_CACHE = path.join(root, "cache");
    const images = [
      { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3).map((_, i) => (i * 37) % 256) },
    ];
    const fusedEncoder = await VisionEncoder.load(dir, { fuseGraph: true, threads: 1 });
    const plainEncoder = await VisionEncoder.load(dir, { fuseGraph: false, threads: 1 });
    const [a] = await fusedEncoder.encode(images);
    const [b] = await plainEncoder.encode(images);
    await Promise.all([fusedEncoder.dispose(), plainEncoder.dispose()]);
    for (let i = 0; i < a.pooled.length; i++) expect(a.pooled[i]).toBeCloseTo(b.pooled[i], 4);
    expect(a.patches.dims).toEqual(b.patches.dims);
  });
});
