/**
 * Training datasets: plain JSONL, LLaVA JSON and HF imagefolder, detected from the path or named.
 * Every row becomes a `TrainExample` or a `BadRow` (line + reason); bad rows are skipped with a
 * summary or fail the load. Images that exist but cannot be decoded are found when the features are
 * first computed and handed back through `Dataset.reject`.
 */
import fs from "node:fs";
import path from "node:path";
import { DatasetError, InvalidArgumentError } from "../../errors.js";
import { IMAGEFOLDER_COLUMNS, PLAIN_JSONL_COLUMNS, readJsonlRows } from "./dataset-jsonl.js";
import { readLlavaRows } from "./dataset-llava.js";
import { type BadRow, isBadRow, type RawRow, type TrainExample, toExample } from "./dataset-rows.js";
import { type SplitBy, splitExamples } from "./dataset-split.js";

export type DatasetFormat = "jsonl" | "llava" | "imagefolder";
export type BadRowPolicy = "skip" | "fail";

export interface LoadDatasetOptions {
  /** Default: detected — a directory with `metadata.jsonl` → imagefolder, `*.jsonl` → jsonl, `*.json` → llava. */
  format?: DatasetFormat;
  /**
   * Folder that relative image paths start from, and the only one images may come from. Default: the
   * dataset file's folder (imagefolder: the folder itself).
   */
  imagesRoot?: string;
  /**
   * Accept image paths outside `imagesRoot`: `../`, absolute paths, symlinks leading out. Default
   * false: such rows are bad rows (a dataset from elsewhere cannot make training read arbitrary files).
   */
  allowOutsidePaths?: boolean;
  /** Largest image file in bytes, checked before it is read; larger rows are bad rows. Default 64 MiB. */
  maxImageBytes?: number;
  /** What a bad row does: `"skip"` (default) reports it and goes on, `"fail"` throws `DatasetError` naming its line. */
  onBadRow?: BadRowPolicy;
  /** Share of the data held out for validation when no `valFile` is given. Default 0.1. */
  valFraction?: number;
  /** A separate validation dataset (same formats); when given, nothing is held out of the training set. */
  valFile?: string;
  /** Seed of the validation split's hash. Default 0. */
  seed?: number;
  /** What stays together in the split: `"image"` (default) or `"id"`. See `SplitBy`. */
  splitBy?: SplitBy;
  /** Where the bad-row summary goes. Default: one line per report on stderr. */
  onReport?: (message: string) => void;
}

function report(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Short text for a list of bad rows: the count and the first few with their lines. */
export function badRowSummary(bad: readonly BadRow[], limit = 5): string {
  const shown = bad.slice(0, limit).map((b) => `  ${path.basename(b.source)} line ${b.line}: ${b.reason}`);
  const more = bad.length > limit ? [`  … and ${bad.length - limit} more`] : [];
  return [`skipped ${bad.length} bad row${bad.length === 1 ? "" : "s"}:`, ...shown, ...more].join("\n");
}

function badRowError(b: BadRow): DatasetError {
  return new DatasetError(`${b.source} line ${b.line}: ${b.reason}`, {
    details: { line: b.line, source: b.source },
  });
}

export class Dataset {
  /** Rows that were skipped, in the order they were found. */
  readonly badRows: BadRow[] = [];

  constructor(
    readonly format: DatasetFormat,
    /** The file the training rows came from (imagefolder: its metadata.jsonl). */
    readonly source: string,
    public train: TrainExample[],
    public val: TrainExample[],
    private readonly policy: BadRowPolicy,
    private readonly onReport: (message: string) => void,
  ) {}

  /** Every image the dataset refers to, each once (for `FeatureCache.precompute`). */
  imagePaths(): string[] {
    return [...new Set([...this.train, ...this.val].map((e) => e.imagePath))];
  }

  /**
   * Marks the rows of images that could not be read as bad: they leave `train` and `val` under
   * "skip" (reported once), or the first one throws under "fail".
   */
  reject(failures: readonly { imagePath: string; reason: string }[]): void {
    if (failures.length === 0) return;
    const why = new Map(failures.map((f) => [path.resolve(f.imagePath), f.reason]));
    const found: BadRow[] = [];
    const keep = (list: TrainExample[]) =>
      list.filter((e) => {
        const reason = why.get(e.imagePath);
        if (reason === undefined) return true;
        found.push({ line: e.line, source: e.source, reason });
        return false;
      });
    const train = keep(this.train);
    const val = keep(this.val);
    found.sort((a, b) => a.source.localeCompare(b.source) || a.line - b.line);
    if (this.policy === "fail" && found.length > 0) throw badRowError(found[0]);
    this.train = train;
    this.val = val;
    this.badRows.push(...found);
    if (found.length > 0) this.onReport(badRowSummary(found));
    if (this.train.length === 0) {
      throw new DatasetError(`${this.source}: no usable training rows left after unreadable images`);
    }
  }
}

export function detectFormat(source: string): DatasetFormat {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new DatasetError(`dataset ${source} not found`);
  }
  if (stat.isDirectory()) {
    if (fs.existsSync(path.join(source, "metadata.jsonl"))) return "imagefolder";
    throw new DatasetError(
      `dataset directory ${source} has no metadata.jsonl; expected an imagefolder (metadata.jsonl with file_name and text columns)`,
    );
  }
  if (source.endsWith(".jsonl")) return "jsonl";
  if (source.endsWith(".json")) return "llava";
  throw new DatasetError(
    `cannot tell the format of ${source} from its name; expected a .jsonl file, a LLaVA .json file or an imagefolder directory (or pass format)`,
  );
}

/** Reads one dataset file or folder into examples and bad rows (no split, no policy). */
export async function readDatasetRows(
  source: string,
  options: Pick<LoadDatasetOptions, "format" | "imagesRoot" | "allowOutsidePaths" | "maxImageBytes"> = {},
): Promise<{ format: DatasetFormat; file: string; examples: TrainExample[]; bad: BadRow[] }> {
  const format = options.format ?? detectFormat(source);
  let file = source;
  let root = path.dirname(source);
  let read: { rows: RawRow[]; bad: BadRow[] };
  if (format === "imagefolder") {
    const isDir = fs.existsSync(source) && fs.statSync(source).isDirectory();
    file = isDir ? path.join(source, "metadata.jsonl") : source;
    root = path.dirname(file);
    read = await readJsonlRows(file, IMAGEFOLDER_COLUMNS);
  } else if (format === "jsonl") {
    read = await readJsonlRows(file, PLAIN_JSONL_COLUMNS);
  } else if (format === "llava") {
    read = await readLlavaRows(file);
  } else {
    throw new InvalidArgumentError(`dataset format "${format}"; expected "jsonl", "llava" or "imagefolder"`);
  }
  file = path.resolve(file);
  const imagesRoot = path.resolve(options.imagesRoot ?? root);
  const examples: TrainExample[] = [];
  const bad = read.bad.map((b) => ({ ...b, source: file }));
  for (const raw of read.rows) {
    const result = toExample(raw, file, {
      imagesRoot,
      allowOutsidePaths: options.allowOutsidePaths,
      maxImageBytes: options.maxImageBytes,
    });
    if (isBadRow(result)) bad.push(result);
    else examples.push(result);
  }
  bad.sort((a, b) => a.line - b.line);
  return { format, file, examples, bad };
}

/** Loads a dataset and its validation split. */
export async function loadDataset(source: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const { onBadRow = "skip", valFraction = 0.1, onReport = report } = options;
  if (onBadRow !== "skip" && onBadRow !== "fail") {
    throw new InvalidArgumentError(`onBadRow "${onBadRow}"; expected "skip" or "fail"`);
  }
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new InvalidArgumentError(`valFraction ${valFraction}; expected a number in [0, 1)`);
  }
  const main = await readDatasetRows(source, options);
  const valRead = options.valFile
    ? await readDatasetRows(options.valFile, {
        imagesRoot: options.imagesRoot,
        allowOutsidePaths: options.allowOutsidePaths,
        maxImageBytes: options.maxImageBytes,
      })
    : undefined;
  const bad = [...main.bad, ...(valRead?.bad ?? [])];
  if (onBadRow === "fail" && bad.length > 0) throw badRowError(bad[0]);
  if (main.examples.length === 0) {
    throw new DatasetError(
      `${main.file}: no usable rows${bad.length > 0 ? ` (${bad.length} bad; first: line ${bad[0].line}: ${bad[0].reason})` : ""}`,
    );
  }
  const split = valRead
    ? { train: main.examples, val: valRead.examples }
    : splitExamples(main.examples, { valFraction, seed: options.seed, splitBy: options.splitBy });
  const dataset = new Dataset(main.format, main.file, split.train, split.val, onBadRow, onReport);
  dataset.badRows.push(...bad);
  if (bad.length > 0) onReport(badRowSummary(bad));
  return dataset;
}
