// The public API of vlmkit: one barrel, one import.
export * from "./encoders/index.js";
export * from "./errors.js";
export * from "./hub/index.js";
export * from "./image/index.js";
export { assertDims, numel, type Tensor, tensor, zeros } from "./tensor.js";
