import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VisionEncoder } from "../../src/encoders/index.js";
import { cosine } from "../../src/encoders/vectors.js";
import { readModel, saveModelProto } from "../../src/graph/index.js";
import { quantizeDynamic, quantizeWeights } from "../../src/graph/quantize/index.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-quantize-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("quantizeWeights", () => {
  it("int8 is symmetric (zero point 0, ±127), uint8 maps the range [min(0, w), max(0, w)] onto 0…255", () => {
    const w = Float32Array.of(-0.9, -0.5, 0, 0.25, 2);
    const s = quantizeWeights(w, "int8");
    expect(s.zeroPoint).toBe(0);
    expect(s.scale).toBeCloseTo(2 / 127, 7);
    expect(Array.from(s.codes)).toEqual([-57, -32, 0, 16, 127]);
    const u = quantizeWeights(w, "uint8");
    expect(u.scale).toBeCloseTo(2.9 / 255, 7);
    expect(u.zeroPoint).toBe(79);
    expect(u.codes[0]).toBe(0);
    expect(u.codes[4]).toBe(255);
    for (let i = 0; i < w.length; i++) expect((u.codes[i] - u.zeroPoint) * u.scale).toBeCloseTo(w[i], 2);
  });
});

describe("quantizeDynamic", () => {
  for (const variant of ["siglip", "siglip2-naflex"] as const) {
    it(`${variant}: a q8 file loads through the dtype path and embeds close to fp32`, async () => {
      const dir = path.join(root, variant);
      await writeTinySiglip(dir, { variant, towers: ["vision"], sizes: { hidden: 64, heads: 4, mlp: 128 } });
      const model = await readModel(path.join(dir, "onnx", "vision_model.onnx"));
      const { counts } = quantizeDynamic(model);
      const layers = 2;
      // q, k, v, out, fc1, fc2 per layer; the head's k, v, out, fc1, fc2 (its probe's q is constant).
      expect(counts.matmul).toBe(6 * layers + 5 + (variant === "siglip2-naflex" ? 1 : 0));
      expect(counts.conv).toBe(variant === "siglip" ? 1 : 0);
      expect(counts.weightType).toBe(variant === "siglip" ? "uint8" : "int8");
      const ops = model.graph!.node.map((n) => n.opType);
      expect(ops).toContain("MatMulInteger");
      expect(ops).toContain("DynamicQuantizeLinear");
      await saveModelProto(model, path.join(dir, "onnx", "vision_model_quantized.onnx"));

      const images = [0, 1, 2].map((k) => ({
        width: 48 + 8 * k,
        height: 40,
        data: new Uint8Array((48 + 8 * k) * 40 * 3).map((_, i) => (i * (31 + k) + (i >> 7) * 17) % 256),
      }));
      const fp32 = await VisionEncoder.load(dir, { threads: 1 });
      const q8 = await VisionEncoder.load(dir, { dtype: "q8", threads: 1 });
      expect(q8.modelFile).toMatch(/vision_model_quantized\.onnx$/);
      const [a, b] = [await fp32.encode(images), await q8.encode(images)];
      await Promise.all([fp32.dispose(), q8.dispose()]);
      for (let i = 0; i < images.length; i++) {
        expect(b[i].grid).toEqual(a[i].grid);
        // 8-bit weights and activations: close, not equal.
        expect(cosine(a[i].pooled, b[i].pooled)).toBeGreaterThan(0.98);
        expect(cosine(a[i].pooled, b[i].pooled)).toBeLessThan(1);
      }
    });
  }
});
