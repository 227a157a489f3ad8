/**
 * ONNX weight variants as transformers.js names them (`src/utils/dtypes.js`, DEFAULT_DTYPE_SUFFIX_MAPPING):
 * `onnx/vision_model.onnx` is fp32, `onnx/vision_model_fp16.onnx` is fp16, and so on.
 */
import { InvalidArgumentError } from "../errors.js";

export const ONNX_DTYPES = ["fp32", "fp16", "q8", "int8", "uint8", "q4", "q4f16", "bnb4"] as const;
export type OnnxDtype = (typeof ONNX_DTYPES)[number];

const SUFFIX: Record<OnnxDtype, string> = {
  fp32: "",
  fp16: "_fp16",
  q8: "_quantized",
  int8: "_int8",
  uint8: "_uint8",
  q4: "_q4",
  q4f16: "_q4f16",
  bnb4: "_bnb4",
};

export function isOnnxDtype(value: string): value is OnnxDtype {
  return (ONNX_DTYPES as readonly string[]).includes(value);
}

/** Validates a user-supplied dtype name; the error lists the accepted ones. */
export function parseOnnxDtype(value: string): OnnxDtype {
  if (!isOnnxDtype(value)) {
    throw new InvalidArgumentError(`unknown dtype "${value}"; expected one of ${ONNX_DTYPES.join(", ")}`, {
      details: { dtype: value },
    });
  }
  return value;
}

/** `onnx/vision_model` + `q8` → `onnx/vision_model_quantized.onnx`. */
export function onnxFileName(base: string, dtype: OnnxDtype): string {
  return `${base}${SUFFIX[dtype]}.onnx`;
}

/** ONNX external weights sit next to the graph as `<name>.onnx_data` (transformers.js `model-loader.js`). */
export function externalDataName(onnxFile: string): string {
  return `${onnxFile}_data`;
}
