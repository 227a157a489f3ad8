import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCompareConfig } from "../../src/compare/config-file.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-compare-config-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function write(value: unknown): string {
  const file = path.join(root, "compare.json");
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

describe("compare.json", () => {
  it("gives the same settings as the command line, paths relative to the file", () => {
    fs.mkdirSync(path.join(root, "models", "mine"), { recursive: true });
    const config = readCompareConfig(
      write({
        encoders: [
          "siglip2-base-patch16-224@fp16",
          { name: "nf", source: "siglip2-base-patch16-naflex", maxPatches: 256 },
          "models/mine",
        ],
        data: "pets",
        tasks: ["zeroshot", "linear-probe"],
        seed: 3,
        vlm: { llm: "gemma3.gguf", epochs: 2 },
      }),
    );
    expect(config.encoders).toEqual([
      { name: "siglip2-base-patch16-224@fp16", source: "siglip2-base-patch16-224", dtype: "fp16" },
      { name: "nf", source: "siglip2-base-patch16-naflex", dtype: "fp32", maxPatches: 256 },
      { name: "mine", source: path.join(root, "models", "mine"), dtype: "fp32" },
    ]);
    expect(config).toMatchObject({
      data: path.join(root, "pets"),
      tasks: ["zeroshot", "linear-probe"],
      seed: 3,
      vlm: { llm: path.join(root, "gemma3.gguf"), epochs: 2 },
    });
  });

  it("names the field that is wrong", () => {
    expect(() => readCompareConfig(write({ encoders: ["a"], tasks: ["zero-shot"] }))).toThrow(
      /compare\.json: tasks\.0:/,
    );
    expect(() => readCompareConfig(write({ encoders: [{ source: "a", dtype: "fp8" }] }))).toThrow(
      /encoders\.0\.dtype: Invalid option/,
    );
    expect(() => readCompareConfig(write({ data: "x", extra: 1 }))).toThrow(
      /compare\.json: \(root\): .*extra/,
    );
  });
});
