/**
 * ggml encodings → float32 for every type in `GGML_TYPES`. Block layouts are those of ggml-common.h;
 * the arithmetic follows ggml's `dequantize_row_*` (ggml/src/ggml-quants.c) in float32 steps
 * (`Math.fround`), so rows come out as llama.cpp's CPU `get_rows` produces them.
 */
import { InvalidArgumentError } from "../errors.js";
import { bf16BitsToF32, f16Table65536, type GgmlTypeInfo, ggmlRowBytes } from "./quant.js";

const fr = Math.fround;
/** GGUF data is little-endian; on such hosts aligned F32 data can be viewed directly. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes `dst.length` values of `type` from `src` (exactly `ggmlRowBytes(type, dst.length)` bytes)
 * into `dst`.
 */
export function dequantizeRow(type: GgmlTypeInfo, src: Uint8Array, dst: Float32Array): void {
  const bytes = ggmlRowBytes(type, dst.length);
  if (src.length !== bytes) {
    throw new InvalidArgumentError(
      `dequantizeRow: ${dst.length} ${type.name} values take ${bytes} bytes, got ${src.length}`,
    );
  }
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (type.name) {
    case "F32":
      if (LITTLE_ENDIAN && src.byteOffset % 4 === 0)
        dst.set(new Float32Array(src.buffer, src.byteOffset, dst.length));
      else for (let i = 0; i < dst.length; i++) dst[i] = view.getFloat32(i * 4, true);
      return;
    case "F16": {
      const t = f16Table65536();
      for (let i = 0; i < dst.length; i++) dst[i] = t[view.getUint16(i * 2, true)];
      return;
    }
    case "BF16":
      for (let i = 0; i < dst.length; i++) dst[i] = bf16BitsToF32(view.getUint16(i * 2, true));
      return;
    case "Q8_0":
      decodeQ8_0(view, dst);
      return;
    case "Q4_0":
      decodeQ4_0(src, view, dst);
      return;
    case "Q4_K":
      decodeQ4_K(src, view, dst);
      return;
    case "Q5_K":
      decodeQ5_K(src, view, dst);
      return;
    case "Q6_K":
      decodeQ6_K(src, view, dst);
      return;
  }
}

function half(view: DataView, offset: number): number {
  return f16Table65536()[view.getUint16(offset, true)];
}

// { f16 d; i8 qs[32] }: y = d·q
function decodeQ8_0(view: DataView, dst: Float32Array): void {
  for (let o = 0, y = 0; y < dst.length; o += 34, y += 32) {
    const d = half(view, o);
    for (let j = 0; j < 32; j++) dst[y + j] = fr(view.getInt8(o + 2 + j) * d);
  }
}

// { f16 d; u8 qs[16] }: element j in the low nibble of byte j, element j+16 in its high nibble;
// y = d·(q − 8)
function decodeQ4_0(src: Uint8Array, view: DataView, dst: Float32Array): void {
  for (let o = 0, y = 0; y < dst.length; o += 18, y += 32) {
    const d = half(view, o);
    for (let j = 0; j < 16; j++) {
      const b = src[o + 2 + j];
      dst[y + j] = fr(((b & 0x0f) - 8) * d);
      dst[y + 16 + j] = fr(((b >> 4) - 8) * d);
    }
  }
}

/**
 * The 6-bit scale and min of sub-block `j` (0..7) from the 12 packed bytes at `q`
 * (ggml's get_scale_min_k4): sub-blocks 0–3 use the low 6 bits of bytes 0–7, sub-blocks 4–7 take
 * their low 4 bits from bytes 8–11 and their top 2 bits from the high bits of bytes 0–7.
 */
function scaleMinK4(src: Uint8Array, q: number, j: number, out: Int32Array): void {
  if (j < 4) {
    out[0] = src[q + j] & 63;
    out[1] = src[q + j + 4] & 63;
  } else {
    out[0] = (src[q + j + 4] & 0x0f) | ((src[q + j - 4] >> 6) << 4);
    out[1] = (src[q + j + 4] >> 4) | ((src[q + j] >> 6) << 4);
  }
}

const sm = new Int32Array(2);

// { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }: 8 sub-blocks of 32; per 64 values the low nibbles
// of 32 bytes give the first 32, the high nibbles the next 32; y = d·sc·q − dmin·m
function decodeQ4_K(src: Uint8Array, view: DataView, dst: Float32Array): void {
  for (let o = 0, y = 0; y < dst.length; o += 144) {
    const d = half(view, o);
    const dmin = half(view, o + 2);
    let q = o + 16;
    for (let is = 0; is < 8; is += 2, q += 32) {
      scaleMinK4(src, o + 4, is, sm);
      const d1 = fr(d * sm[0]);
      const m1 = fr(dmin * sm[1]);
      scaleMinK4(src, o + 4, is + 1, sm);
      const d2 = fr(d * sm[0]);
      const m2 = fr(dmin * sm[1]);
      for (let l = 0; l < 32; l++) dst[y++] = fr(fr(d1 * (src[q + l] & 0x0f)) - m1);
      for (let l = 0; l < 32; l++) dst[y++] = fr(fr(d2 * (src[q + l] >> 4)) - m2);
    }
  }
}

// { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }: Q4_K plus a fifth bit per value from
// qh, bit pair (2k, 2k+1) for the k-th group of 64.
function decodeQ5_K(src: Uint8Array, view: DataView, dst: Float32Array): void {
  for (let o = 0, y = 0; y < dst.length; o += 176) {
    const d = half(view, o);
    const dmin = half(view, o + 2);
    const qh = o + 16;
    let ql = o + 48;
    let u1 = 1;
    let u2 = 2;
    for (let is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
      scaleMinK4(src, o + 4, is, sm);
      const d1 = fr(d * sm[0]);
      const m1 = fr(dmin * sm[1]);
      scaleMinK4(src, o + 4, is + 1, sm);
      const d2 = fr(d * sm[0]);
      const m2 = fr(dmin * sm[1]);
      for (let l = 0; l < 32; l++) {
        dst[y++] = fr(fr(d1 * ((src[ql + l] & 0x0f) + (src[qh + l] & u1 ? 16 : 0))) - m1);
      }
      for (let l = 0; l < 32; l++) {
        dst[y++] = fr(fr(d2 * ((src[ql + l] >> 4) + (src[qh + l] & u2 ? 16 : 0))) - m2);
      }
    }
  }
}

// { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: 6-bit quants (4 low bits in ql, 2 high in qh),
// 16 sub-blocks of 16 with int8 scales; y = d·sc·(q − 32). Two halves of 128 values each.
function decodeQ6_K(src: Uint8Array, view: DataView, dst: Float32Array): void {
  for (let o = 0, y = 0; y < dst.length; o += 210, y += 256) {
    const d = half(view, o + 208);
    for (let n = 0; n < 2; n++) {
      const ql = o + n * 64;
      const qh = o + 128 + n * 32;
      const sc = o + 192 + n * 8;
      const yb = y + n * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l];
        const q1 = ((src[ql + l] & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32] & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        dst[yb + l] = fr(fr(d * view.getInt8(sc + is)) * q1);
        dst[yb + l + 32] = fr(fr(d * view.getInt8(sc + is + 2)) * q2);
        dst[yb + l + 64] = fr(fr(d * view.getInt8(sc + is + 4)) * q3);
        dst[yb + l + 96] = fr(fr(d * view.getInt8(sc + is + 6)) * q4);
      }
    }
  }
}
