/** Graph rewrites into onnxruntime's fused contrib ops, and their content-keyed cache. */
export { modelHash, OPTIMIZER_VERSION, type OptimizedFile, optimizedModelFile } from "./cache.js";
export { type FusionCounts, optimizeModel } from "./optimize.js";
