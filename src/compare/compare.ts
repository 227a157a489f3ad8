/**
 * `compareEncoders`: the same images through every encoder, every task, statistics over the paired
 * samples, and (with `out`) results.json, results.csv and report.html.
 *
 *   specs ─ resolve (hub / dir, NaFlex budget) ─ pooled features via the feature cache
 *        ─ tasks (zeroshot, retrieval, linear-probe, knn, vlm, speed) ─ figures per encoder
 *        ─ bootstrap intervals + paired tests ─ { encoders, results, pairs }
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { InvalidArgumentError, throwIfAborted } from "../errors.js";
import type { TrainEvent } from "../train/index.js";
import { type ClassFolderData, isClassFolder, readClassFolder } from "./data/class-folder.js";
import { type PairData, readPairData } from "./data/pairs.js";
import { type EncoderSpec, parseEncoderList } from "./encoder-spec.js";
import { pooledFeatures, resolveEncoderDir } from "./encoders.js";
import type { Predictions, TaskOutput } from "./measured.js";
import { type EncoderFigures, pairRows, resultRows } from "./pairs.js";
import { checkWritableDir, writeReport } from "./report/write.js";
import { knnTask } from "./tasks/knn.js";
import { linearProbeTask } from "./tasks/linear-probe.js";
import { retrievalTask } from "./tasks/retrieval.js";
import { speedTask } from "./tasks/speed.js";
import { type VlmRecipe, vlmTask, writeVlmRows } from "./tasks/vlm.js";
import { zeroShotTask } from "./tasks/zeroshot.js";
import { type CompareResult, type EncoderSummary, TASKS, type TaskName } from "./types.js";

export type CompareEvent =
  | { kind: "download"; encoder: string; done: number; total: number }
  | { kind: "features"; encoder: string; done: number; total: number }
  /** Features are ready: `encoded` images ran through the encoder, the rest came from the cache. */
  | { kind: "features-ready"; encoder: string; images: number; encoded: number }
  | { kind: "task"; encoder: string; task: TaskName }
  | { kind: "train"; encoder: string; event: TrainEvent }
  | { kind: "answers"; encoder: string; done: number; total: number }
  | { kind: "note"; message: string };

export interface CompareOptions {
  /** Encoder specs (`[name=]source[@dtype][:maxPatches]`, see `parseEncoderSpec`) or parsed specs. */
  encoders: readonly (string | EncoderSpec)[];
  /** A labelled imagefolder (class subfolders), or image–text rows (JSONL, LLaVA JSON, imagefolder with metadata.jsonl). */
  data: string;
  /** Tasks to run, or "all". Default "all": every task the data supports (`vlm` only with `vlm.llm`). */
  tasks?: readonly (TaskName | "all")[];
  /** Write results.json, results.csv and report.html here. Default: nothing written. */
  out?: string;
  /** Seed of the hash splits, the bootstrap and the vlm recipe. Default 0. */
  seed?: number;
  /** Zero-shot prompt templates, each with one `{}`. Default `DEFAULT_TEMPLATES`. */
  templates?: readonly string[];
  /** Class names for zero-shot (see `ClassFolderOptions.classNamesFile`). Default: folder names. */
  classNamesFile?: string;
  /** Share of a class folder held out for testing when it has no split folders. Default 0.3. */
  testFraction?: number;
  /** The `vlm` task's recipe; `llm` is required to run it. */
  vlm?: VlmRecipe;
  /** Images timed by `speed`. Default 16. */
  speedImages?: number;
  /** Feature cache root. Default training's. */
  featureCacheDir?: string;
  /** onnxruntime threads. Default physical cores. */
  threads?: number;
  onEvent?: (event: CompareEvent) => void;
  signal?: AbortSignal;
}

/** What the report needs beyond the JSON: the data, predictions and when it ran. */
export interface ComparisonDetails {
  result: CompareResult;
  data: {
    kind: "classes" | "pairs";
    source: string;
    classes?: readonly string[];
    train: number;
    test: number;
  };
  tasks: TaskName[];
  predictions: { encoder: string; task: TaskName; predictions: Predictions }[];
  seed: number;
  seconds: number;
}

const CLASS_TASKS: readonly TaskName[] = ["zeroshot", "linear-probe", "knn", "vlm", "speed"];
const PAIR_TASKS: readonly TaskName[] = ["retrieval", "vlm", "speed"];

function chooseTasks(
  requested: readonly (TaskName | "all")[],
  kind: "classes" | "pairs",
  has: { llm: boolean; captions: boolean; trainImages: boolean },
  note: (m: string) => void,
): TaskName[] {
  const supported = kind === "classes" ? CLASS_TASKS : PAIR_TASKS;
  for (const t of requested) {
    if (t !== "all" && !(TASKS as readonly string[]).includes(t)) {
      throw new InvalidArgumentError(`unknown task "${t}"; expected one of ${TASKS.join(", ")} or all`);
    }
  }
  if (requested.length === 0 || requested.includes("all")) {
    // "all": what the data supports; say what is left out and why.
    const skip = new Map<TaskName, string>();
    if (!has.llm) skip.set("vlm", "it needs an LLM (--llm)");
    if (kind === "pairs" && !has.captions) skip.set("retrieval", "the rows hold no captions");
    if (kind === "classes" && !has.trainImages) {
      for (const t of ["linear-probe", "knn", "vlm"] as const)
        skip.set(t, "the imagefolder has no training images");
    }
    for (const [t, why] of skip) if (supported.includes(t)) note(`${t} skipped: ${why}`);
    return supported.filter((t) => !skip.has(t));
  }
  const tasks = TASKS.filter((t) => requested.includes(t));
  for (const t of tasks) {
    if (!supported.includes(t)) {
      const what = kind === "classes" ? "a labelled imagefolder (class subfolders)" : "image–text rows";
      throw new InvalidArgumentError(
        `task "${t}" does not apply to ${what}; it supports ${supported.join(", ")}${t === "retrieval" ? " (retrieval needs caption rows)" : ""}`,
      );
    }
  }
  if (tasks.includes("vlm") && !has.llm)
    throw new InvalidArgumentError('task "vlm" needs an LLM GGUF (vlm.llm / --llm)');
  return tasks;
}

export async function runComparison(options: CompareOptions): Promise<ComparisonDetails> {
  const started = Date.now();
  const seed = options.seed ?? 0;
  const emit = options.onEvent ?? (() => {});
  const note = (message: string) => emit({ kind: "note", message });
  const specs = parseEncoderList(options.encoders);
  const data: ClassFolderData | PairData = isClassFolder(options.data)
    ? readClassFolder(options.data, {
        seed,
        testFraction: options.testFraction,
        classNamesFile: options.classNamesFile,
      })
    : await readPairData(options.data);
  const tasks = chooseTasks(
    options.tasks ?? ["all"],
    data.kind,
    {
      llm: Boolean(options.vlm?.llm),
      captions: data.kind === "pairs" && data.captioned.length >= 2,
      trainImages: data.kind === "classes" && data.train.length > 0,
    },
    note,
  );
  if (options.vlm?.llm && !fs.existsSync(options.vlm.llm)) {
    throw new InvalidArgumentError(`LLM ${options.vlm.llm} not found; expected a gemma3 GGUF file`);
  }
  const imagePaths =
    data.kind === "classes"
      ? [...data.train, ...data.test].map((s) => s.imagePath)
      : [...new Set(data.rows.map((r) => r.imagePath))];

  // A folder that cannot be written fails now, not after the encoders have run.
  if (options.out) await checkWritableDir(options.out);
  const workRoot = options.out
    ? path.resolve(options.out)
    : await fs.promises.mkdtemp(path.join(os.tmpdir(), "vlmkit-compare-"));
  const vlmRows = tasks.includes("vlm")
    ? await writeVlmRows(data, path.join(workRoot, "vlm"), { ...options.vlm!, seed })
    : undefined;

  const encoders: EncoderSummary[] = [];
  const figures: EncoderFigures[] = [];
  const predictions: ComparisonDetails["predictions"] = [];
  try {
    for (const spec of specs) {
      throwIfAborted(options.signal);
      const dir = await resolveEncoderDir(spec, {
        onDownload: (encoder, done, total) => emit({ kind: "download", encoder, done, total }),
      });
      const features = await pooledFeatures(spec, dir, imagePaths, {
        featureCacheDir: options.featureCacheDir,
        threads: options.threads,
        signal: options.signal,
        onProgress: (done, total) => emit({ kind: "features", encoder: spec.name, done, total }),
      });
      encoders.push(features.summary);
      emit({
        kind: "features-ready",
        encoder: spec.name,
        images: features.pooled.size,
        encoded: features.encoded,
      });
      const common = { dir, dtype: spec.dtype, threads: options.threads };
      for (const task of tasks) {
        throwIfAborted(options.signal);
        emit({ kind: "task", encoder: spec.name, task });
        let out: TaskOutput;
        if (task === "zeroshot")
          out = await zeroShotTask(data as ClassFolderData, features.pooled, {
            ...common,
            templates: options.templates,
          });
        else if (task === "linear-probe")
          out = linearProbeTask(data as ClassFolderData, features.pooled, { seed });
        else if (task === "knn") out = knnTask(data as ClassFolderData, features.pooled);
        else if (task === "retrieval") out = await retrievalTask(data as PairData, features.pooled, common);
        else if (task === "speed")
          out = await speedTask(imagePaths, features.summary, { ...common, images: options.speedImages });
        else {
          out = await vlmTask({
            name: spec.name,
            ...common,
            rows: vlmRows!,
            recipe: { ...options.vlm!, seed },
            adapterDir: path.join(workRoot, "vlm", "adapters", spec.name.replace(/[^A-Za-z0-9._-]+/g, "_")),
            featureCacheDir: options.featureCacheDir,
            onTrainEvent: (event) => emit({ kind: "train", encoder: spec.name, event }),
            onAnswer: (done, total) => emit({ kind: "answers", encoder: spec.name, done, total }),
            signal: options.signal,
          });
        }
        figures.push({ encoder: spec.name, task, metrics: out.metrics });
        if (out.predictions) predictions.push({ encoder: spec.name, task, predictions: out.predictions });
      }
    }
  } finally {
    if (!options.out) await fs.promises.rm(workRoot, { recursive: true, force: true });
  }
  // Results ordered task by task, so a table reads one task at a time.
  const ordered = tasks.flatMap((t) => figures.filter((f) => f.task === t));
  const result: CompareResult = {
    encoders,
    results: resultRows(ordered, seed),
    pairs: pairRows(ordered, seed),
  };
  const details: ComparisonDetails = {
    result,
    data:
      data.kind === "classes"
        ? {
            kind: "classes",
            source: data.dir,
            classes: data.classes,
            train: data.train.length,
            test: data.test.length,
          }
        : {
            kind: "pairs",
            source: data.source,
            train: vlmRows?.trainRows ?? 0,
            test: vlmRows?.testRows ?? data.captioned.length,
          },
    tasks,
    predictions,
    seed,
    seconds: (Date.now() - started) / 1000,
  };
  if (options.out) await writeReport(options.out, details);
  return details;
}

/** Compares encoders; returns `{encoders, results, pairs}` (and writes the report files with `out`). */
export async function compareEncoders(options: CompareOptions): Promise<CompareResult> {
  return (await runComparison(options)).result;
}
