import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { VlmkitError } from "../../src/errors.js";
import { parsePreprocessorConfig, readPreprocessorConfig } from "../../src/image/preprocessor-config.js";

describe("parsePreprocessorConfig", () => {
  it("reads a SigLIP config (fixed, bicubic)", () => {
    const cfg = parsePreprocessorConfig({
      image_processor_type: "SiglipImageProcessor",
      size: { height: 384, width: 384 },
      resample: 3,
      rescale_factor: 0.00392156862745098,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
    });
    expect(cfg).toEqual({
      kind: "fixed",
      height: 384,
      width: 384,
      resample: "bicubic",
      doResize: true,
      doRescale: true,
      rescaleFactor: 0.00392156862745098,
      doNormalize: true,
      imageMean: [0.5, 0.5, 0.5],
      imageStd: [0.5, 0.5, 0.5],
    });
  });

  it("applies defaults: fixed 224×224 bicubic, NaFlex p16 / 256 bilinear", () => {
    expect(parsePreprocessorConfig({})).toMatchObject({
      kind: "fixed",
      height: 224,
      width: 224,
      resample: "bicubic",
    });
    expect(parsePreprocessorConfig({ image_processor_type: "Siglip2ImageProcessor" })).toMatchObject({
      kind: "naflex",
      patchSize: 16,
      maxNumPatches: 256,
      resample: "bilinear",
      rescaleFactor: 1 / 255,
      imageMean: [0.5, 0.5, 0.5],
    });
    expect(parsePreprocessorConfig({ max_num_patches: 1024 })).toMatchObject({
      kind: "naflex",
      maxNumPatches: 1024,
    });
  });

  it("rejects unknown resample values and bad fields with the offending value", () => {
    expect(() => parsePreprocessorConfig({ resample: 1 })).toThrow(
      /resample 1 \(PIL LANCZOS\) is not supported/,
    );
    expect(() => parsePreprocessorConfig({ resample: 9 })).toThrow(/resample 9 is not supported; expected 2/);
    expect(() => parsePreprocessorConfig({ size: { shortest_edge: 224 } })).toThrow(
      /size \{"shortest_edge":224\}/,
    );
    expect(() => parsePreprocessorConfig({ image_std: [0.5, 0, 0.5] })).toThrow(/holds a zero/);
    expect(() => parsePreprocessorConfig({ image_mean: [1, 2] })).toThrow(/field image_mean/);
  });

  it("bounds size, patch_size and max_num_patches (a hostile config cannot ask for a huge tensor)", () => {
    const bad = [
      [{ size: { height: 100_000, width: 224 } }, /size\.height 100000 is larger than 4096/],
      [{ size: 1e9 }, /size 1000000000 is larger than 4096/],
      [{ max_num_patches: 1e9 }, /max_num_patches 1000000000 is larger than 16384/],
      [{ max_num_patches: 256, patch_size: 10_000 }, /patch_size 10000 is larger than 64/],
      [{ max_num_patches: 16384, patch_size: 64 }, /16384 patches of 64×64 pixels .* more than 4096×4096/],
    ] as const;
    for (const [json, message] of bad) {
      let error: unknown;
      try {
        parsePreprocessorConfig(json, "cfg.json");
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(json)).toBeInstanceOf(VlmkitError);
      expect((error as VlmkitError).code).toBe("CONFIG_INVALID");
      expect((error as Error).message).toMatch(/^invalid preprocessor config cfg\.json: /);
      expect((error as Error).message).toMatch(message);
    }
    expect(parsePreprocessorConfig({ size: 4096 })).toMatchObject({ height: 4096, width: 4096 });
    expect(parsePreprocessorConfig({ max_num_patches: 16384, patch_size: 32 })).toMatchObject({
      maxNumPatches: 16384,
    });
  });

  it("readPreprocessorConfig reads a directory and names the file in errors", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vlmkit-cfg-"));
    writeFileSync(
      path.join(dir, "preprocessor_config.json"),
      JSON.stringify({ size: { height: 256, width: 256 } }),
    );
    expect(await readPreprocessorConfig(dir)).toMatchObject({ kind: "fixed", height: 256 });
    writeFileSync(path.join(dir, "preprocessor_config.json"), "{nope");
    await expect(readPreprocessorConfig(dir)).rejects.toThrow(/preprocessor_config\.json: not valid JSON/);
    await expect(readPreprocessorConfig(path.join(dir, "missing"))).rejects.toMatchObject({
      code: "CONFIG_INVALID",
    });
  });
});
