/**
 * ggml tensor types vlmkit reads or writes: ids, block sizes and byte sizes (ggml-common.h), and the
 * half-precision conversions ggml uses (round-to-nearest-even, as ggml_compute_fp32_to_fp16 /
 * ggml_compute_fp32_to_bf16 do).
 */
import { InvalidArgumentError, ModelFormatError } from "../errors.js";

export type GgmlTypeName = "F32" | "F16" | "BF16" | "Q4_0" | "Q8_0" | "Q4_K" | "Q5_K" | "Q6_K";

export interface GgmlTypeInfo {
  readonly name: GgmlTypeName;
  /** The `ggml_type` enum value stored in GGUF tensor infos. */
  readonly id: number;
  /** Elements per block; a row length must be a multiple of it. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

/** Super-block size of the K-quants (QK_K). */
export const QK_K = 256;

export const GGML_TYPES: Readonly<Record<GgmlTypeName, GgmlTypeInfo>> = {
  F32: { name: "F32", id: 0, blockSize: 1, blockBytes: 4 },
  F16: { name: "F16", id: 1, blockSize: 1, blockBytes: 2 },
  // { f16 d; u8 qs[16] }: 32 4-bit quants, low nibbles = elements 0..15, high = 16..31
  Q4_0: { name: "Q4_0", id: 2, blockSize: 32, blockBytes: 18 },
  // { f16 d; i8 qs[32] }
  Q8_0: { name: "Q8_0", id: 8, blockSize: 32, blockBytes: 34 },
  // { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }
  Q4_K: { name: "Q4_K", id: 12, blockSize: QK_K, blockBytes: 144 },
  // { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }
  Q5_K: { name: "Q5_K", id: 13, blockSize: QK_K, blockBytes: 176 },
  // { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }
  Q6_K: { name: "Q6_K", id: 14, blockSize: QK_K, blockBytes: 210 },
  BF16: { name: "BF16", id: 30, blockSize: 1, blockBytes: 2 },
};

const BY_ID = new Map<number, GgmlTypeInfo>(Object.values(GGML_TYPES).map((t) => [t.id, t]));

/** Type info for a ggml type id; throws ModelFormatError naming the id for types vlmkit cannot decode. */
export function ggmlTypeById(id: number): GgmlTypeInfo {
  const info = BY_ID.get(id);
  if (!info) {
    const known = Object.values(GGML_TYPES)
      .map((t) => `${t.name}=${t.id}`)
      .join(", ");
    throw new ModelFormatError(`unsupported ggml tensor type id ${id}; supported: ${known}`);
  }
  return info;
}

export function ggmlTypeByName(name: string): GgmlTypeInfo {
  const info = (GGML_TYPES as Record<string, GgmlTypeInfo>)[name.toUpperCase()];
  if (!info) {
    throw new InvalidArgumentError(
      `unknown ggml tensor type "${name}"; expected one of ${Object.keys(GGML_TYPES).join(", ")}`,
    );
  }
  return info;
}

/** Bytes taken by `n` consecutive elements (a row); `n` must be a multiple of the block size. */
export function ggmlRowBytes(type: GgmlTypeInfo, n: number): number {
  if (n % type.blockSize !== 0) {
    throw new InvalidArgumentError(
      `a ${type.name} row needs a length that is a multiple of ${type.blockSize}, got ${n}`,
    );
  }
  return (n / type.blockSize) * type.blockBytes;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of `x`, rounded to nearest even; overflow gives ±inf, NaN stays NaN. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit-one mantissa into place, then round.
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** The float value of IEEE binary16 bits. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits of `x`, rounded to nearest even (NaN forced quiet), as ggml does. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 64) & 0xffff;
  return ((b + (0x7fff + ((b >>> 16) & 1))) >>> 16) & 0xffff;
}

/** The float value of bfloat16 bits (the high half of a float32). */
export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** Lookup table for all 65536 half values, built on first use: decoding F16 data is a hot loop. */
let f16Table: Float32Array | undefined;
export function f16Table65536(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}
