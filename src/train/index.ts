export { AdapterLoss } from "./adapter-loss.js";
export {
  type CheckpointState,
  checkpointDir,
  checkpointDue,
  fileSha256,
  identityDifferences,
  type LoadedCheckpoint,
  loadLatestCheckpoint,
  type ResumeOptions,
  type RunIdentity,
  readCheckpoint,
  type SaveCheckpointOptions,
  saveCheckpoint,
} from "./checkpoint.js";
export {
  type BadRowPolicy,
  badRowSummary,
  Dataset,
  type DatasetFormat,
  detectFormat,
  type LoadDatasetOptions,
  loadDataset,
  readDatasetRows,
} from "./dataset.js";
export {
  GradientAccumulator,
  type StepOptions,
  shuffle,
  stepsPerEpoch,
  type TrainingStep,
  totalSteps,
  trainingSteps,
} from "./dataset-batches.js";
export { type BadRow, DEFAULT_CAPTION_PROMPT, type TrainExample } from "./dataset-rows.js";
export { type SplitBy, type SplitOptions, splitExamples, splitHash } from "./dataset-split.js";
export {
  accuracy,
  answersMatch,
  type EvaluateOptions,
  type EvaluationResult,
  evaluateAdapter,
  generateAnswers,
  type SampleAnswer,
} from "./evaluate.js";
export {
  type CachedFeatures,
  encoderIdentity,
  FeatureCache,
  type FeatureCacheOptions,
  type PrecomputeOptions,
  type PrecomputeResult,
} from "./feature-cache.js";
export { Gemma3Forward, type Gemma3ForwardOptions } from "./gemma3-forward.js";
export {
  buildGemma3Graph,
  type Gemma3Graph,
  type Gemma3GraphOptions,
  gemma3WeightShapes,
} from "./gemma3-graph.js";
export { type Gemma3Spec, gemma3SpecFromGguf } from "./gemma3-spec.js";
export {
  type LossCurveOptions,
  type LossPoint,
  lossCurveSvg,
  renderLossCurve,
  writeLossCurve,
} from "./loss-curve.js";
export { buildAdapterLossGraph } from "./loss-graph.js";
export { MetricsLog, type MetricsRecord, metricsFile, readMetrics } from "./metrics.js";
export {
  AdamW,
  type AdamWOptions,
  type AdamWState,
  adapterParamGroups,
  globalNorm,
  type ParamGroup,
  type StepResult,
} from "./optimizer.js";
export { defaultWarmupSteps, learningRate, type ScheduleOptions } from "./schedule.js";
export {
  COLOR_QUESTION,
  COLORS,
  SHAPE_QUESTION,
  SHAPES,
  type ShapeImage,
  type ShapesDataset,
  type ShapesDatasetOptions,
  type ShapeTask,
  writeShapesDataset,
} from "./synthetic.js";
export {
  TRAIN_DEFAULTS,
  type TrainEvent,
  type TrainOptions,
  type TrainResult,
  trainAdapter,
} from "./trainer.js";
