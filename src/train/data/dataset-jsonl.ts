/**
 * JSON Lines readers: plain JSONL (`{image, prompt?, answer|caption}`) and the HF imagefolder
 * `metadata.jsonl` (`file_name` + `text`/`caption`/`answer`, optional `prompt`/`question`).
 * One JSON object per line; blank lines are skipped; a line that is not a JSON object is a bad row.
 */
import fs from "node:fs";
import readline from "node:readline";
import { DatasetError, quoteValue } from "../../errors.js";
import { type BadRow, idOf, pick, type RawRow } from "./dataset-rows.js";

/** Column names per role, in order of preference. */
export interface JsonlColumns {
  image: readonly string[];
  prompt: readonly string[];
  answer: readonly string[];
}

export const PLAIN_JSONL_COLUMNS: JsonlColumns = {
  image: ["image"],
  prompt: ["prompt", "question"],
  answer: ["answer", "caption"],
};

/** The text columns `datasets`' imagefolder users name most often. */
export const IMAGEFOLDER_COLUMNS: JsonlColumns = {
  image: ["file_name"],
  prompt: ["prompt", "question"],
  answer: ["text", "caption", "answer"],
};

export async function readJsonlRows(
  file: string,
  columns: JsonlColumns,
): Promise<{ rows: RawRow[]; bad: BadRow[] }> {
  let stream: fs.ReadStream;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    stream = fs.createReadStream(file, { encoding: "utf8" });
  } catch (cause) {
    throw new DatasetError(`dataset file ${file} cannot be read: ${(cause as Error).message}`, { cause });
  }
  const rows: RawRow[] = [];
  const bad: BadRow[] = [];
  let line = 0;
  for await (const text of readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      bad.push({ line, source: file, reason: `not valid JSON (${(cause as Error).message})` });
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      bad.push({
        line,
        source: file,
        reason: `expected a JSON object, got ${quoteValue(value, 60)}`,
      });
      continue;
    }
    const obj = value as Record<string, unknown>;
    rows.push({
      line,
      id: idOf(obj),
      image: pick(obj, columns.image),
      prompt: pick(obj, columns.prompt),
      answer: pick(obj, columns.answer),
    });
  }
  return { rows, bad };
}
