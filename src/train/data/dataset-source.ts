/**
 * One dataset file read as a stream of rows: its elements (JSONL lines or LLaVA array elements) with
 * their byte ranges, each turned into examples or a bad row, and any example read again later from
 * its byte range. What a dataset keeps per usable row is a `RowIndex` entry (20 bytes), never the row.
 */
import fs from "node:fs";
import { DatasetError } from "../../errors.js";
import { IMAGEFOLDER_COLUMNS, jsonlLines, PLAIN_JSONL_COLUMNS, parseJsonlLine } from "./dataset-jsonl.js";
import { llavaElements, parseLlavaRecord } from "./dataset-llava.js";
import {
  type BadRow,
  type ImagePathPolicy,
  isBadRow,
  type RawRow,
  type RowElement,
  type TrainExample,
  toExample,
} from "./dataset-rows.js";

export type DatasetFormat = "jsonl" | "llava" | "imagefolder";

/** Bytes read at a time while streaming a dataset file. */
const CHUNK_BYTES = 1 << 20;

/** Where one usable row is: its element's byte range and line, and which of the element's rows it is. */
export interface RowLocation {
  offset: number;
  length: number;
  line: number;
  /** Index among the rows of its element (a LLaVA record gives one row per turn pair). */
  turn: number;
}

/** The locations of a side's rows, in file order, in typed arrays that grow as rows are added. */
export class RowIndex {
  private offsets = new Float64Array(256);
  private lengths = new Uint32Array(256);
  private lines = new Uint32Array(256);
  private turns = new Uint32Array(256);
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(at: RowLocation): void {
    if (this.n === this.offsets.length) {
      const grow = <T extends Float64Array | Uint32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.offsets = grow(this.offsets);
      this.lengths = grow(this.lengths);
      this.lines = grow(this.lines);
      this.turns = grow(this.turns);
    }
    this.offsets[this.n] = at.offset;
    this.lengths[this.n] = at.length;
    this.lines[this.n] = at.line;
    this.turns[this.n] = at.turn;
    this.n++;
  }

  at(i: number): RowLocation {
    if (!(Number.isInteger(i) && i >= 0 && i < this.n)) throw new RangeError(`row ${i} of ${this.n}`);
    return { offset: this.offsets[i], length: this.lengths[i], line: this.lines[i], turn: this.turns[i] };
  }
}

/** A dataset file in one format, with the image policy its rows are checked against. */
export class RowFile {
  /** Where rows read again land (grown to the longest row). */
  private buffer = Buffer.allocUnsafe(4096);

  constructor(
    /** Absolute path of the file. */
    readonly file: string,
    readonly format: DatasetFormat,
    readonly policy: ImagePathPolicy,
  ) {}

  private open(): fs.ReadStream {
    return fs.createReadStream(this.file, { highWaterMark: CHUNK_BYTES });
  }

  private elements(): AsyncGenerator<RowElement> {
    return this.format === "llava" ? llavaElements(this.open(), this.file) : jsonlLines(this.open());
  }

  private parse(el: RowElement): RawRow[] | BadRow {
    if (this.format === "llava") return parseLlavaRecord(el, this.file);
    return parseJsonlLine(
      el,
      this.format === "imagefolder" ? IMAGEFOLDER_COLUMNS : PLAIN_JSONL_COLUMNS,
      this.file,
    );
  }

  /** Fails with a `DatasetError` naming the file when it cannot be read. */
  async checkReadable(): Promise<void> {
    try {
      await fs.promises.access(this.file, fs.constants.R_OK);
    } catch (cause) {
      throw new DatasetError(`dataset file ${this.file} cannot be read: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /** Every row of the file in order: an example with its location, or a bad row. */
  async *rows(): AsyncGenerator<{ example: TrainExample; at: RowLocation } | BadRow> {
    await this.checkReadable();
    for await (const el of this.elements()) {
      const parsed = this.parse(el);
      if (isBadRow(parsed)) {
        yield parsed;
        continue;
      }
      for (const [turn, raw] of parsed.entries()) {
        const example = toExample(raw, this.file, this.policy);
        yield isBadRow(example)
          ? example
          : { example, at: { offset: el.offset, length: el.length, line: el.line, turn } };
      }
    }
  }

  private changed(at: RowLocation, why: string): DatasetError {
    return new DatasetError(
      `${this.file} line ${at.line} changed while it was in use (${why}); load the dataset again`,
      { details: { line: at.line, source: this.file } },
    );
  }

  /** The example a location names among its element's parsed rows. */
  private exampleFrom(parsed: RawRow[] | BadRow, at: RowLocation): TrainExample {
    const raw = isBadRow(parsed) ? undefined : parsed[at.turn];
    if (!raw) throw this.changed(at, isBadRow(parsed) ? parsed.reason : "the row has fewer turns");
    const example = toExample(raw, this.file, this.policy);
    if (isBadRow(example)) throw this.changed(at, example.reason);
    return example;
  }

  /** The example at a location found by `rows`, read again through an open descriptor. */
  exampleAt(fd: number, at: RowLocation): TrainExample {
    if (this.buffer.length < at.length)
      this.buffer = Buffer.allocUnsafe(Math.max(at.length, 2 * this.buffer.length));
    const got = fs.readSync(fd, this.buffer, 0, at.length, at.offset);
    if (got !== at.length) throw this.changed(at, "the file is shorter");
    return this.exampleFrom(this.parse({ ...at, text: this.buffer.toString("utf8", 0, at.length) }), at);
  }

  /**
   * The examples at the first `count` of `index`'s locations, in order: the file is streamed again
   * and the elements at those locations parsed (one pass, no seek per row).
   */
  async *examples(index: RowIndex, count = index.length): AsyncGenerator<TrainExample> {
    const n = Math.min(count, index.length);
    if (n === 0) return;
    let i = 0;
    let at = index.at(0);
    for await (const el of this.elements()) {
      if (el.offset < at.offset) continue;
      if (el.offset > at.offset) throw this.changed(at, "no row starts where it did");
      const parsed = this.parse(el);
      while (at.offset === el.offset) {
        yield this.exampleFrom(parsed, at);
        if (++i === n) return;
        at = index.at(i);
      }
    }
    throw this.changed(at, "the file is shorter");
  }

  /** One example by its position in `index`. */
  example(index: RowIndex, i: number): TrainExample {
    const at = index.at(i);
    const fd = fs.openSync(this.file, "r");
    try {
      return this.exampleAt(fd, at);
    } finally {
      fs.closeSync(fd);
    }
  }
}
