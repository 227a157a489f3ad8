/**
 * How well an adapter does on examples: the mean answer-token loss through the training graph, and
 * answers generated greedily through the real inference path (`Vlm`, llama.cpp) compared with the
 * reference answers.
 */

import { TokenMerger } from "../../adapter/kinds/merge.js";
import { kindSpec } from "../../adapter/kinds/registry.js";
import type { Adapter } from "../../adapter/kinds/types.js";
import { VisionEncoder } from "../../encoders/index.js";
import { InvalidArgumentError, throwIfAborted } from "../../errors.js";
import type { OnnxDtype } from "../../hub/dtypes.js";
import { Llm } from "../../llm/llm.js";
import { Vlm } from "../../vlm.js";
import { type BadRowPolicy, loadDataset } from "../data/dataset.js";
import type { TrainExample } from "../data/dataset-rows.js";
import { FeatureCache } from "../data/feature-cache.js";
import { prepareExamples } from "../data/prepare-examples.js";
import { AdapterLoss, type LossExample } from "../model/adapter-loss.js";

export interface SampleAnswer {
  id: string;
  prompt: string;
  /** What the model wrote (greedy). */
  answer: string;
  /** The dataset's answer. */
  reference: string;
  /** `answer` equals `reference` after trimming and lowercasing. */
  correct: boolean;
}

/** Exact match after trimming and lowercasing. */
export function answersMatch(answer: string, reference: string): boolean {
  return answer.trim().toLowerCase() === reference.trim().toLowerCase();
}

/** Mean over examples of each example's mean answer-token loss; NaN for no examples. */
export async function meanLoss(
  loss: AdapterLoss,
  examples: Iterable<LossExample> | AsyncIterable<LossExample>,
  adapter: Adapter,
  signal?: AbortSignal,
): Promise<number> {
  let sum = 0;
  let count = 0;
  for await (const ex of examples) {
    throwIfAborted(signal);
    sum += (await loss.run(ex, adapter, { gradients: false })).loss;
    count++;
  }
  return count > 0 ? sum / count : Number.NaN;
}

export interface AnswerOptions {
  /** Most tokens per answer. Default 32. */
  maxTokens?: number;
  signal?: AbortSignal;
  /** Called after each answer. */
  onProgress?: (done: number, total: number) => void;
}

/** Greedy answers of `vlm` to the examples, in order. */
export async function generateAnswers(
  vlm: Vlm,
  examples: (Iterable<TrainExample> | AsyncIterable<TrainExample>) & { readonly length: number },
  options: AnswerOptions = {},
): Promise<SampleAnswer[]> {
  const out: SampleAnswer[] = [];
  for await (const ex of examples) {
    throwIfAborted(options.signal);
    // `Vlm.ask` lays the prompt out as training did (same builder, same placeholder rule).
    const result = await vlm.ask([ex.imagePath], ex.prompt, {
      maxTokens: options.maxTokens ?? 32,
      signal: options.signal,
    });
    out.push({
      id: ex.id,
      prompt: ex.prompt,
      answer: result.text.trim(),
      reference: ex.answer,
      correct: answersMatch(result.text, ex.answer),
    });
    options.onProgress?.(out.length, examples.length);
  }
  return out;
}

/** Share of correct answers; NaN for none. */
export function accuracy(answers: readonly SampleAnswer[]): number {
  return answers.length > 0 ? answers.filter((a) => a.correct).length / answers.length : Number.NaN;
}

export interface EvaluateOptions {
  /** Dataset (same formats as training); every usable row is evaluated. */
  data: string;
  /** Adapter directory (adapter.json + adapter.safetensors). */
  adapter: string;
  /** Encoder directory the adapter was trained with. */
  encoder: string;
  /** The encoder's weight variant. Default "fp32". */
  encoderDtype?: OnnxDtype;
  /** gemma3 GGUF the adapter feeds. */
  llm: string;
  /**
   * Evaluate one side of the seeded split training made (the same `valFraction` and `seed` give the same
   * rows: `splitExamples`). Default: every row.
   */
  split?: { side: "train" | "val"; valFraction: number; seed: number };
  /** Rows answered through `Vlm` for the accuracy; the loss uses all rows. Default: all rows. */
  limit?: number;
  /** Most tokens per answer. Default 32. */
  maxTokens?: number;
  /** What a bad row does. Default "skip". */
  onBadRow?: BadRowPolicy;
  /** Accept dataset image paths outside the dataset's folder. Default false (see `LoadDatasetOptions`). */
  allowOutsidePaths?: boolean;
  /** Feature cache root. Default `<$VLMKIT_CACHE or ~/.cache/vlmkit>/features`. */
  featureCacheDir?: string;
  /** onnxruntime threads. Default physical cores. */
  threads?: number;
  /** Rows answered so far. */
  onProgress?: (done: number, total: number) => void;
  onReport?: (message: string) => void;
  signal?: AbortSignal;
}

export interface EvaluationResult {
  /** Rows evaluated (loss). */
  examples: number;
  /** Mean answer-token loss (nats per token, averaged per row). */
  loss: number;
  /** Share of answered rows whose greedy answer equals the reference (trimmed, lowercased). */
  accuracy: number;
  /** Rows answered. */
  answered: number;
  answers: SampleAnswer[];
}

/** Loss and answer accuracy of an adapter on a dataset, with the prompt style and attention of its card. */
export async function evaluateAdapter(options: EvaluateOptions): Promise<EvaluationResult> {
  const dataset = await loadDataset(options.data, {
    onBadRow: options.onBadRow,
    allowOutsidePaths: options.allowOutsidePaths,
    valFraction: options.split?.valFraction ?? 0,
    seed: options.split?.seed,
    onReport: options.onReport,
  });
  const side = options.split?.side === "val" ? "val" : "train";
  if (dataset[side].length === 0) {
    throw new InvalidArgumentError(
      `${options.data}: no rows on the ${side === "val" ? "validation" : "training"} side of the split (val fraction ${options.split?.valFraction ?? 0}, seed ${options.split?.seed ?? 0})`,
    );
  }
  const encoder = await VisionEncoder.load(options.encoder, {
    threads: options.threads,
    dtype: options.encoderDtype,
  });
  let llm: Llm | undefined;
  let loss: AdapterLoss | undefined;
  let merger: TokenMerger | undefined;
  let vlm: Vlm | undefined;
  try {
    // One llama.cpp thread: short greedy answers, and no contention with onnxruntime's pool.
    llm = await Llm.load(options.llm, { contextSize: 2048, threads: 1 });
    vlm = await Vlm.load({ encoder, adapter: options.adapter, llm });
    const card = vlm.adapter.card;
    const tokenizer = llm.model;
    const cache = await FeatureCache.open(encoder, { dir: options.featureCacheDir });
    const adapter = vlm.adapter.projection;
    merger = new TokenMerger(kindSpec(adapter.kind), adapter.factor, adapter.inputSize, {
      threads: options.threads,
    });
    const data = await prepareExamples(dataset, cache, {
      merge: (patches, grid) => (merger as TokenMerger).merge(patches, grid),
      style: card.prompt.style,
      attention: card.attention,
      tokenize: (text, special) => tokenizer.tokenize(text, { parseSpecial: special }),
      signal: options.signal,
    });
    loss = await AdapterLoss.load(options.llm, { threads: options.threads, signal: options.signal });
    const meanNll = await meanLoss(loss, data[side], adapter, options.signal);
    const rows = options.limit === undefined ? dataset[side] : await dataset[side].take(options.limit);
    const answers = await generateAnswers(vlm, rows, {
      maxTokens: options.maxTokens,
      signal: options.signal,
      onProgress: options.onProgress,
    });
    return {
      examples: data[side].length,
      loss: meanNll,
      accuracy: accuracy(answers),
      answered: answers.length,
      answers,
    };
  } finally {
    await merger?.dispose();
    await vlm?.dispose();
    await loss?.dispose();
    await llm?.dispose();
    await encoder.dispose();
  }
}
