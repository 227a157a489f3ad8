/**
 * Colour conversions that must follow the reference processor (PIL `Image.convert("RGB")`) rather than
 * a colour-managed pipeline, so that pixels match what the models were evaluated with.
 */

/**
 * CMYK → RGB exactly as PIL's `cmyk2rgb` does it: no ICC profile, R = (255 − C)·(255 − K)/255 with
 * PIL's integer rounding (`MULDIV255`). `cmyk` is [H·W, channels] with C, M, Y, K first.
 */
// [H·W, channels ≥ 4] → [H·W, 3]
export function cmykToRgb(cmyk: Uint8Array, pixels: number, channels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const nk = 255 - cmyk[i * channels + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[i * channels + c] * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8);
      out[i * 3 + c] = Math.max(0, v);
    }
  }
  return out;
}
