import { describe, expect, it } from "vitest";
import { IncompatibleModelError, InvalidArgumentError } from "../../src/errors.js";
import { embeddingScaleFor } from "../../src/llm/embedding-scale.js";

describe("embeddingScaleFor", () => {
  it("is 1 for architectures whose llama.cpp graph leaves raw embeddings unscaled", () => {
    for (const arch of ["gemma3", "gemma3n", "gemma4", "gemma-embedding"])
      expect(embeddingScaleFor(arch, 640)).toBe(1);
  });

  it("is 1/√n_embd for gemma and gemma2, which scale raw embeddings by √n_embd too", () => {
    expect(embeddingScaleFor("gemma", 2048)).toBeCloseTo(1 / Math.sqrt(2048), 12);
    expect(embeddingScaleFor("gemma2", 2304) * Math.sqrt(2304)).toBeCloseTo(1, 12);
  });

  it("refuses unknown architectures and bad widths", () => {
    expect(() => embeddingScaleFor("llama", 4096)).toThrow(IncompatibleModelError);
    expect(() => embeddingScaleFor("llama", 4096)).toThrow(
      /"llama" has no known embedding-scale convention; expected one of gemma3/,
    );
    expect(() => embeddingScaleFor("gemma3", 0)).toThrow(InvalidArgumentError);
  });
});
