/**
 * What every dataset format reduces to: rows with a line number, an image reference and text fields,
 * turned into training examples or bad rows with a reason.
 */

import fs from "node:fs";
import path from "node:path";
import { quoteValue } from "../../errors.js";

/** PaliGemma's task prefix for short captions ("caption {lang}"); the prompt builder adds the "\n". */
export const DEFAULT_CAPTION_PROMPT = "caption en";

export interface TrainExample {
  /** Stable across runs: the row's `id` field, else `<file name>:<line>`; LLaVA turns after the first add `#<turn>`. */
  id: string;
  /** Absolute path of the image file. */
  imagePath: string;
  /** Text before the answer; `"caption en"` for caption rows without a prompt. */
  prompt: string;
  /** The text the model learns to write. */
  answer: string;
  /** 1-based line in `source` where the row starts. */
  line: number;
  /** The file the row came from. */
  source: string;
}

export interface BadRow {
  /** 1-based line in `source` where the row starts. */
  line: number;
  /** Why the row cannot be used, quoting the offending value. */
  reason: string;
  source: string;
}

/** A row as read from a file, before its image and text are checked. */
export interface RawRow {
  line: number;
  id?: string;
  /** Image reference as written in the file (relative to the images root, or absolute). */
  image: unknown;
  prompt?: unknown;
  answer: unknown;
}

export interface RowResult {
  examples: TrainExample[];
  bad: BadRow[];
}

function describe(v: unknown): string {
  return v === undefined ? "missing" : `${quoteValue(v)} (${v === null ? "null" : typeof v})`;
}

/** Largest image file a dataset row may name by default: 64 MiB. */
export const DEFAULT_MAX_DATASET_IMAGE_BYTES = 64 * 1024 * 1024;

/** Where a row's image may come from. */
export interface ImagePathPolicy {
  /** Folder that relative image paths start from, and (unless `allowOutsidePaths`) the only one images may come from. */
  imagesRoot: string;
  /** Accept `../`, absolute paths and symlinks that lead out of `imagesRoot`. Default false. */
  allowOutsidePaths?: boolean;
  /** Largest image file in bytes, checked from its stat before it is read. Default 64 MiB. */
  maxImageBytes?: number;
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith(`..${path.sep}`) && rel !== ".." && !path.isAbsolute(rel));
}

/** The real path of `root` (symlinks in the root's own path are fine), or root when it does not exist. */
function realRoot(root: string): string {
  try {
    return fs.realpathSync(root);
  } catch {
    return root;
  }
}

/**
 * Checks one row: answer a non-empty string, prompt a string when given, image a file inside the
 * images root (unless allowed elsewhere) no larger than the limit. A path that leaves the root is
 * refused before the file system is asked about it, so the reason never tells whether it exists.
 */
export function toExample(raw: RawRow, source: string, policy: ImagePathPolicy): TrainExample | BadRow {
  const { imagesRoot, allowOutsidePaths = false, maxImageBytes = DEFAULT_MAX_DATASET_IMAGE_BYTES } = policy;
  const bad = (reason: string): BadRow => ({ line: raw.line, reason, source });
  if (typeof raw.image !== "string" || raw.image.trim() === "") {
    return bad(`image is ${describe(raw.image)}; expected a file path`);
  }
  if (typeof raw.answer !== "string" || raw.answer.trim() === "") {
    return bad(`answer is ${describe(raw.answer)}; expected non-empty text`);
  }
  if (raw.prompt !== undefined && raw.prompt !== null && typeof raw.prompt !== "string") {
    return bad(`prompt is ${describe(raw.prompt)}; expected text`);
  }
  const imagePath = path.resolve(imagesRoot, raw.image);
  const outside = () =>
    bad(
      `image "${raw.image}" is outside the dataset folder; pass --allow-outside-paths (allowOutsidePaths) to use it`,
    );
  if (!allowOutsidePaths && !isInside(imagesRoot, imagePath)) return outside();
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(imagePath);
  } catch {
    stat = undefined;
  }
  if (!stat?.isFile()) return bad(`image "${raw.image}" not found (looked for ${imagePath})`);
  // A symlink inside the folder may still lead out of it.
  if (!allowOutsidePaths && !isInside(realRoot(imagesRoot), fs.realpathSync(imagePath))) return outside();
  if (stat.size > maxImageBytes) {
    return bad(`image "${raw.image}" is ${stat.size} bytes; the limit is maxImageBytes = ${maxImageBytes}`);
  }
  const prompt = typeof raw.prompt === "string" && raw.prompt.trim() !== "" ? raw.prompt.trim() : undefined;
  return {
    id: raw.id ?? `${path.basename(source)}:${raw.line}`,
    imagePath,
    prompt: prompt ?? DEFAULT_CAPTION_PROMPT,
    answer: raw.answer.trim(),
    line: raw.line,
    source,
  };
}

export function isBadRow(x: TrainExample | BadRow): x is BadRow {
  return "reason" in x;
}

/** First of `keys` present in `obj` (the column aliases each format allows). */
export function pick(obj: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) if (obj[k] !== undefined) return obj[k];
  return undefined;
}

/** The `id` field as a string when it is a string or number. */
export function idOf(obj: Record<string, unknown>): string | undefined {
  const id = obj.id;
  return typeof id === "string" || typeof id === "number" ? String(id) : undefined;
}
