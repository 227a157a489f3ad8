import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseEncoderList, parseEncoderSpec } from "../../src/compare/encoder-spec.js";
import { resolveEncoderDir } from "../../src/compare/encoders.js";

const demo = path.join(import.meta.dirname, "..", "..", "models", "demo");

describe("encoder specs", () => {
  it("parses name=source@dtype:maxPatches in any combination", () => {
    expect(parseEncoderSpec("siglip2-base-patch16-224")).toEqual({
      name: "siglip2-base-patch16-224",
      source: "siglip2-base-patch16-224",
      dtype: "fp32",
    });
    expect(parseEncoderSpec("google/siglip2-base-patch16-naflex:256")).toEqual({
      name: "siglip2-base-patch16-naflex:256",
      source: "google/siglip2-base-patch16-naflex",
      dtype: "fp32",
      maxPatches: 256,
    });
    expect(parseEncoderSpec("small=./models/x/@q8")).toEqual({
      name: "small",
      source: "./models/x/",
      dtype: "q8",
    });
    expect(parseEncoderSpec("a=dir@fp16:64")).toEqual({
      name: "a",
      source: "dir",
      dtype: "fp16",
      maxPatches: 64,
    });
    expect(parseEncoderSpec("/m/siglip@fp16").name).toBe("siglip@fp16");
  });

  it("refuses unknown dtypes, empty specs and duplicate names, saying what to do", () => {
    expect(() => parseEncoderSpec("x@fp8")).toThrow(/unknown dtype "fp8"; expected one of fp32, fp16/);
    expect(() => parseEncoderList([" , "])).toThrow(/no encoder given/);
    expect(() => parseEncoderList(["a/siglip,b/siglip"])).toThrow(
      /two encoders are named "siglip".*name=source/,
    );
    expect(parseEncoderList(["a/siglip,b=b/siglip", "c"]).map((s) => s.name)).toEqual(["siglip", "b", "c"]);
  });

  it("applies :maxPatches to a NaFlex encoder through a variant folder, and refuses it for fixed resolution", async () => {
    const variants = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-variants-"));
    try {
      const dir = await resolveEncoderDir(parseEncoderSpec(`${demo}/siglip2-naflex:16`), {
        variantsDir: variants,
      });
      const pre = JSON.parse(fs.readFileSync(path.join(dir, "preprocessor_config.json"), "utf8"));
      expect(pre.max_num_patches).toBe(16);
      expect(fs.realpathSync(path.join(dir, "onnx"))).toBe(
        fs.realpathSync(path.join(demo, "siglip2-naflex", "onnx")),
      );
      await expect(
        resolveEncoderDir(parseEncoderSpec(`${demo}/siglip2:16`), { variantsDir: variants }),
      ).rejects.toThrow(/fixed-resolution encoder; ":16" \(max patches\) applies only to NaFlex encoders/);
    } finally {
      fs.rmSync(variants, { recursive: true, force: true });
    }
  });
});
