import { describe, expect, it } from "vitest";
import { ONNX_DTYPES, onnxFileName, parseOnnxDtype } from "../../src/hub/dtypes.js";
import { findModel, listModels, modelFiles } from "../../src/hub/registry.js";

describe("dtypes", () => {
  it("maps every dtype to the transformers.js file suffix", () => {
    const names = ONNX_DTYPES.map((d) => onnxFileName("onnx/vision_model", d));
    expect(names).toEqual([
      "onnx/vision_model.onnx",
      "onnx/vision_model_fp16.onnx",
      "onnx/vision_model_quantized.onnx",
      "onnx/vision_model_int8.onnx",
      "onnx/vision_model_uint8.onnx",
      "onnx/vision_model_q4.onnx",
      "onnx/vision_model_q4f16.onnx",
      "onnx/vision_model_bnb4.onnx",
    ]);
  });

  it("names the accepted dtypes when given an unknown one", () => {
    expect(() => parseOnnxDtype("fp8")).toThrow(/"fp8".*fp32, fp16, q8/);
  });
});

describe("registry", () => {
  it("covers SigLIP, SigLIP 2 (fixed and NaFlex) and Gemma 3 with unique ids and repos", () => {
    const models = listModels();
    expect(new Set(models.map((m) => m.id)).size).toBe(models.length);
    expect(new Set(models.map((m) => m.repo)).size).toBe(models.length);
    const ids = models.map((m) => m.id);
    for (const id of [
      "siglip-base-patch16-224",
      "siglip-large-patch16-256",
      "siglip-base-patch16-384",
      "siglip2-base-patch16-224",
      "siglip2-large-patch16-256",
      "siglip2-so400m-patch14-384",
      "siglip2-giant-opt-patch16-256",
      "siglip2-base-patch16-naflex",
      "gemma-3-270m-it",
      "gemma-3-1b-it",
      "gemma-3-4b-it",
    ]) {
      expect(ids).toContain(id);
    }
    for (const m of models) {
      if (m.kind !== "vision-encoder") continue;
      expect(m.naflex).toBe(m.id.endsWith("naflex"));
      expect(m.naflex ? m.dims.maxPatches : m.dims.imageSize).toBeGreaterThan(0);
      if (!m.naflex) expect(m.id).toContain(`patch${m.dims.patchSize}-${m.dims.imageSize}`);
    }
  });

  it("fetches the text tower of a repo seen without one only when it is there", () => {
    const naflex = modelFiles(findModel("siglip2-base-patch16-naflex")!, { dtype: "fp16" });
    expect(naflex).toContainEqual({ path: "onnx/vision_model_fp16.onnx", optional: false });
    expect(naflex).toContainEqual({ path: "onnx/text_model_fp16.onnx", optional: true });
    const fixed = modelFiles(findModel("siglip2-base-patch16-224")!);
    expect(fixed).toContainEqual({ path: "onnx/text_model.onnx", optional: false });
    // No so400m NaFlex export is published; the id is not offered.
    expect(findModel("siglip2-so400m-patch16-naflex")).toBeUndefined();
  });

  it("finds a model by id or by repo, case-insensitively", () => {
    expect(findModel("siglip2-base-patch16-224")?.repo).toBe("onnx-community/siglip2-base-patch16-224-ONNX");
    expect(findModel("xenova/SIGLIP-base-patch16-224")?.id).toBe("siglip-base-patch16-224");
    expect(findModel("nope")).toBeUndefined();
  });

  it("lists encoder files for a dtype, external data as optional, and the GGUF for an LLM", () => {
    const files = modelFiles(findModel("siglip2-base-patch16-224")!, { dtype: "q8", textTower: false });
    expect(files.filter((f) => !f.optional).map((f) => f.path)).toEqual([
      "config.json",
      "preprocessor_config.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "onnx/vision_model_quantized.onnx",
    ]);
    expect(files.filter((f) => f.optional).map((f) => f.path)).toEqual([
      "special_tokens_map.json",
      "onnx/vision_model_quantized.onnx_data",
    ]);
    expect(modelFiles(findModel("gemma-3-4b-it")!)).toEqual([
      { path: "gemma-3-4b-it-Q4_K_M.gguf", optional: false },
    ]);
  });
});
