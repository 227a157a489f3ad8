export { formatPlan } from "./format.js";
export {
  type ChatContentPart,
  type ChatMessage,
  type GemmaChatPromptOptions,
  gemmaChatPrompt,
  gemmaChatTrainingLayout,
} from "./gemma-chat.js";
export { IMAGE_PLACEHOLDER } from "./images.js";
export {
  type PaligemmaPromptOptions,
  type PaligemmaTrainingOptions,
  paligemmaPrompt,
  paligemmaTrainingLayout,
} from "./paligemma.js";
export { buildPrompt, buildTrainingLayout, checkPrompt, type PromptRequest } from "./plan.js";
export { defaultAttention, styleAttention } from "./style.js";
export { resolveTokenLayout, type TokenLayout, type TokenRange } from "./token-layout.js";
export type {
  AttentionMode,
  ImageSegment,
  PromptPlan,
  PromptSegment,
  PromptStyle,
  SegmentRange,
  TextSegment,
  TrainingLayout,
} from "./types.js";
