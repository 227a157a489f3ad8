/** `vlmkit/graph`: the typed ONNX graph builder, reverse-mode autodiff, ONNX reading and writing. */
export * from "../graph/index.js";
