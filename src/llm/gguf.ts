/** GGUF files: write (F32/F16/BF16/Q8_0/Q4_0), read and dequantize (adds Q4_K/Q5_K/Q6_K). See docs/gguf.md. */
export { GgufReader, type GgufReadOptions, type GgufTensorEntry, withGguf } from "./gguf-read.js";
export {
  type GgufScalar,
  type GgufScalarType,
  type GgufTensorSpec,
  type GgufValue,
  kv,
  type WriteGgufOptions,
  type WriteGgufResult,
  writeGguf,
} from "./gguf-write.js";
export {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  GGML_TYPES,
  type GgmlTypeInfo,
  type GgmlTypeName,
  ggmlRowBytes,
  ggmlTypeById,
  ggmlTypeByName,
  QK_K,
} from "./quant.js";
export { dequantizeRow } from "./quant-decode.js";
export { quantizeRow, type WritableGgmlType } from "./quant-encode.js";
