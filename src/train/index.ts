export {
  type BadRowPolicy,
  badRowSummary,
  Dataset,
  type DatasetFormat,
  DatasetSide,
  detectFormat,
  type LoadDatasetOptions,
  loadDataset,
  readDatasetRows,
} from "./data/dataset.js";
export {
  GradientAccumulator,
  type StepOptions,
  shuffle,
  stepsPerEpoch,
  type TrainingStep,
  totalSteps,
  trainingSteps,
} from "./data/dataset-batches.js";
export { type BadRow, DEFAULT_CAPTION_PROMPT, type TrainExample } from "./data/dataset-rows.js";
export {
  type SplitBy,
  type SplitOptions,
  SplitPlan,
  splitExamples,
  splitHash,
} from "./data/dataset-split.js";
export {
  type CachedFeatures,
  encoderIdentity,
  FeatureCache,
  type FeatureCacheOptions,
  type PrecomputeOptions,
  type PrecomputeResult,
} from "./data/feature-cache.js";
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
} from "./data/synthetic.js";
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
} from "./loop/checkpoint.js";
export {
  accuracy,
  answersMatch,
  type EvaluateOptions,
  type EvaluationResult,
  evaluateAdapter,
  generateAnswers,
  type SampleAnswer,
} from "./loop/evaluate.js";
export {
  type LossCurveOptions,
  type LossPoint,
  lossCurveSvg,
  renderLossCurve,
  writeLossCurve,
} from "./loop/loss-curve.js";
export { MetricsLog, type MetricsRecord, metricsFile, readMetrics } from "./loop/metrics.js";
export {
  AdamW,
  type AdamWOptions,
  type AdamWState,
  adapterParamGroups,
  globalNorm,
  type ParamGroup,
  type StepResult,
} from "./loop/optimizer.js";
export { defaultWarmupSteps, learningRate, type ScheduleOptions } from "./loop/schedule.js";
export {
  TRAIN_DEFAULTS,
  type TrainEvent,
  type TrainOptions,
  type TrainResult,
  trainAdapter,
} from "./loop/trainer.js";
export { AdapterLoss } from "./model/adapter-loss.js";
export { Gemma3Forward, type Gemma3ForwardOptions } from "./model/gemma3-forward.js";
export {
  buildGemma3Graph,
  type Gemma3Graph,
  type Gemma3GraphOptions,
  gemma3WeightShapes,
} from "./model/gemma3-graph.js";
export { type Gemma3Spec, gemma3SpecFromGguf } from "./model/gemma3-spec.js";
export { buildAdapterLossGraph } from "./model/loss-graph.js";
