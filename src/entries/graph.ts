/** `vlmkit/graph`: the typed ONNX graph builder, reverse-mode autodiff, ONNX reading and
 * writing, the fused-op rewrite and dynamic int8 quantization of ONNX files. */
export * from "../graph/index.js";
