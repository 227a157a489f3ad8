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

/** One JSONL line or one element of a JSON array, where it is in its file, and its text. */
export interface RowElement {
  /** 1-based line of the element's first character. */
  line: number;
  /** Byte offset of the element's first character. */
  offset: number;
  /** Bytes of the element's text. */
  length: number;
  text: string;
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
  /**
   * What the file system said about recently checked images, so that the rows of one image ask it
   * once (a dataset names a few images many times). Default: none, every row asks.
   */
  facts?: ImageFactsCache;
}

/** A file's stat and real path, as `toExample` needs them. */
interface ImageFacts {
  isFile: boolean;
  size: number;
  /** Real path (symlinks resolved) when it is a file. */
  real: string;
}

/** Facts of recently checked image paths, forgotten when more than `limit` are held. */
export class ImageFactsCache {
  private readonly facts = new Map<string, ImageFacts>();
  private readonly roots = new Map<string, string>();
  private readonly resolved = new Map<string, string>();
  constructor(private readonly limit = 4096) {}

  /** `path.resolve(root, image)`, remembered. */
  resolve(root: string, image: string): string {
    const key = `${root}\0${image}`;
    let p = this.resolved.get(key);
    if (p === undefined) {
      p = path.resolve(root, image);
      if (this.resolved.size >= this.limit) this.resolved.clear();
      this.resolved.set(key, p);
    }
    return p;
  }

  of(imagePath: string): ImageFacts {
    let f = this.facts.get(imagePath);
    if (!f) {
      f = readFacts(imagePath);
      if (this.facts.size >= this.limit) this.facts.clear();
      this.facts.set(imagePath, f);
    }
    return f;
  }

  root(root: string): string {
    let r = this.roots.get(root);
    if (r === undefined) {
      r = realRoot(root);
      this.roots.set(root, r);
    }
    return r;
  }
}

function readFacts(imagePath: string): ImageFacts {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(imagePath);
  } catch {
    stat = undefined;
  }
  if (!stat?.isFile()) return { isFile: false, size: 0, real: imagePath };
  return { isFile: true, size: stat.size, real: fs.realpathSync(imagePath) };
}

/** Whether `p` is `root` or below it (both absolute and normalized). */
function isInside(root: string, p: string): boolean {
  if (p === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return p.startsWith(prefix);
}

/** The real path of `root` (symlinks in the root's own path are fine), or root when it does not exist. */
function realRoot(root: string): string {
  try {
    return fs.realpathSync(root);
  } catch {
    return root;
  }
}

function badRow(raw: RawRow, source: string, reason: string): BadRow {
  return { line: raw.line, reason, source };
}

function outsideReason(image: string): string {
  return `image "${image}" is outside the dataset folder; pass --allow-outside-paths (allowOutsidePaths) to use it`;
}

/**
 * Checks one row: answer a non-empty string, prompt a string when given, image a file inside the
 * images root (unless allowed elsewhere) no larger than the limit. A path that leaves the root is
 * refused before the file system is asked about it, so the reason never tells whether it exists.
 */
export function toExample(raw: RawRow, source: string, policy: ImagePathPolicy): TrainExample | BadRow {
  const {
    imagesRoot,
    allowOutsidePaths = false,
    maxImageBytes = DEFAULT_MAX_DATASET_IMAGE_BYTES,
    facts = new ImageFactsCache(1),
  } = policy;
  if (typeof raw.image !== "string" || raw.image.trim() === "") {
    return badRow(raw, source, `image is ${describe(raw.image)}; expected a file path`);
  }
  if (typeof raw.answer !== "string" || raw.answer.trim() === "") {
    return badRow(raw, source, `answer is ${describe(raw.answer)}; expected non-empty text`);
  }
  if (raw.prompt !== undefined && raw.prompt !== null && typeof raw.prompt !== "string") {
    return badRow(raw, source, `prompt is ${describe(raw.prompt)}; expected text`);
  }
  const imagePath = facts.resolve(imagesRoot, raw.image);
  if (!allowOutsidePaths && !isInside(facts.resolve(imagesRoot, "."), imagePath))
    return badRow(raw, source, outsideReason(raw.image));
  const stat = facts.of(imagePath);
  if (!stat.isFile) return badRow(raw, source, `image "${raw.image}" not found (looked for ${imagePath})`);
  // A symlink inside the folder may still lead out of it.
  if (!allowOutsidePaths && !isInside(facts.root(imagesRoot), stat.real))
    return badRow(raw, source, outsideReason(raw.image));
  if (stat.size > maxImageBytes) {
    return badRow(
      raw,
      source,
      `image "${raw.image}" is ${stat.size} bytes; the limit is maxImageBytes = ${maxImageBytes}`,
    );
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

/** Whether a row result is a bad row (neither examples nor rows carry a `reason`). */
export function isBadRow<T extends object>(x: T | BadRow): x is BadRow {
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
