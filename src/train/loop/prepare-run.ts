/**
 * The first step of a training run: everything the optimizer steps need, loaded once. The dataset,
 * the encoder (unless given loaded), the LLM (for sample answers) and its training graph, the examples
 * with their cached features, the run's identity, and the start state: a fresh adapter, or the newest
 * checkpoint of the same run when resuming.
 */
import fs from "node:fs";
import { type Adapter, initAdapter, kindSpec } from "../../adapter/index.js";
import { TokenMerger } from "../../adapter/kinds/merge.js";
import { VisionEncoder } from "../../encoders/index.js";
import { Llm } from "../../llm/llm.js";
import type { PairingInput } from "../../vlm/pairing-card.js";
import { type Dataset, loadDataset } from "../data/dataset.js";
import { totalSteps } from "../data/dataset-batches.js";
import { FeatureCache } from "../data/feature-cache.js";
import { type PreparedData, prepareExamples } from "../data/prepare-examples.js";
import { AdapterLoss } from "../model/adapter-loss.js";
import { fileSha256, type LoadedCheckpoint, loadLatestCheckpoint, type RunIdentity } from "./checkpoint.js";
import { MetricsLog } from "./metrics.js";
import { AdamW, adapterParamGroups } from "./optimizer.js";
import type { TrainSettings } from "./trainer.js";

/** A run ready to step: its parts, data and start state. `dispose` frees what the run loaded. */
export interface PreparedRun {
  settings: TrainSettings;
  dataset: Dataset;
  /**
   * Training and validation examples: token layouts with their image tokens, [N, Dv] features for the
   * per-patch kinds, merged [M, W] tokens for pixel-shuffle and avgpool (merged once, here).
   */
  data: PreparedData;
  encoder: VisionEncoder;
  llm: Llm;
  loss: AdapterLoss;
  /** What the adapter card records about the encoder + LLM pairing. */
  pairing: PairingInput;
  /** What a checkpoint must match to be resumed. */
  identity: RunIdentity;
  /** Optimizer steps of the whole run. */
  totalSteps: number;
  /** The adapter being trained, updated in place by `optimizer`. */
  adapter: Adapter;
  optimizer: AdamW;
  /** Where the shuffled steps continue: the epoch and the examples of it already used. */
  from: { epoch: number; position: number };
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  metrics: MetricsLog;
  dispose(): Promise<void>;
}

export async function prepareRun(settings: TrainSettings): Promise<PreparedRun> {
  const s = settings;
  const dataset = await loadDataset(s.data, {
    onBadRow: s.onBadRow,
    allowOutsidePaths: s.allowOutsidePaths,
    valFraction: s.valFraction,
    valFile: s.valFile,
    seed: s.seed,
    onReport: s.onReport,
  });
  // What this run loads, freed in reverse order.
  const owned: Array<{ dispose(): Promise<void> }> = [];
  const dispose = async () => {
    for (const part of owned.splice(0).reverse()) await part.dispose();
  };
  try {
    let encoder: VisionEncoder;
    if (typeof s.encoder === "string") {
      encoder = await VisionEncoder.load(s.encoder, { threads: s.threads, dtype: s.encoderDtype });
      owned.push(encoder);
    } else encoder = s.encoder;
    const llm = await Llm.load(s.llm, { contextSize: 2048, threads: s.llmThreads ?? 1 });
    owned.push(llm);
    const cache = await FeatureCache.open(encoder, { dir: s.featureCacheDir });
    const merger = new TokenMerger(kindSpec(s.adapterKind), s.pool, encoder.hiddenSize, {
      threads: s.threads,
    });
    owned.push(merger);
    const data = await prepareExamples(dataset, cache, {
      merge: (patches, grid) => merger.merge(patches, grid),
      style: s.style,
      attention: s.attention,
      tokenize: (text, special) => llm.model.tokenize(text, { parseSpecial: special }),
      onProgress: (done, total) => s.onEvent({ kind: "features", done, total }),
      signal: s.signal,
    });
    const loss = await AdapterLoss.load(s.llm, { threads: s.threads, signal: s.signal });
    owned.push(loss);

    const identity: RunIdentity = {
      dataset: await fileSha256(dataset.source),
      valFile: s.valFile ? await fileSha256(s.valFile) : "",
      encoder: cache.encoderKey,
      llm: `${llm.identity.architecture}:${llm.identity.nEmbd}:${llm.identity.vocabFingerprint}:${fs.statSync(s.llm).size}`,
      style: s.style,
      attention: s.attention,
      adapter: `${s.adapterKind}:${s.pool}`,
      epochs: s.epochs,
      lr: s.lr,
      batchSize: s.batchSize,
      gradAccum: s.gradAccum,
      valFraction: s.valFraction,
      seed: s.seed,
    };
    const checkpoint = s.resume ? await resumePoint(s, identity) : undefined;
    const adapter =
      checkpoint?.adapter ??
      initAdapter(s.adapterKind, {
        factor: s.pool,
        inputSize: encoder.hiddenSize,
        outputSize: loss.spec.embedding,
        seed: s.seed,
        targetRms: loss.tokenEmbeddingRms(),
        inputRms: (await data.inputRms()) || 1,
      });
    owned.push(adapter); // sample answers apply it through Vlm, which leaves a passed-in adapter to us
    const optimizer = new AdamW(adapterParamGroups(adapter), {
      weightDecay: s.weightDecay,
      maxGradNorm: s.maxGradNorm,
    });
    if (checkpoint) optimizer.load(checkpoint.optimizer);
    const resumedFrom = checkpoint?.step ?? 0;

    await fs.promises.mkdir(s.out, { recursive: true });
    const metrics = await MetricsLog.open(s.out, resumedFrom > 0 ? { resumeStep: resumedFrom } : {});
    const steps = totalSteps(data.train.length, { batchSize: s.batchSize * s.gradAccum, epochs: s.epochs });
    s.onEvent({
      kind: "start",
      totalSteps: steps,
      startStep: resumedFrom,
      train: data.train.length,
      val: data.val.length,
    });
    return {
      settings: s,
      dataset,
      data,
      encoder,
      llm,
      loss,
      pairing: {
        encoder,
        llm: llm.identity,
        style: s.style,
        attention: s.attention,
        adapter: { kind: s.adapterKind, factor: s.pool },
      },
      identity,
      totalSteps: steps,
      adapter,
      optimizer,
      from: checkpoint
        ? { epoch: checkpoint.epoch, position: checkpoint.position }
        : { epoch: 0, position: 0 },
      resumedFrom,
      metrics,
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** The newest checkpoint of this run in `out` (reported as resumed), or undefined to start at step 0. */
async function resumePoint(s: TrainSettings, identity: RunIdentity): Promise<LoadedCheckpoint | undefined> {
  const checkpoint = await loadLatestCheckpoint(s.out, { identity, onReport: s.onReport });
  if (checkpoint) s.onEvent({ kind: "resumed", step: checkpoint.step, file: checkpoint.file });
  else s.onReport(`no checkpoint in ${s.out}; starting from step 0`);
  return checkpoint;
}
