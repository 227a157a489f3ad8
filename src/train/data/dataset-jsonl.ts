/**
 * JSON Lines readers: plain JSONL (`{image, prompt?, answer|caption}`) and the HF imagefolder
 * `metadata.jsonl` (`file_name` + `text`/`caption`/`answer`, optional `prompt`/`question`).
 * One JSON object per line; blank lines are skipped; a line that is not a JSON object is a bad row.
 * Lines are read in chunks with their byte offsets, so a file larger than memory streams through and
 * a row can be read again from where it is.
 */
import { quoteValue } from "../../errors.js";
import { type BadRow, idOf, pick, type RawRow, type RowElement } from "./dataset-rows.js";

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

const NEWLINE = 0x0a;
const RETURN = 0x0d;

/** The non-blank lines of a file, in order, each with its line number and byte range (without `\r\n`). */
export async function* jsonlLines(stream: AsyncIterable<Buffer>): AsyncGenerator<RowElement> {
  const decoder = new TextDecoder("utf-8");
  let pieces: Buffer[] = [];
  let start = 0; // file offset of the current line
  let pos = 0; // file offset of the current chunk
  let line = 0;
  const make = (bytes: Buffer): RowElement | undefined => {
    line++;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === RETURN ? bytes.length - 1 : bytes.length;
    const text = decoder.decode(bytes.subarray(0, end));
    return text.trim() === "" ? undefined : { line, offset: start, length: end, text };
  };
  for await (const chunk of stream) {
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
      const part = chunk.subarray(from, nl);
      const el = make(pieces.length > 0 ? Buffer.concat([...pieces, part]) : part);
      pieces = [];
      if (el) yield el;
      from = nl + 1;
      start = pos + from;
    }
    if (from < chunk.length) pieces.push(chunk.subarray(from));
    pos += chunk.length;
  }
  if (pieces.length > 0) {
    const el = make(Buffer.concat(pieces));
    if (el) yield el;
  }
}

/** One JSONL line as a row, or why it is not one. */
export function parseJsonlLine(el: RowElement, columns: JsonlColumns, file: string): RawRow[] | BadRow {
  let value: unknown;
  try {
    value = JSON.parse(el.text);
  } catch (cause) {
    return { line: el.line, source: file, reason: `not valid JSON (${(cause as Error).message})` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { line: el.line, source: file, reason: `expected a JSON object, got ${quoteValue(value, 60)}` };
  }
  const obj = value as Record<string, unknown>;
  return [
    {
      line: el.line,
      id: idOf(obj),
      image: pick(obj, columns.image),
      prompt: pick(obj, columns.prompt),
      answer: pick(obj, columns.answer),
    },
  ];
}
