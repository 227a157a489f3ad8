/**
 * Splits a top-level JSON array into its elements without parsing the whole document at once, so
 * that each element gets the line it starts on (for bad-row reports), one broken element does not
 * lose the rest, and files larger than memory (LLaVA mixes are ~1 GB) stream through in chunks: only
 * the element being read is held.
 * Works on UTF-8 bytes: every structural character is ASCII, and no byte of a multi-byte sequence is.
 */
import { DatasetError } from "../../errors.js";
import type { RowElement } from "./dataset-rows.js";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const BOM = [0xef, 0xbb, 0xbf];
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN = new Set([0x5b, 0x7b]); // [ {
const CLOSE = new Set([0x5d, 0x7d]); // ] }

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/**
 * The splitter's state between chunks: `push` each chunk in file order (it returns the elements that
 * ended in it), then `end` checks that the array was closed.
 */
export class JsonArraySplitter {
  private readonly decoder = new TextDecoder("utf-8");
  private pos = 0; // bytes seen before the current chunk
  private line = 1;
  private begun = false; // the opening `[` was read
  private done = false; // the closing `]` was read
  private count = 0;
  private depth = 0; // nesting inside the current element
  private inString = false;
  private escaped = false;
  private start = -1; // file offset of the current element, or -1 between elements
  private startLine = 0;
  private pieces: Uint8Array[] = []; // the current element's bytes from earlier chunks
  private bom = 0; // bytes of a byte order mark read so far, -1 when the file has none

  constructor(private readonly file: string) {}

  private fail(what: string): never {
    throw new DatasetError(`${this.file} line ${this.line}: ${what}; expected a JSON array of objects`, {
      details: { line: this.line },
    });
  }

  private finish(chunk: Uint8Array, endInChunk: number, trim: boolean): RowElement {
    const from = Math.max(0, this.start - this.pos);
    const tail = chunk.subarray(from, endInChunk);
    const bytes = this.pieces.length > 0 ? Buffer.concat([...this.pieces, tail]) : tail;
    this.pieces = [];
    const text = this.decoder.decode(bytes);
    const element = {
      line: this.startLine,
      offset: this.start,
      length: bytes.length,
      text: trim ? text.trim() : text,
    };
    this.start = -1;
    this.count++;
    return element;
  }

  push(chunk: Uint8Array): RowElement[] {
    const out: RowElement[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      // A UTF-8 byte order mark at the start (it may arrive split over chunks).
      if (this.bom >= 0 && this.bom < 3 && this.pos + i === this.bom) {
        if (b === BOM[this.bom]) {
          this.bom++;
          continue;
        }
        this.bom = -1;
      }
      if (b === NEWLINE) this.line++;
      if (this.done) break; // what follows the closing `]` is ignored
      if (!this.begun) {
        if (isSpace(b)) continue;
        if (b !== OPEN_ARRAY) this.fail(`the document starts with ${JSON.stringify(String.fromCharCode(b))}`);
        this.begun = true;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        continue;
      }
      if (this.start < 0) {
        if (isSpace(b) || (b === COMMA && this.count > 0)) continue;
        if (b === CLOSE_ARRAY) {
          this.done = true;
          continue;
        }
        this.start = this.pos + i;
        this.startLine = this.line;
      }
      if (b === QUOTE) {
        this.inString = true;
      } else if (OPEN.has(b)) {
        this.depth++;
      } else if (CLOSE.has(b) && this.depth > 0) {
        this.depth--;
        if (this.depth === 0) out.push(this.finish(chunk, i + 1, false));
      } else if (this.depth === 0 && (b === COMMA || b === CLOSE_ARRAY)) {
        // The end of a scalar element: a comma, or the `]` closing the array.
        out.push(this.finish(chunk, i, true));
        if (b === CLOSE_ARRAY) this.done = true;
      }
    }
    if (this.start >= 0) this.pieces.push(chunk.slice(Math.max(0, this.start - this.pos)));
    this.pos += chunk.length;
    return out;
  }

  end(): void {
    if (!this.begun) this.fail('the document starts with " "');
    if (!this.done) this.fail("the array is not closed (the file ends early)");
  }
}

/** Every element of a JSON array held in memory. */
export function splitJsonArray(bytes: Uint8Array, file: string): RowElement[] {
  const splitter = new JsonArraySplitter(file);
  const elements = splitter.push(bytes);
  splitter.end();
  return elements;
}
