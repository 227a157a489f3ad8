export { ACCEPTED_FORMATS } from "./decode.js";
export { preprocessFixed, preprocessFixedBatch } from "./fixed.js";
export { loadImage } from "./load.js";
export {
  type IntTensor,
  type NaflexBatch,
  type NaflexImage,
  naflexTargetSize,
  preprocessNaflex,
  preprocessNaflexBatch,
} from "./naflex.js";
export {
  type FixedPreprocessorConfig,
  type NaflexPreprocessorConfig,
  type PreprocessorConfig,
  parsePreprocessorConfig,
  type Resample,
  readPreprocessorConfig,
} from "./preprocessor-config.js";
export { KERNEL_FOR_RESAMPLE, resizeRgb, type SharpKernel } from "./resize.js";
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_PIXELS,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_TIMEOUT_MS,
  type ImageSource,
  type LoadImageOptions,
  type RgbImage,
} from "./types.js";
