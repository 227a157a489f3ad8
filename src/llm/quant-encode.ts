/**
 * Float32 → ggml encodings the GGUF writer produces: F32, F16, BF16, Q8_0 and Q4_0.
 *
 * Q8_0 and Q4_0 follow ggml's reference quantizers (`quantize_row_q8_0_ref`, `quantize_row_q4_0_ref`
 * in ggml/src/ggml-quants.c) step by step in float32 arithmetic (`Math.fround`), so a file written
 * here holds the same bytes llama.cpp's own quantizer would write for the same floats.
 */
import { InvalidArgumentError } from "../errors.js";
import { f32ToBf16Bits, f32ToF16Bits, type GgmlTypeInfo, ggmlRowBytes } from "./quant.js";

const fr = Math.fround;
/** GGUF data is little-endian; on such hosts float32 arrays can be copied as bytes. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Names of the types `quantizeRow` can produce. */
export type WritableGgmlType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0";

/** C `roundf`: halves round away from zero (Math.round rounds them up). */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * Encodes `src` into `dst` as `type`. `src.length` must be a multiple of the type's block size and
 * `dst` must hold exactly `ggmlRowBytes(type, src.length)` bytes.
 */
export function quantizeRow(type: GgmlTypeInfo, src: Float32Array, dst: Uint8Array): void {
  const bytes = ggmlRowBytes(type, src.length);
  if (dst.length !== bytes) {
    throw new InvalidArgumentError(
      `quantizeRow: ${type.name} of ${src.length} values needs ${bytes} bytes, got ${dst.length}`,
    );
  }
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  switch (type.name) {
    case "F32":
      if (LITTLE_ENDIAN) dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
      else for (let i = 0; i < src.length; i++) view.setFloat32(i * 4, src[i], true);
      return;
    case "F16":
      for (let i = 0; i < src.length; i++) view.setUint16(i * 2, f32ToF16Bits(src[i]), true);
      return;
    case "BF16":
      for (let i = 0; i < src.length; i++) view.setUint16(i * 2, f32ToBf16Bits(src[i]), true);
      return;
    case "Q8_0":
      quantizeQ8_0(src, dst, view);
      return;
    case "Q4_0":
      quantizeQ4_0(src, dst, view);
      return;
    default:
      throw new InvalidArgumentError(`quantizeRow: writing ${type.name} is not supported`);
  }
}

// block: f16 d, then 32 × int8 q; x ≈ d·q with d = amax/127.
function quantizeQ8_0(src: Float32Array, dst: Uint8Array, view: DataView): void {
  for (let b = 0, o = 0; b < src.length; b += 32, o += 34) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[b + j]));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    view.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < 32; j++) dst[o + 2 + j] = roundf(fr(src[b + j] * id)) & 0xff; // int8 two's complement
  }
}

// block: f16 d, then 16 bytes; byte j holds element j (low nibble) and j+16 (high nibble);
// x ≈ d·(q − 8) with d = (signed value of largest magnitude) / −8.
function quantizeQ4_0(src: Float32Array, dst: Uint8Array, view: DataView): void {
  for (let b = 0, o = 0; b < src.length; b += 32, o += 18) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = src[b + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    view.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < 16; j++) {
      // (int8_t) truncates toward zero; the operand is ≥ 0.5 here.
      const q0 = Math.min(15, Math.trunc(fr(fr(src[b + j] * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(fr(fr(src[b + 16 + j] * id) + 8.5)));
      dst[o + 2 + j] = q0 | (q1 << 4);
    }
  }
}
