/**
 * Typed ONNX graph builder: build with `Graph`, differentiate with `gradients`, write with `saveModel`,
 * read back with `readModel`. Passes over existing files: `optimizeModel` (fused onnxruntime ops) and
 * `quantizeDynamic` (dynamic int8).
 */

export { float16ToFloat32, float32ToFloat16 } from "../util/float16.js";
export { writeFileAtomic } from "../util/fs.js";
export { DIFFERENTIABLE_OPS, type GradientOptions, gradients } from "./autodiff.js";
export { Graph, ONNX_DTYPE, type Operand } from "./graph.js";
export {
  type FusionCounts,
  modelHash,
  type OptimizedFile,
  optimizedModelFile,
  optimizeModel,
} from "./optimize/index.js";
export { type QuantizeCounts, quantizeDynamic, quantizeWeights } from "./quantize/index.js";
export { initializerMap, readModel, tensorValues } from "./read.js";
export {
  type ModelOptions,
  type SaveOptions,
  saveModel,
  saveModelProto,
  serializeModel,
  toModelProto,
} from "./serialize.js";
export { broadcast, matmulShape, reshapeShape } from "./shape.js";
export {
  type Attr,
  attr,
  type Dim,
  type DType,
  formatShape,
  type InitializerData,
  type Node,
  type Shape,
  type Value,
} from "./types.js";
