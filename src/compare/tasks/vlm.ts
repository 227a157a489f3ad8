/**
 * The encoder inside a VLM: one adapter per encoder trained with the identical recipe (same LLM,
 * rows, epochs, learning rate, seed, prompt style) through `trainAdapter`, then, on held-out rows,
 * `accuracy` (greedy answer equals the reference) and `loss` (answer-token cross-entropy) through
 * `evaluateAdapter`, and `no_image_accuracy`: the same LLM and prompts with every image row zeroed
 * (the trained adapter's weights set to 0), which shows how much the answers owe to the image.
 */
import fs from "node:fs";
import path from "node:path";
import { type AdapterKindName, readSafetensors, writeSafetensors } from "../../adapter/index.js";
import { InvalidArgumentError } from "../../errors.js";
import type { OnnxDtype } from "../../hub/dtypes.js";
import { tensor } from "../../tensor.js";
import {
  evaluateAdapter,
  splitExamples,
  type TrainEvent,
  type TrainExample,
  trainAdapter,
} from "../../train/index.js";
import { writeFileAtomic } from "../../util/fs.js";
import type { ClassFolderData } from "../data/class-folder.js";
import type { PairData } from "../data/pairs.js";
import { accuracyFigure, plainFigure, type TaskOutput } from "../measured.js";

/** The recipe every encoder's adapter is trained with. Small, so the tiny demo takes seconds per encoder. */
export const VLM_DEFAULTS = {
  question: "what is this?",
  epochs: 5,
  lr: 3e-2,
  batchSize: 8,
  testFraction: 0.3,
  maxTokens: 8,
};

export interface VlmRecipe {
  /** gemma3 GGUF the adapters feed (frozen). */
  llm: string;
  /** Question asked about class-folder images (the answer is the class name). Default "what is this?". */
  question?: string;
  /** Passes over the training rows. Default 5. */
  epochs?: number;
  /** Peak learning rate. Default 3e-2. */
  lr?: number;
  /** Rows per step. Default 8. */
  batchSize?: number;
  /** Share of rows held out (question/answer data; class folders use their test split). Default 0.3. */
  testFraction?: number;
  /** Most tokens per generated answer. Default 8. */
  maxTokens?: number;
  /** Seed of the split, the shuffle and the adapter's initial weights. Default 0. */
  seed?: number;
  /** The adapter kind every encoder's adapter is trained as (`trainAdapter`'s `adapterKind`). Default "linear". */
  adapterKind?: AdapterKindName;
  /** Merge factor of pixel-shuffle / avgpool (`trainAdapter`'s `pool`). Default: the kind's. */
  pool?: number;
}

export interface VlmRows {
  train: string;
  test: string;
  trainRows: number;
  testRows: number;
}

function rowLine(id: string, image: string, prompt: string, answer: string): string {
  return JSON.stringify({ id, image, prompt, answer });
}

/** Writes the training and held-out rows once, shared by every encoder: `<workDir>/train.jsonl`, `test.jsonl`. */
export async function writeVlmRows(
  data: ClassFolderData | PairData,
  workDir: string,
  recipe: VlmRecipe,
): Promise<VlmRows> {
  const question = recipe.question ?? VLM_DEFAULTS.question;
  let train: string[];
  let test: string[];
  if (data.kind === "classes") {
    const line = (s: { key: string; imagePath: string; label: number }) =>
      rowLine(s.key, s.imagePath, question, data.classes[s.label]);
    train = data.train.map(line);
    test = data.test.map(line);
  } else {
    const split = splitExamples(data.rows, {
      valFraction: recipe.testFraction ?? VLM_DEFAULTS.testFraction,
      seed: recipe.seed ?? 0,
    });
    const line = (e: TrainExample) => rowLine(e.id, e.imagePath, e.prompt, e.answer);
    train = split.train.map(line);
    test = split.val.map(line);
  }
  if (train.length === 0 || test.length === 0) {
    throw new InvalidArgumentError(
      `vlm needs training and held-out rows; got ${train.length} and ${test.length}`,
    );
  }
  await fs.promises.mkdir(workDir, { recursive: true });
  const files = { train: path.join(workDir, "train.jsonl"), test: path.join(workDir, "test.jsonl") };
  await writeFileAtomic(files.train, `${train.join("\n")}\n`);
  await writeFileAtomic(files.test, `${test.join("\n")}\n`);
  return { ...files, trainRows: train.length, testRows: test.length };
}

/** A copy of an adapter with every weight 0: its image rows are all zeros whatever the image. */
async function zeroAdapter(from: string, to: string): Promise<void> {
  await fs.promises.mkdir(to, { recursive: true });
  await fs.promises.copyFile(path.join(from, "adapter.json"), path.join(to, "adapter.json"));
  const { tensors, metadata } = await readSafetensors(path.join(from, "adapter.safetensors"));
  const zeros = Object.fromEntries(
    [...tensors].map(([name, t]) => [name, tensor(new Float32Array(t.data.length), t.dims)]),
  );
  await writeSafetensors(path.join(to, "adapter.safetensors"), zeros, metadata);
}

export interface VlmTaskOptions {
  name: string;
  dir: string;
  dtype: OnnxDtype;
  rows: VlmRows;
  recipe: VlmRecipe;
  /** Where this encoder's adapter goes. */
  adapterDir: string;
  featureCacheDir?: string;
  threads?: number;
  onTrainEvent?: (event: TrainEvent) => void;
  onAnswer?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export async function vlmTask(options: VlmTaskOptions): Promise<TaskOutput & { adapterDir: string }> {
  const { recipe, rows } = options;
  const quiet = () => {};
  await fs.promises.rm(options.adapterDir, { recursive: true, force: true });
  await trainAdapter({
    data: rows.train,
    valFile: rows.test,
    encoder: options.dir,
    encoderDtype: options.dtype,
    llm: recipe.llm,
    out: options.adapterDir,
    epochs: recipe.epochs ?? VLM_DEFAULTS.epochs,
    lr: recipe.lr ?? VLM_DEFAULTS.lr,
    batchSize: recipe.batchSize ?? VLM_DEFAULTS.batchSize,
    seed: recipe.seed ?? 0,
    adapterKind: recipe.adapterKind,
    pool: recipe.pool,
    samples: 0,
    checkpointEvery: 1_000_000,
    featureCacheDir: options.featureCacheDir,
    threads: options.threads,
    onEvent: options.onTrainEvent,
    onReport: quiet,
    signal: options.signal,
    // The rows are written by compare itself, naming images the dataset reader already listed.
    allowOutsidePaths: true,
  });
  const common = {
    data: rows.test,
    encoder: options.dir,
    encoderDtype: options.dtype,
    llm: recipe.llm,
    maxTokens: recipe.maxTokens ?? VLM_DEFAULTS.maxTokens,
    featureCacheDir: options.featureCacheDir,
    threads: options.threads,
    onReport: quiet,
    signal: options.signal,
    allowOutsidePaths: true,
  };
  const withImage = await evaluateAdapter({
    ...common,
    adapter: options.adapterDir,
    onProgress: options.onAnswer,
  });
  const zeroDir = `${options.adapterDir}-no-image`;
  await zeroAdapter(options.adapterDir, zeroDir);
  const noImage = await evaluateAdapter({ ...common, adapter: zeroDir, onProgress: options.onAnswer });
  const keys = withImage.answers.map((a) => a.id);
  const correct = (answers: typeof withImage.answers) => Uint8Array.from(answers, (a) => (a.correct ? 1 : 0));
  return {
    task: "vlm",
    adapterDir: options.adapterDir,
    metrics: [
      accuracyFigure("accuracy", correct(withImage.answers), keys),
      plainFigure("loss", withImage.loss, withImage.examples),
      accuracyFigure(
        "no_image_accuracy",
        correct(noImage.answers),
        noImage.answers.map((a) => a.id),
      ),
    ],
  };
}
