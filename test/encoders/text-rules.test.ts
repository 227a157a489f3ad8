import { describe, expect, it } from "vitest";
import { canonicalizeText } from "../../src/encoders/text-rules.js";

describe("canonicalizeText", () => {
  it("SigLIP 1 lowercases, strips punctuation and collapses whitespace", () => {
    expect(canonicalizeText("  This is a PHOTO of a Cat!  (really)  ", "siglip")).toBe(
      "this is a photo of a cat really",
    );
    expect(canonicalizeText("red-circle, blue_square.", "siglip")).toBe("redcircle bluesquare");
  });

  it("SigLIP 2 only lowercases", () => {
    expect(canonicalizeText("This is a PHOTO of a Cat!", "siglip2")).toBe("this is a photo of a cat!");
    expect(canonicalizeText("two  spaces", "siglip2")).toBe("two  spaces");
  });
});
