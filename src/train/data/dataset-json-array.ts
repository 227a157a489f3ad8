/**
 * Splits a top-level JSON array into its elements without parsing the whole document at once, so
 * that each element gets the line it starts on (for bad-row reports), one broken element does not
 * lose the rest, and files beyond V8's string limit (LLaVA mixes are ~1 GB) still load.
 * Works on UTF-8 bytes: every structural character is ASCII, and no byte of a multi-byte sequence is.
 */
import { DatasetError } from "../../errors.js";

export interface ArrayElement {
  /** 1-based line of the element's first character. */
  line: number;
  /** The element's JSON text. */
  text: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const OPEN = new Set([0x5b, 0x7b]); // [ {
const CLOSE = new Set([0x5d, 0x7d]); // ] }

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

export function splitJsonArray(bytes: Uint8Array, file: string): ArrayElement[] {
  const fail = (what: string, line: number): never => {
    throw new DatasetError(`${file} line ${line}: ${what}; expected a JSON array of objects`, {
      details: { line },
    });
  };
  let i = 0;
  let line = 1;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3; // UTF-8 byte order mark
  while (i < bytes.length && isSpace(bytes[i])) line += bytes[i++] === NEWLINE ? 1 : 0;
  if (bytes[i] !== 0x5b)
    fail(`the document starts with ${JSON.stringify(String.fromCharCode(bytes[i] ?? 32))}`, line);
  i++;
  const elements: ArrayElement[] = [];
  const decoder = new TextDecoder("utf-8");
  let depth = 0; // nesting inside the current element
  let start = -1;
  let startLine = 0;
  let inString = false;
  for (; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === NEWLINE) line++;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
      continue;
    }
    if (start < 0) {
      if (isSpace(b) || (b === COMMA && elements.length > 0)) continue;
      if (b === 0x5d) return elements; // end of the top-level array
      start = i;
      startLine = line;
    }
    if (b === QUOTE) {
      inString = true;
    } else if (OPEN.has(b)) {
      depth++;
    } else if (CLOSE.has(b) && depth > 0) {
      depth--;
      if (depth === 0) {
        elements.push({ line: startLine, text: decoder.decode(bytes.subarray(start, i + 1)) });
        start = -1;
      }
    } else if (depth === 0 && (b === COMMA || b === 0x5d)) {
      // The end of a scalar element: a comma, or the `]` closing the array.
      elements.push({ line: startLine, text: decoder.decode(bytes.subarray(start, i)).trim() });
      start = -1;
      if (b === 0x5d) return elements;
    }
  }
  return fail("the array is not closed (the file ends early)", line);
}
