import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import { resizeRgb } from "../../src/image/resize.js";
import type { RgbImage } from "../../src/image/types.js";

/** A width × height image whose red channel is a horizontal ramp and green a vertical one. */
function ramps(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([x * 10, y * 10, 7], (y * width + x) * 3);
  return { data, width, height };
}

describe("resizeRgb", () => {
  it("refuses a target that is not two positive integers, naming it", async () => {
    const img = ramps(4, 4);
    await expect(resizeRgb(img, 0, 4, "bilinear")).rejects.toThrow(InvalidArgumentError);
    await expect(resizeRgb(img, 4, 2.5, "bicubic")).rejects.toThrow(/positive integers, got 4×2.5/);
  });

  it("returns the image itself when the size does not change", async () => {
    const img = ramps(5, 3);
    expect(await resizeRgb(img, 5, 3, "bicubic")).toBe(img);
  });

  it.each(["bilinear", "bicubic"] as const)(
    "%s: growing one side while shrinking the other resamples each axis on its own",
    async (resample) => {
      // Width 8 → 32 (grows), height 16 → 4 (shrinks): red depends on x only, green on y only, blue is flat.
      const out = await resizeRgb(ramps(8, 16), 32, 4, resample);
      expect([out.width, out.height, out.data.length]).toEqual([32, 4, 32 * 4 * 3]);
      for (let y = 1; y < 4; y++) {
        for (let x = 0; x < 32; x++) {
          expect(out.data[(y * 32 + x) * 3]).toBe(out.data[x * 3]);
          expect(out.data[(y * 32 + x) * 3 + 1]).toBe(out.data[y * 32 * 3 + 1]);
          expect(out.data[(y * 32 + x) * 3 + 2]).toBe(7);
        }
      }
      if (resample === "bilinear") {
        // Centre-aligned growth of the 0, 10, …, 70 ramp by 4: x samples (x + 0.5)/4 − 0.5, so x = 2 →
        // 0.125 → 1.25 → 1 and x = 3 → 0.375 → 3.75 → 4; the first two clamp to the border pixel.
        expect([0, 1, 2, 3].map((x) => out.data[x * 3])).toEqual([0, 0, 1, 4]);
      }
    },
  );
});
