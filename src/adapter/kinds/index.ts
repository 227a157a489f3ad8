export { avgpoolKind, NORM_WEIGHT, RMS_NORM_EPS, rmsNorm } from "./avgpool.js";
export { linearKind } from "./linear.js";
export {
  checkGridFeatures,
  MERGE_INDEX,
  MERGE_INVERSE_COUNT,
  mergeFeeds,
  mergeTokens,
  TokenMerger,
} from "./merge.js";
export { MLP_NAMES, mlpKind } from "./mlp.js";
export { PROJ_WEIGHT, pixelShuffleKind } from "./pixel-shuffle.js";
export { ProjectorAdapter } from "./projector-adapter.js";
export {
  adapterFromTensors,
  DEFAULT_FACTOR,
  factorProblem,
  initAdapter,
  isAdapterKind,
  kindSpec,
} from "./registry.js";
export { type BlockIndex, blockIndex, mergedGrid, tokensPerImage } from "./token-grid.js";
export {
  ADAPTER_KINDS,
  type Adapter,
  type AdapterKindName,
  type Grid,
  type KindInitOptions,
  type KindSpec,
  type ParamSpec,
} from "./types.js";
