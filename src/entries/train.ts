/**
 * `vlmkit/train`: train an adapter with the LLM frozen, evaluate it, read datasets, write the
 * synthetic shapes dataset. The training graph, optimizer and checkpoint internals stay private.
 */
export {
  type BadRow,
  type BadRowPolicy,
  Dataset,
  type DatasetFormat,
  type DatasetSide,
  type EvaluateOptions,
  type EvaluationResult,
  evaluateAdapter,
  FeatureCache,
  type FeatureCacheOptions,
  type LoadDatasetOptions,
  loadDataset,
  readMetrics,
  type SampleAnswer,
  TRAIN_DEFAULTS,
  type TrainEvent,
  type TrainExample,
  type TrainOptions,
  type TrainResult,
  trainAdapter,
  writeShapesDataset,
} from "../train/index.js";
