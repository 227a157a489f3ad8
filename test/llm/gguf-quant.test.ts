import { describe, expect, it } from "vitest";
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  GGML_TYPES,
  ggmlRowBytes,
  ggmlTypeById,
} from "../../src/llm/quant.js";
import { dequantizeRow } from "../../src/llm/quant-decode.js";
import { quantizeRow } from "../../src/llm/quant-encode.js";
import { SeededRandom } from "../../src/util/random.js";

function roundTrip(type: keyof typeof GGML_TYPES, x: Float32Array): { bytes: Uint8Array; y: Float32Array } {
  const info = GGML_TYPES[type];
  const bytes = new Uint8Array(ggmlRowBytes(info, x.length));
  quantizeRow(info, x, bytes);
  const y = new Float32Array(x.length);
  dequantizeRow(info, bytes, y);
  return { bytes, y };
}

/**
 * Plain reading of ggml's reference quantizers, written independently of src/llm/quant-encode.ts:
 * Q8_0 d = amax/127, q = round-half-away(x/d); Q4_0 d = max/−8, q = min(15, floor(x/d + 8.5));
 * both dequantize as fp16(d)·q (Q4_0: q − 8).
 */
function referenceQuantDequant(
  type: "Q8_0" | "Q4_0",
  x: Float32Array,
): { y: Float32Array; scales: number[] } {
  const y = new Float32Array(x.length);
  const scales: number[] = [];
  const fr = Math.fround;
  for (let b = 0; b < x.length; b += 32) {
    const block = x.subarray(b, b + 32);
    let d: number;
    if (type === "Q8_0") {
      d = fr(Math.max(...block.map(Math.abs)) / 127);
    } else {
      let max = 0;
      for (const v of block) if (Math.abs(v) > Math.abs(max)) max = v;
      d = fr(max / -8);
    }
    const id = d === 0 ? 0 : fr(1 / d);
    const dHalf = f16BitsToF32(f32ToF16Bits(d));
    scales.push(dHalf);
    for (let j = 0; j < 32; j++) {
      const s = fr(block[j] * id);
      // `| 0`: an int8 code has no negative zero.
      const q =
        type === "Q8_0"
          ? (Math.sign(s) * Math.floor(Math.abs(s) + 0.5)) | 0
          : Math.min(15, Math.floor(fr(s + 8.5))) - 8;
      y[b + j] = fr(q * dHalf);
    }
  }
  return { y, scales };
}

describe("half-precision conversions", () => {
  it("encodes known binary16 values, rounding to nearest even", () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to inf
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie → even (zero)
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie → even (2)
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(Number.NaN)))).toBe(true);
  });

  it("round-trips every finite half exactly", () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) !== 0x7c00 && f32ToF16Bits(f16BitsToF32(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it("bfloat16 keeps the high half, rounding to nearest even", () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bf16BitsToF32(f32ToBf16Bits(-3.5))).toBe(-3.5);
  });
});

describe("block quantization", () => {
  const rng = new SeededRandom(7);
  const x = rng.normalArray(32 * 64, 0.5);
  // Blocks with special cases: all zero, one spike, values on a rounding boundary.
  x.fill(0, 0, 32);
  x.fill(0.01, 32, 64);
  x[40] = -3;
  for (let j = 0; j < 32; j++) x[64 + j] = (j - 16) * 0.5;

  it("F32 is exact and F16 within half an ulp of binary16", () => {
    expect(roundTrip("F32", x).y).toEqual(x);
    const { y } = roundTrip("F16", x);
    for (let i = 0; i < x.length; i++)
      expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -11 + 2 ** -25);
  });

  it("BF16 is within half an ulp of bfloat16", () => {
    const { y } = roundTrip("BF16", x);
    for (let i = 0; i < x.length; i++)
      expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -8);
  });

  for (const type of ["Q8_0", "Q4_0"] as const) {
    it(`${type} matches the reference quantize–dequantize and its error bound`, () => {
      const { bytes, y } = roundTrip(type, x);
      expect(bytes.length).toBe((x.length / 32) * (type === "Q8_0" ? 34 : 18));
      const ref = referenceQuantDequant(type, x);
      expect(y).toEqual(ref.y);
      for (let i = 0; i < x.length; i++) {
        const d = Math.abs(ref.scales[Math.floor(i / 32)]);
        // Q8_0: half a step plus fp16 rounding of d (≤ 127·d·2^-11); Q4_0: the top code 15 means +7·d
        // for values up to +8·d, so up to one step.
        const bound = type === "Q8_0" ? d / 2 + 127 * d * 2 ** -11 : d * (1 + 2 ** -10);
        expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(bound + 1e-7);
      }
      expect(y.subarray(0, 32).every((v) => v === 0)).toBe(true); // an all-zero block (d may be −0)
    });
  }

  it("Q4_0 packs element j in the low nibble and j+16 in the high nibble", () => {
    const block = new Float32Array(32);
    block[0] = -8; // the extreme: d = 1, code 0
    block[16] = 7; // code 15
    block[1] = 1; // code 9
    const { bytes } = roundTrip("Q4_0", block);
    expect(f16BitsToF32(bytes[0] | (bytes[1] << 8))).toBe(1);
    expect(bytes[2]).toBe(0 | (15 << 4));
    expect(bytes[3] & 0x0f).toBe(9);
  });

  it("rejects rows that are not whole blocks and unknown type ids", () => {
    expect(() => roundTrip("Q8_0", new Float32Array(33))).toThrow(/multiple of 32, got 33/);
    expect(() => ggmlTypeById(99)).toThrow(/unsupported ggml tensor type id 99/);
  });
});

describe("K-quant block decoding", () => {
  it("Q4_K: y = d·sc·q − dmin·m with 6-bit scales and mins", () => {
    const block = new Uint8Array(144);
    const view = new DataView(block.buffer);
    view.setUint16(0, f32ToF16Bits(0.5), true); // d
    view.setUint16(2, f32ToF16Bits(0.25), true); // dmin
    // sub-block 0: sc = 3, m = 2 (bytes 0 and 4); sub-block 1: sc = 5, m = 1 (bytes 1 and 5)
    block[4 + 0] = 3;
    block[4 + 4] = 2;
    block[4 + 1] = 5;
    block[4 + 5] = 1;
    // sub-block 4: sc = 0x2a (low 4 bits from byte 8, top 2 from byte 0), m = 0x13 (byte 8 high, byte 4 top)
    block[4 + 8] = 0x3a;
    block[4] |= 0x2 << 6;
    block[4 + 4] |= 0x1 << 6;
    block[16] = 0x7e; // value 0 → q 14, value 32 → q 7
    block[16 + 64] = 0x01; // value 128 → q 1 (sub-block 4)
    const y = new Float32Array(256);
    dequantizeRow(GGML_TYPES.Q4_K, block, y);
    expect(y[0]).toBe(0.5 * 3 * 14 - 0.25 * 2);
    expect(y[1]).toBe(-0.25 * 2);
    expect(y[32]).toBe(0.5 * 5 * 7 - 0.25 * 1);
    expect(y[128]).toBe(0.5 * 0x2a * 1 - 0.25 * 0x13);
  });

  it("Q6_K: 4 low bits from ql, 2 high bits from qh, int8 scales, offset 32", () => {
    const block = new Uint8Array(210);
    const view = new DataView(block.buffer);
    view.setUint16(208, f32ToF16Bits(0.125), true);
    for (let i = 0; i < 16; i++) view.setInt8(192 + i, i - 8);
    block[0] = 0x21; // value 0: low 1; value 64: low 2
    block[128] = 0b11_10_01_00; // high bits for values 0 (0), 32 (1), 64 (2), 96 (3)
    block[32] = 0x43; // value 32: low 3; value 96: low 4
    const y = new Float32Array(256);
    dequantizeRow(GGML_TYPES.Q6_K, block, y);
    const sc = (i: number) => i - 8;
    expect(y[0]).toBe(0.125 * sc(0) * (1 - 32));
    expect(y[32]).toBe(0.125 * sc(2) * (3 + 16 - 32));
    expect(y[64]).toBe(0.125 * sc(4) * (2 + 32 - 32));
    expect(y[96]).toBe(0.125 * sc(6) * (4 + 48 - 32));
  });
});
