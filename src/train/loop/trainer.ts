/**
 * Trains a linear adapter through the frozen LLM:
 *
 *   dataset rows ─ FeatureCache (encoder once per image) ─▶ features [N, Dv]
 *   ─ AdapterLoss (adapter → gemma3 ONNX graph → answer-token cross-entropy, ∂/∂W, ∂/∂b)
 *   ─ gradient accumulation ─ AdamW (warmup + cosine) ─▶ adapter
 *
 * with seeded shuffling, atomic checkpoints and `resume`, validation loss and sample answers through
 * the real inference path (`Vlm` on llama.cpp) every epoch, `metrics.jsonl` + `loss.png`, and the final
 * adapter saved with its card. Everything lands in `out`: adapter.json, adapter.safetensors,
 * metrics.jsonl, loss.png, checkpoints/.
 *
 * `trainAdapter` runs three steps, each in its own file: `prepareRun` (load the parts, the examples and
 * the start state, fresh or from a checkpoint), `runSteps` (optimizer steps, validation, metrics,
 * checkpoints) and `finishRun` (loss curve, adapter + card, the result).
 */
import fs from "node:fs";
import path from "node:path";
import {
  type AdapterKindName,
  CARD_FILE,
  DEFAULT_FACTOR,
  factorProblem,
  kindSpec,
  WEIGHTS_FILE,
} from "../../adapter/index.js";
import type { VisionEncoder } from "../../encoders/index.js";
import { InvalidArgumentError } from "../../errors.js";
import { withBlobLock } from "../../hub/blob-lock.js";
import type { OnnxDtype } from "../../hub/dtypes.js";
import type { AttentionMode, PromptStyle } from "../../prompt/index.js";
import { defaultAttention } from "../../prompt/index.js";
import type { BadRowPolicy } from "../data/dataset.js";
import type { LossExample } from "../model/adapter-loss.js";
import type { SampleAnswer } from "./evaluate.js";
import { finishRun } from "./finish-run.js";
import { prepareRun } from "./prepare-run.js";
import { runSteps } from "./run-steps.js";

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
   * Merge factor of pixel-shuffle (r) and avgpool (k): r² or k² patches per image token. Default 2 for
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
  /** Accept dataset image paths outside the dataset's folder. Default false (see `LoadDatasetOptions`). */
  allowOutsidePaths?: boolean;
  /** Validate every this many steps; 0 = at the end of each epoch. Default 0. */
  evalEvery?: number;
  /** Sample answers generated through the real inference path at each validation. Default 3. */
  samples?: number;
  /** Write a checkpoint every this many optimizer steps (and after the last). Default 50. */
  checkpointEvery?: number;
  /** Continue from the newest valid checkpoint in `out` (refused when it belongs to another run). Default false. */
  resume?: boolean;
  /**
   * Replace what an earlier run left in `out` (adapter, metrics, checkpoints). Default false: a run into
   * an `out` that holds an adapter or a training run is refused unless `resume` or `overwrite`.
   */
  overwrite?: boolean;
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
  /** `resume` found the run's last step already done: no step ran, the adapter was saved again. */
  alreadyFinished: boolean;
  /** `out/loss.png` and `out/metrics.jsonl`. */
  lossCurve: string;
  metrics: string;
}

/** The options with every default filled in (`settingsOf`). */
export type TrainSettings = TrainOptions &
  Required<
    Pick<
      TrainOptions,
      keyof typeof TRAIN_DEFAULTS | "attention" | "adapterKind" | "pool" | "onEvent" | "onReport"
    >
  >;

/**
 * Trains an adapter on `options.data` for the encoder and LLM given, and saves it with its card in
 * `options.out`.
 *
 * @example
 * ```ts
 * import { trainAdapter } from "vlmkit/train";
 *
 * const result = await trainAdapter({
 *   data: "shapes/data.jsonl", // or a LLaVA .json file, or an imagefolder directory
 *   encoder: "models/demo/siglip2",
 *   llm: "adapters/shapes/gemma3.gguf",
 *   out: "my-adapter",
 *   epochs: 3,
 *   onEvent: (e) => e.kind === "step" && console.log(e.step, e.loss),
 * });
 * console.log(result.finalValLoss, result.sampleAccuracy); // then Vlm.load({ adapter: "my-adapter", ... })
 * ```
 */
export async function trainAdapter(options: TrainOptions): Promise<TrainResult> {
  const started = Date.now();
  const settings = settingsOf(options);
  // One run per output folder: a second run into the same `out` is refused (BUSY), never interleaved.
  await fs.promises.mkdir(settings.out, { recursive: true });
  const lock = path.join(settings.out, TRAIN_LOCK_FILE);
  return withBlobLock(
    lock,
    async () => {
      await clearOrKeepOut(settings);
      const run = await prepareRun(settings);
      try {
        const outcome = await runSteps(run);
        return await finishRun(run, outcome, started);
      } finally {
        await run.dispose();
      }
    },
    { wait: false, what: `the training output folder ${settings.out}` },
  );
}

/** The lock a running `trainAdapter` holds in its output folder. */
export const TRAIN_LOCK_FILE = ".vlmkit-train.lock";

/** Fills in the defaults and checks the numbers that have no safe meaning otherwise. */
export function settingsOf(options: TrainOptions): TrainSettings {
  const d = TRAIN_DEFAULTS;
  const style = options.style ?? d.style;
  const settings: TrainSettings = {
    ...options,
    style,
    attention: options.attention ?? defaultAttention(style),
    adapterKind: kindSpec(options.adapterKind ?? "linear").name,
    pool: options.pool ?? DEFAULT_FACTOR[options.adapterKind ?? "linear"],
    epochs: options.epochs ?? d.epochs,
    lr: options.lr ?? d.lr,
    batchSize: options.batchSize ?? d.batchSize,
    gradAccum: options.gradAccum ?? d.gradAccum,
    valFraction: options.valFraction ?? d.valFraction,
    checkpointEvery: options.checkpointEvery ?? d.checkpointEvery,
    seed: options.seed ?? d.seed,
    weightDecay: options.weightDecay ?? d.weightDecay,
    maxGradNorm: options.maxGradNorm ?? d.maxGradNorm,
    samples: options.samples ?? d.samples,
    evalEvery: options.evalEvery ?? d.evalEvery,
    onEvent: options.onEvent ?? (() => {}),
    onReport: options.onReport ?? ((message) => process.stderr.write(`${message}\n`)),
  };
  positiveInt("epochs", settings.epochs);
  positiveInt("batchSize", settings.batchSize);
  positiveInt("gradAccum", settings.gradAccum);
  if (!(settings.lr > 0)) throw new InvalidArgumentError(`lr ${settings.lr}; expected a positive number`);
  const factorError = factorProblem(settings.adapterKind, settings.pool);
  if (factorError) throw new InvalidArgumentError(factorError);
  return settings;
}

/** What an earlier run leaves in `out`. */
const RUN_FILES = [CARD_FILE, WEIGHTS_FILE, "metrics.jsonl", "loss.png", "checkpoints"];

/**
 * Refuses to train into an `out` that holds an adapter or a training run unless `resume` (keep it and
 * continue) or `overwrite` (remove the run's files first; other files stay).
 */
async function clearOrKeepOut(s: TrainSettings): Promise<void> {
  const found = RUN_FILES.filter((name) => fs.existsSync(path.join(s.out, name)));
  if (found.length === 0 || s.resume) return;
  if (!s.overwrite) {
    throw new InvalidArgumentError(
      `${s.out} already holds ${found.includes(CARD_FILE) ? "an adapter" : "a training run"} (${found.join(", ")}); ` +
        "pass --overwrite to replace it, --resume to continue its run, or choose another --out",
      { details: { param: "out", found } },
    );
  }
  for (const name of found) await fs.promises.rm(path.join(s.out, name), { recursive: true, force: true });
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new InvalidArgumentError(`${name} ${v}; expected a positive integer`);
}

export type { LossExample };
