/**
 * Training datasets: plain JSONL, LLaVA JSON and HF imagefolder, detected from the path or named.
 * Every row becomes a `TrainExample` or a `BadRow` (line + reason); bad rows are skipped with a
 * summary or fail the load. Images that exist but cannot be decoded are found when the features are
 * first computed and handed back through `Dataset.reject`.
 *
 * Rows stream: loading reads the file once, checks every row and decides its side of the split, and
 * keeps only where each usable row is (20 bytes a row, `RowIndex`), the distinct image paths and the
 * first bad rows. Examples are read again from the file when they are used, so a dataset larger than
 * memory trains and evaluates in bounded memory.
 */
import fs from "node:fs";
import path from "node:path";
import { DatasetError, InvalidArgumentError } from "../../errors.js";
import { type BadRow, ImageFactsCache, isBadRow, type TrainExample } from "./dataset-rows.js";
import { type DatasetFormat, RowFile, RowIndex } from "./dataset-source.js";
import { type SplitBy, SplitPlan } from "./dataset-split.js";

export type { DatasetFormat } from "./dataset-source.js";
export type BadRowPolicy = "skip" | "fail";

/** Bad rows a dataset keeps to report (the rest are counted). */
export const KEPT_BAD_ROWS = 1000;

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

/** Short text for a list of bad rows: the count (`total`, default the list's length) and the first few with their lines. */
export function badRowSummary(bad: readonly BadRow[], limit = 5, total = bad.length): string {
  const shown = bad.slice(0, limit).map((b) => `  ${path.basename(b.source)} line ${b.line}: ${b.reason}`);
  const more = total > shown.length ? [`  … and ${total - shown.length} more`] : [];
  return [`skipped ${total} bad row${total === 1 ? "" : "s"}:`, ...shown, ...more].join("\n");
}

function badRowError(b: BadRow): DatasetError {
  return new DatasetError(`${b.source} line ${b.line}: ${b.reason}`, {
    details: { line: b.line, source: b.source },
  });
}

/**
 * The usable rows of one side of a dataset, read from their file when asked for: `length`, one row
 * by position (`at`), the first `n` (`take`), or all in order (`for await`).
 */
export class DatasetSide implements AsyncIterable<TrainExample> {
  constructor(
    readonly file: RowFile,
    private index: RowIndex,
  ) {}

  get length(): number {
    return this.index.length;
  }

  /** The row at position `i` (0 ≤ i < length). */
  at(i: number): TrainExample {
    return this.file.example(this.index, i);
  }

  /** The first `n` rows (all when n ≥ length). */
  async take(n: number): Promise<TrainExample[]> {
    const out: TrainExample[] = [];
    for await (const e of this.file.examples(this.index, n)) out.push(e);
    return out;
  }

  /** Every row, held in memory: for small datasets and tests. */
  toArray(): Promise<TrainExample[]> {
    return this.take(this.length);
  }

  [Symbol.asyncIterator](): AsyncIterator<TrainExample> {
    return this.file.examples(this.index)[Symbol.asyncIterator]();
  }

  /** Keeps the rows for which `keep` is true; those it drops are passed to `dropped`. */
  async filter(keep: (e: TrainExample) => boolean, dropped: (e: TrainExample) => void): Promise<void> {
    const next = new RowIndex();
    let i = 0;
    for await (const e of this) {
      if (keep(e)) next.push(this.index.at(i));
      else dropped(e);
      i++;
    }
    this.index = next;
  }
}

/** Which sides an image is used on (bits). */
const ON_TRAIN = 1;
const ON_VAL = 2;

export class Dataset {
  /** The first `KEPT_BAD_ROWS` rows that were skipped, in the order they were found. */
  readonly badRows: BadRow[] = [];
  /** Rows skipped in all (`badRows` keeps the first of them). */
  badRowCount = 0;

  constructor(
    readonly format: DatasetFormat,
    /** The file the training rows came from (imagefolder: its metadata.jsonl). */
    readonly source: string,
    readonly train: DatasetSide,
    readonly val: DatasetSide,
    /** Every image the rows refer to, with the sides it is on. */
    private readonly images: Map<string, number>,
    private readonly policy: BadRowPolicy,
    private readonly onReport: (message: string) => void,
  ) {}

  /** Records bad rows: the first are kept for reports, all are counted. */
  addBadRows(bad: readonly BadRow[]): void {
    this.badRowCount += bad.length;
    this.badRows.push(...bad.slice(0, Math.max(0, KEPT_BAD_ROWS - this.badRows.length)));
  }

  /** Every image the dataset refers to, each once (for `FeatureCache.precompute`); only one side's when given. */
  imagePaths(side?: "train" | "val"): string[] {
    const bit = side === "train" ? ON_TRAIN : side === "val" ? ON_VAL : ON_TRAIN | ON_VAL;
    return [...this.images].filter(([, sides]) => sides & bit).map(([p]) => p);
  }

  /**
   * Marks the rows of images that could not be read as bad: they leave `train` and `val` under
   * "skip" (reported once), or the first one throws under "fail". Reads the rows once when there are
   * failures.
   */
  async reject(failures: readonly { imagePath: string; reason: string }[]): Promise<void> {
    if (failures.length === 0) return;
    const why = new Map(failures.map((f) => [path.resolve(f.imagePath), f.reason]));
    const found: BadRow[] = [];
    let count = 0;
    const keep = (e: TrainExample) => !why.has(e.imagePath);
    const dropped = (e: TrainExample) => {
      if (this.policy === "fail")
        throw badRowError({ line: e.line, source: e.source, reason: why.get(e.imagePath)! });
      count++;
      if (found.length < KEPT_BAD_ROWS)
        found.push({ line: e.line, source: e.source, reason: why.get(e.imagePath)! });
    };
    await this.train.filter(keep, dropped);
    await this.val.filter(keep, dropped);
    for (const p of why.keys()) this.images.delete(p);
    found.sort((a, b) => a.source.localeCompare(b.source) || a.line - b.line);
    this.addBadRows(found);
    this.badRowCount += count - found.length;
    if (count > 0) this.onReport(badRowSummary(found, 5, count));
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
    `cannot tell the format of ${source} from its name; expected a .jsonl file, a LLaVA .json file or an imagefolder directory: rename the file to end in .jsonl or .json (the library's loadDataset also takes a format option)`,
  );
}

/** The file a dataset source names, and the folder its relative image paths start from. */
function rowFile(
  source: string,
  options: Pick<LoadDatasetOptions, "format" | "imagesRoot" | "allowOutsidePaths" | "maxImageBytes">,
): RowFile {
  const format = options.format ?? detectFormat(source);
  if (format !== "imagefolder" && format !== "jsonl" && format !== "llava") {
    throw new InvalidArgumentError(`dataset format "${format}"; expected "jsonl", "llava" or "imagefolder"`);
  }
  let file = source;
  if (format === "imagefolder" && fs.existsSync(source) && fs.statSync(source).isDirectory()) {
    file = path.join(source, "metadata.jsonl");
  }
  return new RowFile(path.resolve(file), format, {
    imagesRoot: path.resolve(options.imagesRoot ?? path.dirname(file)),
    allowOutsidePaths: options.allowOutsidePaths,
    maxImageBytes: options.maxImageBytes,
    facts: new ImageFactsCache(),
  });
}

/** Reads one dataset file or folder into examples and bad rows held in memory (no split, no policy). */
export async function readDatasetRows(
  source: string,
  options: Pick<LoadDatasetOptions, "format" | "imagesRoot" | "allowOutsidePaths" | "maxImageBytes"> = {},
): Promise<{ format: DatasetFormat; file: string; examples: TrainExample[]; bad: BadRow[] }> {
  const rows = rowFile(source, options);
  const examples: TrainExample[] = [];
  const bad: BadRow[] = [];
  for await (const r of rows.rows()) {
    if (isBadRow(r)) bad.push(r);
    else examples.push(r.example);
  }
  bad.sort((a, b) => a.line - b.line);
  return { format: rows.format, file: rows.file, examples, bad };
}

/**
 * Loads a dataset and its validation split, reading each file twice: once to check the rows and
 * observe the split, once to place each usable row on its side.
 */
export async function loadDataset(source: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const { onBadRow = "skip", valFraction = 0.1, onReport = report } = options;
  if (onBadRow !== "skip" && onBadRow !== "fail") {
    throw new InvalidArgumentError(`onBadRow "${onBadRow}"; expected "skip" or "fail"`);
  }
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new InvalidArgumentError(`valFraction ${valFraction}; expected a number in [0, 1)`);
  }
  const main = rowFile(source, options);
  const valRows = options.valFile
    ? rowFile(options.valFile, {
        imagesRoot: options.imagesRoot,
        allowOutsidePaths: options.allowOutsidePaths,
        maxImageBytes: options.maxImageBytes,
      })
    : undefined;
  const bad: BadRow[] = [];
  let badCount = 0;
  const onBad = (b: BadRow) => {
    if (onBadRow === "fail") throw badRowError(b);
    badCount++;
    if (bad.length < KEPT_BAD_ROWS) bad.push(b);
  };
  const images = new Map<string, number>();
  const plan = new SplitPlan({ valFraction, seed: options.seed, splitBy: options.splitBy });
  let usable = 0;
  for await (const r of main.rows()) {
    if (isBadRow(r)) onBad(r);
    else if (!valRows) {
      plan.observe(r.example);
      usable++;
    } else usable++;
  }
  const trainIndex = new RowIndex();
  const valIndex = new RowIndex();
  if (usable > 0) {
    for await (const r of main.rows()) {
      if (isBadRow(r)) continue;
      const held = !valRows && plan.isVal(r.example);
      (held ? valIndex : trainIndex).push(r.at);
      images.set(r.example.imagePath, (images.get(r.example.imagePath) ?? 0) | (held ? ON_VAL : ON_TRAIN));
    }
  }
  if (valRows) {
    for await (const r of valRows.rows()) {
      if (isBadRow(r)) {
        onBad(r);
        continue;
      }
      valIndex.push(r.at);
      images.set(r.example.imagePath, (images.get(r.example.imagePath) ?? 0) | ON_VAL);
    }
  }
  if (trainIndex.length === 0) {
    throw new DatasetError(
      `${main.file}: no usable rows${badCount > 0 ? ` (${badCount} bad; first: line ${bad[0].line}: ${bad[0].reason})` : ""}`,
    );
  }
  const dataset = new Dataset(
    main.format,
    main.file,
    new DatasetSide(main, trainIndex),
    new DatasetSide(valRows ?? main, valIndex),
    images,
    onBadRow,
    onReport,
  );
  dataset.addBadRows(bad);
  dataset.badRowCount = badCount;
  if (badCount > 0) onReport(badRowSummary(bad, 5, badCount));
  return dataset;
}
