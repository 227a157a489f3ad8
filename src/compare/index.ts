export {
  type CompareEvent,
  type CompareOptions,
  type ComparisonDetails,
  compareEncoders,
  runComparison,
} from "./compare.js";
export { type CompareConfig, readCompareConfig } from "./config-file.js";
export {
  type ClassFolderData,
  type ClassFolderOptions,
  isClassFolder,
  readClassFolder,
} from "./data/class-folder.js";
export { type PairData, readPairData } from "./data/pairs.js";
export { type EncoderSpec, parseEncoderList, parseEncoderSpec } from "./encoder-spec.js";
export { argmaxRows, meanPerClassRecall, perClassRecall, topKHits } from "./metrics/classification.js";
export { RETRIEVAL_KS, retrievalHits } from "./metrics/retrieval.js";
export { fitLogistic, predictLogits } from "./probe/logistic.js";
export { resultTable } from "./report/table.js";
export { writeReport } from "./report/write.js";
export { bootstrapCi, pairedBootstrap } from "./stats/bootstrap.js";
export { mcnemar, mcnemarExactP } from "./stats/mcnemar.js";
export { VLM_DEFAULTS, type VlmRecipe } from "./tasks/vlm.js";
export { DEFAULT_TEMPLATES } from "./tasks/zeroshot.js";
export {
  type CompareResult,
  type EncoderSummary,
  type PairRow,
  type ResultRow,
  TASKS,
  type TaskName,
} from "./types.js";
