/** Weight quantization passes over ONNX ModelProtos. */
export { type QuantizeCounts, quantizeDynamic, quantizeWeights } from "./dynamic-int8.js";
