export type { SessionOptions } from "./encoder-session.js";
export { type LogitParams, resolveLogitParams } from "./logit-params.js";
export { type EncoderConfig, type EncoderFamily, readEncoderConfig } from "./model-config.js";
export {
  type ClassifyOptions,
  type LabelScore,
  Siglip,
  type SiglipOptions,
} from "./siglip.js";
export { SiglipTextEncoder } from "./siglip-text-encoder.js";
export { checkTexts, MAX_TEXT_CHARS, MAX_TEXTS, textProblem } from "./text-input.js";
export { canonicalizeText } from "./text-rules.js";
export { SiglipTextTokenizer } from "./text-tokenizer.js";
export { dot, l2Normalize, sigmoid } from "./vectors.js";
export { type EncodeOptions, type ImageInput, VisionEncoder, type VisionFeatures } from "./vision-encoder.js";
export {
  DEFAULT_TEMPLATE,
  labelProblem,
  MAX_LABEL_CHARS,
  MAX_TEMPLATE_CHARS,
  templateProblem,
  zeroShotPrompts,
} from "./zero-shot-text.js";
