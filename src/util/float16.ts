/** float32 ↔ IEEE 754 half conversion over whole arrays (round to nearest even), via @petamoriken/float16. */
import { Float16Array } from "@petamoriken/float16";

/** Float32Array → raw half bits (what ONNX `raw_data`, GGUF F16 and onnxruntime float16 tensors hold). */
export function float32ToFloat16(data: Float32Array): Uint16Array {
  const half = new Float16Array(data);
  return new Uint16Array(half.buffer, half.byteOffset, half.length);
}

/** Raw half bits → Float32Array. */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  return Float32Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length));
}
