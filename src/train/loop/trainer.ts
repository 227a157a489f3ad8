/**
 * Trains an adapter (any kind: linear, mlp, pixel-shuffle, avgpool) through the frozen LLM:
 *
 *   dataset rows ─ FeatureCache (encoder once per image) ─▶ features [N, Dv]
 *   ─ TokenMerger (pixel-shuffle / avgpool only, once per image) ─▶ tokens [M, W]
 *   ─ AdapterLoss (adapter head → gemma3 ONNX graph → answer-token cross-entropy, ∂/∂ each parameter)
 *   ─ gradient accumulation ─ AdamW (warmup + cosine) ─▶ adapter
 *
 * with seeded shuffling, atomic checkpoints and `resume`, validation loss and sample answers through
 * the real inference path (`Vlm` on llama.cpp) every epoch, `metrics.jsonl` + `loss.png`, and the final
 * adapter saved with its card. Everything lands in `out`: adapter.json, adapter.safetensors,
 * metrics.jsonl, loss.png, checkpoints/.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type Adapter,
  type AdapterKindName,
  DEFAULT_FACTOR,
  factorProblem,
  initAdapter,
  kindSpec,
  saveAdapter,
} from "../../adapter/index.js";
import { TokenMerger } from "../../adapter/kinds/merge.js";
import { VisionEncoder } from "../../encoders/index.js";
import { InvalidArgumentError, throwIfAborted } from "../../errors.js";
import type { OnnxDtype } from "../../hub/dtypes.js";
import { Llm } from "../../llm/llm.js";
import type { AttentionMode, PromptStyle } from "../../prompt/index.js";
import { cardForPairing } from "../../vlm/pairing-card.js";
import { Vlm } from "../../vlm.js";
import { type BadRowPolicy, loadDataset } from "../data/dataset.js";
import { GradientAccumulator, totalSteps, trainingSteps } from "../data/dataset-batches.js";
import type { TrainExample } from "../data/dataset-rows.js";
import { defaultAttention } from "../data/example-layout.js";
import { FeatureCache } from "../data/feature-cache.js";
import { featureRms, prepareExamples } from "../data/prepare-examples.js";
import { AdapterLoss, type LossExample } from "../model/adapter-loss.js";
import {
  checkpointDue,
  fileSha256,
  loadLatestCheckpoint,
  type RunIdentity,
  saveCheckpoint,
} from "./checkpoint.js";
import { accuracy, generateAnswers, meanLoss, type SampleAnswer } from "./evaluate.js";
import { writeLossCurve } from "./loss-curve.js";
import { MetricsLog } from "./metrics.js";
import { AdamW, adapterParamGroups, gradientsInOrder } from "./optimizer.js";
import { learningRate } from "./schedule.js";

/** The defaults, tuned on the synthetic shapes dataset (a few hundred rows) with the tiny models. */
export const TRAIN_DEFAULTS = {
  style: "paligemma" as PromptStyle,
  epochs: 10,
  lr: 3e-2,
  batchSize: 8,
  gradAccum: 1,
  valFraction: 0.1,
  checkpointEvery: 50,
  seed: 0,
  weightDecay: 0.01,
  maxGradNorm: 1,
  samples: 3,
  evalEvery: 0,
};

export interface TrainOptions {
  /** Dataset: a `.jsonl` file, a LLaVA `.json` file or an imagefolder directory (`loadDataset`). */
  data: string;
  /** Encoder directory (public ONNX export layout), or a loaded encoder. */
  encoder: string | VisionEncoder;
  /** The encoder's weight variant (which ONNX file is loaded and enters the feature-cache key). Default "fp32". */
  encoderDtype?: OnnxDtype;
  /** gemma3 GGUF path. */
  llm: string;
  /** Output directory: the adapter, metrics.jsonl, loss.png and checkpoints/. */
  out: string;
  /** The adapter kind. Default "linear". */
  adapterKind?: AdapterKindName;
  /**
   * Merge factor of pixel-shuffle (r) and avgpool (k): r² / k² patches per image token. Default 2 for
   * pixel-shuffle, 4 for avgpool; the per-patch kinds take none (1).
   */
  pool?: number;
  /** Prompt style the adapter is trained for. Default "paligemma". */
  style?: PromptStyle;
  /** Attention mode. Default: the style's ("prefix-lm" for paligemma, "bidirectional-image" for gemma-chat). */
  attention?: AttentionMode;
  /** Passes over the training rows. Default 10. */
  epochs?: number;
  /** Peak learning rate of AdamW (after warmup, before the cosine decay). Default 3e-2. */
  lr?: number;
  /** Examples per micro-batch. Default 8. */
  batchSize?: number;
  /** Micro-batches per optimizer step (examples per step = batchSize · gradAccum). Default 1. */
  gradAccum?: number;
  /** Linear warmup steps. Default 5 % of the steps (`defaultWarmupSteps`). */
  warmupSteps?: number;
  /** AdamW decoupled weight decay on W (none on b). Default 0.01. */
  weightDecay?: number;
  /** Clip gradients to this global norm. Default 1. */
  maxGradNorm?: number;
  /** Share of rows held out for validation (when no `valFile`). Default 0.1. */
  valFraction?: number;
  /** A separate validation dataset. Default none (hold out `valFraction`). */
  valFile?: string;
  /** Validate every this many steps; 0 = at the end of each epoch. Default 0. */
  evalEvery?: number;
  /** Sample answers generated through the real inference path at each validation. Default 3. */
  samples?: number;
  /** Write a checkpoint every this many optimizer steps (and after the last). Default 50. */
  checkpointEvery?: number;
  /** Continue from the newest valid checkpoint in `out` (refused when it belongs to another run). Default false. */
  resume?: boolean;
  /** What a bad dataset row does. Default "skip". */
  onBadRow?: BadRowPolicy;
  /** Seed of the validation split, the shuffle and the adapter's initial weights. Default 0. */
  seed?: number;
  /** Feature cache root. Default `<$VLMKIT_CACHE or ~/.cache/vlmkit>/features`. */
  featureCacheDir?: string;
  /** onnxruntime threads. Default physical cores. */
  threads?: number;
  /**
   * llama.cpp threads for the sample answers. Default 1: a few short generations, and one thread
   * does not fight onnxruntime's pool for the cores (two threads decoded 5–10× slower on a busy
   * 2-core machine).
   */
  llmThreads?: number;
  /** Progress events (features, steps, validation, checkpoints). */
  onEvent?: (event: TrainEvent) => void;
  /** Messages about skipped rows and checkpoints. Default: stderr. */
  onReport?: (message: string) => void;
  signal?: AbortSignal;
}

export type TrainEvent =
  | { kind: "features"; done: number; total: number }
  | { kind: "start"; totalSteps: number; startStep: number; train: number; val: number }
  | { kind: "step"; step: number; totalSteps: number; epoch: number; loss: number; lr: number }
  | { kind: "validation"; step: number; valLoss: number; samples: SampleAnswer[] }
  | { kind: "checkpoint"; step: number; file: string }
  | { kind: "resumed"; step: number; file: string };

export interface TrainResult {
  /** The adapter directory (= `out`). */
  adapterDir: string;
  /** Optimizer steps of the whole run. */
  steps: number;
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  trainExamples: number;
  valExamples: number;
  /** Mean training loss of the last step. */
  finalLoss: number;
  /** Validation loss of the untrained adapter (NaN without validation rows, or when resumed). */
  initialValLoss: number;
  /** Validation loss at the end (NaN without validation rows). */
  finalValLoss: number;
  /** The last sample answers. */
  samples: SampleAnswer[];
  /** Share of the last samples that were exactly right. */
  sampleAccuracy: number;
  /** Images encoded in this run (the rest came from the feature cache). */
  imagesEncoded: number;
  seconds: number;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new InvalidArgumentError(`${name} ${v}; expected a positive integer`);
}

function report(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * Trains an adapter for an encoder + LLM pair and saves it (with its card) in `out`.
 *
 * @example
 * ```ts
 * import { trainAdapter } from "vlmkit";
 *
 * const result = await trainAdapter({
 *   data: "shapes/data.jsonl", // or a LLaVA .json file, or an imagefolder directory
 *   encoder: "models/demo/siglip2",
 *   llm: "models/demo/shapes/gemma3.gguf",
 *   out: "my-adapter",
 *   epochs: 3,
 *   onEvent: (e) => e.kind === "step" && console.log(e.step, e.loss),
 * });
 * console.log(result.finalValLoss, result.sampleAccuracy); // then Vlm.load({ adapter: "my-adapter", ... })
 * ```
 */
export async function trainAdapter(options: TrainOptions): Promise<TrainResult> {
  const started = Date.now();
  const o = { ...TRAIN_DEFAULTS, ...definedOnly(options) };
  const attention = options.attention ?? defaultAttention(o.style);
  const onReport = options.onReport ?? report;
  const emit = options.onEvent ?? (() => {});
  positiveInt("epochs", o.epochs);
  positiveInt("batchSize", o.batchSize);
  positiveInt("gradAccum", o.gradAccum);
  if (!(o.lr > 0)) throw new InvalidArgumentError(`lr ${o.lr}; expected a positive number`);
  const stepSize = o.batchSize * o.gradAccum;
  const kind = kindSpec(options.adapterKind ?? "linear");
  const factor = options.pool ?? DEFAULT_FACTOR[kind.name];
  const factorError = factorProblem(kind.name, factor);
  if (factorError) throw new InvalidArgumentError(factorError);

  const dataset = await loadDataset(options.data, {
    onBadRow: options.onBadRow,
    valFraction: o.valFraction,
    valFile: options.valFile,
    seed: o.seed,
    onReport,
  });
  const ownsEncoder = typeof options.encoder === "string";
  const encoder =
    typeof options.encoder === "string"
      ? await VisionEncoder.load(options.encoder, { threads: options.threads, dtype: options.encoderDtype })
      : options.encoder;
  let llm: Llm | undefined;
  let loss: AdapterLoss | undefined;
  let merger: TokenMerger | undefined;
  try {
    llm = await Llm.load(options.llm, { contextSize: 2048, threads: options.llmThreads ?? 1 });
    const tokenizer = llm.model;
    const cache = await FeatureCache.open(encoder, { dir: options.featureCacheDir });
    merger = new TokenMerger(kind, factor, encoder.hiddenSize, options.threads);
    const data = await prepareExamples(dataset, cache, {
      merge: (patches, grid) => (merger as TokenMerger).merge(patches, grid),
      style: o.style,
      attention,
      tokenize: (text, special) => tokenizer.tokenize(text, { parseSpecial: special }),
      onProgress: (done, total) => emit({ kind: "features", done, total }),
      signal: options.signal,
    });
    loss = await AdapterLoss.load(options.llm, { threads: options.threads, signal: options.signal });

    const identity: RunIdentity = {
      dataset: await fileSha256(dataset.source),
      valFile: options.valFile ? await fileSha256(options.valFile) : "",
      encoder: cache.encoderKey,
      llm: `${llm.identity.architecture}:${llm.identity.nEmbd}:${llm.identity.vocabFingerprint}:${fs.statSync(options.llm).size}`,
      style: o.style,
      attention,
      adapter: `${kind.name}:${factor}`,
      epochs: o.epochs,
      lr: o.lr,
      batchSize: o.batchSize,
      gradAccum: o.gradAccum,
      valFraction: o.valFraction,
      seed: o.seed,
    };
    const steps = totalSteps(data.train.length, { batchSize: stepSize, epochs: o.epochs });
    const schedule = { lr: o.lr, totalSteps: steps, warmupSteps: options.warmupSteps };

    let adapter: Adapter = initAdapter(kind.name, {
      factor,
      inputSize: encoder.hiddenSize,
      outputSize: loss.spec.embedding,
      seed: o.seed,
      targetRms: loss.tokenEmbeddingRms(),
      inputRms: featureRms(data.train) || 1,
    });
    let optimizer = new AdamW(adapterParamGroups(adapter), {
      weightDecay: o.weightDecay,
      maxGradNorm: o.maxGradNorm,
    });
    let from = { epoch: 0, position: 0 };
    let resumedFrom = 0;
    if (options.resume) {
      const ckpt = await loadLatestCheckpoint(options.out, { identity, onReport });
      if (ckpt) {
        adapter = ckpt.adapter;
        optimizer = new AdamW(adapterParamGroups(adapter), {
          weightDecay: o.weightDecay,
          maxGradNorm: o.maxGradNorm,
        });
        optimizer.load(ckpt.optimizer);
        from = { epoch: ckpt.epoch, position: ckpt.position };
        resumedFrom = ckpt.step;
        emit({ kind: "resumed", step: ckpt.step, file: ckpt.file });
      } else {
        onReport(`no checkpoint in ${options.out}; starting from step 0`);
      }
    }
    await fs.promises.mkdir(options.out, { recursive: true });
    const metrics = await MetricsLog.open(options.out, resumedFrom > 0 ? { resumeStep: resumedFrom } : {});
    emit({
      kind: "start",
      totalSteps: steps,
      startStep: resumedFrom,
      train: data.train.length,
      val: data.val.length,
    });

    const pairing = {
      encoder,
      llm: llm.identity,
      style: o.style,
      attention,
      adapter: { kind: kind.name, factor },
    };
    const validate = async (step: number) => {
      const valLoss = await meanLoss(loss as AdapterLoss, data.val, adapter, options.signal);
      const rows = dataset.val.length > 0 ? dataset.val : dataset.train;
      const samples = await sampleAnswers(adapter, pairing, encoder, llm as Llm, rows.slice(0, o.samples));
      emit({ kind: "validation", step, valLoss, samples });
      return { valLoss, samples };
    };

    const initialValLoss =
      resumedFrom === 0 && data.val.length > 0
        ? await meanLoss(loss, data.val, adapter, options.signal)
        : Number.NaN;
    const groups = adapterParamGroups(adapter);
    const accumulator = new GradientAccumulator(groups.map((g) => g.data.length));
    let finalLoss = Number.NaN;
    let last: { valLoss: number; samples: SampleAnswer[] } | undefined;
    const perEpoch = Math.ceil(data.train.length / stepSize);
    for (const s of trainingSteps(data.train.length, {
      batchSize: stepSize,
      seed: o.seed,
      epochs: o.epochs,
      from,
    })) {
      throwIfAborted(options.signal);
      const t0 = performance.now();
      accumulator.reset();
      let sum = 0;
      for (const i of s.indices) {
        const r = await loss.run(data.train[i], adapter);
        accumulator.add(gradientsInOrder(groups, r.gradients as Map<string, Float32Array>));
        sum += r.loss;
      }
      const lr = learningRate(s.step, schedule);
      const { gradNorm } = optimizer.update(accumulator.mean(), lr);
      finalLoss = sum / s.indices.length;
      const seconds = (performance.now() - t0) / 1000;
      emit({ kind: "step", step: s.step, totalSteps: steps, epoch: s.epoch, loss: finalLoss, lr });

      const epochEnd = s.step % perEpoch === 0 || s.step === steps;
      const due = o.evalEvery > 0 ? s.step % o.evalEvery === 0 || s.step === steps : epochEnd;
      if (due) last = await validate(s.step);
      await metrics.append({
        step: s.step,
        epoch: s.epoch,
        loss: finalLoss,
        lr,
        gradNorm,
        examplesPerSec: s.indices.length / seconds,
        ...(due && data.val.length > 0 ? { valLoss: last?.valLoss } : {}),
      });
      if (checkpointDue(s.step, steps, o.checkpointEvery)) {
        const finished = s.position >= data.train.length;
        const file = await saveCheckpoint(options.out, {
          step: s.step,
          // A finished epoch resumes at the start of the next one.
          epoch: finished ? s.epoch + 1 : s.epoch,
          position: finished ? 0 : s.position,
          seed: o.seed,
          identity,
          adapter,
          optimizer,
        });
        emit({ kind: "checkpoint", step: s.step, file });
      }
    }
    if (!last) last = await validate(steps);

    const records = metrics.read();
    await writeLossCurve(path.join(options.out, "loss.png"), records);
    await saveAdapter(
      options.out,
      adapter,
      cardForPairing({
        ...pairing,
        training: {
          dataset: path.basename(dataset.source),
          steps,
          final_loss: Number.isFinite(last.valLoss) ? last.valLoss : finalLoss,
          date: new Date().toISOString(),
          seed: o.seed,
        },
      }),
    );
    return {
      adapterDir: options.out,
      steps,
      resumedFrom,
      trainExamples: data.train.length,
      valExamples: data.val.length,
      finalLoss: Number.isFinite(finalLoss) ? finalLoss : (records.at(-1)?.loss ?? Number.NaN),
      initialValLoss,
      finalValLoss: last.valLoss,
      samples: last.samples,
      sampleAccuracy: accuracy(last.samples),
      imagesEncoded: data.computed,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await merger?.dispose();
    await loss?.dispose();
    await llm?.dispose();
    if (ownsEncoder) await encoder.dispose();
  }
}

/**
 * Greedy answers of the current adapter through `Vlm`: the adapter is saved with its card to a
 * temporary directory and loaded the way `vlmkit ask` loads one, so the samples show what inference
 * will do (llama.cpp, the card's prompt style and attention), not what the training graph predicts.
 */
async function sampleAnswers(
  adapter: Adapter,
  pairing: Parameters<typeof cardForPairing>[0],
  encoder: VisionEncoder,
  llm: Llm,
  rows: readonly TrainExample[],
): Promise<SampleAnswer[]> {
  if (rows.length === 0) return [];
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "vlmkit-sample-adapter-"));
  try {
    await saveAdapter(dir, adapter, cardForPairing(pairing));
    const vlm = await Vlm.load({ encoder, adapter: dir, llm });
    try {
      return await generateAnswers(vlm, rows, { maxTokens: 16 });
    } finally {
      await vlm.dispose();
    }
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** The options without keys whose value is undefined (so they do not override defaults). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type { LossExample };
