/**
 * ggml tensor types vlmkit reads or writes: ids, block sizes and byte sizes (ggml-common.h), and the
 * scalar half-precision conversions ggml uses, rounding to nearest even: fp16 through
 * @petamoriken/float16 (as src/util/float16.ts does for arrays), bf16 as ggml_compute_fp32_to_bf16.
 */
import { getFloat16, setFloat16 } from "@petamoriken/float16";
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

const half = new DataView(new ArrayBuffer(2));

/** IEEE binary16 bits of `x`, rounded to nearest even (as ggml's fp32→fp16); overflow gives ±inf. */
export function f32ToF16Bits(x: number): number {
  setFloat16(half, 0, x);
  return half.getUint16(0);
}

/** The float value of IEEE binary16 bits. */
export function f16BitsToF32(h: number): number {
  half.setUint16(0, h);
  return getFloat16(half, 0);
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
