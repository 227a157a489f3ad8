import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonArraySplitter, splitJsonArray } from "../../src/train/data/dataset-json-array.js";
import type { TrainExample } from "../../src/train/data/dataset-rows.js";
import { splitExamples, splitHash } from "../../src/train/data/dataset-split.js";

const run = promisify(execFile);
const ROWS = 1_000_000;
/** Every this many rows one is bad (no answer). */
const BAD_EVERY = 100_000;
/**
 * How far the peak RSS of the child may rise above what it held before reading the 1M-row dataset
 * (Node, the modules, the demo encoder and LLM: ~210 MiB). Measured: +50–60 MiB, most of it the row
 * index (20 bytes a row); the loader that held every row rose ~380 MiB.
 */
const DATASET_RSS_MIB = 128;

let root: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-stream-"));
  fs.mkdirSync(path.join(root, "img"));
  const colours = ["#d22", "#2d2", "#22d", "#dd2"];
  for (const [i, c] of colours.entries()) {
    await sharp({ create: { width: 20, height: 16, channels: 3, background: c } })
      .png()
      .toFile(path.join(root, "img", `${i}.png`));
  }
  const out = fs.openSync(path.join(root, "big.jsonl"), "w");
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    lines.push(
      i % BAD_EVERY === 7
        ? JSON.stringify({ id: `r${i}`, image: `img/${i % 4}.png` })
        : JSON.stringify({
            id: `r${i}`,
            image: `img/${i % 4}.png`,
            prompt: "what colour?",
            answer: `c${i % 4}`,
          }),
    );
    if (lines.length === 50_000) {
      fs.writeSync(out, `${lines.join("\n")}\n`);
      lines.length = 0;
    }
  }
  fs.closeSync(out);
});

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("a dataset larger than memory", () => {
  it("streams 1M JSONL rows through loading, the split and feature preparation in bounded memory", async () => {
    // A 96 MiB heap: a loader that kept the rows would run out of it (and the peak RSS bound says the same).
    const { stdout } = await run(
      process.execPath,
      [
        "--max-old-space-size=96",
        "--import",
        "tsx",
        "test/train/stream/read-large.ts",
        path.join(root, "big.jsonl"),
        path.join(root, "cache"),
      ],
      { maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(stdout.trim().split("\n").at(-1)!);
    const bad = ROWS / BAD_EVERY;
    expect(r.bad).toBe(bad);
    expect(r.kept).toBe(bad);
    expect(r.train + r.val).toBe(ROWS - bad);
    expect(r.valRows).toBe(r.val);
    expect(r.val / ROWS).toBeGreaterThan(0.09);
    expect(r.val / ROWS).toBeLessThan(0.11);
    expect(r.misplaced).toBe(0);
    expect(r.images).toBe(4);
    expect(r.computed).toBe(4);
    expect(r.laidOut).toBeGreaterThanOrEqual(2000);
    expect(r.inputRms).toBeGreaterThan(0);
    expect(r.peakRssMiB - r.baseRssMiB).toBeLessThan(DATASET_RSS_MIB);
  }, 120_000);
});

/** The split as it was decided with every example in memory: the reference the streaming plan must equal. */
function referenceSplit(
  examples: readonly TrainExample[],
  valFraction: number,
  seed: number,
  byImage: boolean,
) {
  const keyOf = (e: TrainExample) => (byImage ? e.imagePath : e.id);
  const hashes = new Map<string, number>();
  for (const e of examples) if (!hashes.has(keyOf(e))) hashes.set(keyOf(e), splitHash(keyOf(e), seed));
  const held = new Set([...hashes].filter(([, h]) => h < valFraction).map(([k]) => k));
  const sorted = [...hashes].sort((a, b) => a[1] - b[1]);
  if (valFraction > 0 && held.size === 0 && examples.length >= 10 && hashes.size > 1) held.add(sorted[0][0]);
  if (held.size === hashes.size) {
    if (hashes.size > 1) held.delete(sorted[sorted.length - 1][0]);
    else held.clear();
  }
  return examples.filter((e) => held.has(keyOf(e))).map((e) => e.id);
}

describe("SplitPlan", () => {
  const examples = (n: number, images: number): TrainExample[] =>
    Array.from({ length: n }, (_, i) => ({
      id: `e${i}`,
      imagePath: `/img/${i % images}.png`,
      prompt: "p",
      answer: "a",
      line: i + 1,
      source: "s",
    }));

  it("holds out exactly the rows the in-memory split held out, edge cases included", () => {
    for (const [n, images] of [
      [2000, 2000],
      [500, 7],
      [12, 12],
      [12, 2],
      [9, 9],
      [40, 1],
    ]) {
      for (const valFraction of [0, 0.001, 0.1, 0.5, 0.999]) {
        for (const byImage of [true, false]) {
          const ex = examples(n, images);
          const got = splitExamples(ex, { valFraction, seed: 5, splitBy: byImage ? "image" : "id" });
          expect(got.val.map((e) => e.id)).toEqual(referenceSplit(ex, valFraction, 5, byImage));
          expect(got.train.length + got.val.length).toBe(n);
          if (n >= 1 && (byImage ? images : n) > 1) expect(got.train.length).toBeGreaterThan(0);
        }
      }
    }
  });

  it("keeps a single group in training", () => {
    const got = splitExamples(examples(40, 1), { valFraction: 0.999 });
    expect(got.val).toHaveLength(0);
  });
});

describe("JsonArraySplitter", () => {
  it("gives the same elements, lines and byte ranges whatever the chunk size", () => {
    const text = `\uFEFF[\n {"a": "x,]}\\"y", "é": [1, {"b": 2}]},\n  3 ,\n "s\\\\" , {"c":\n"ü"}\n]`;
    const bytes = Buffer.from(text);
    const whole = splitJsonArray(bytes, "t.json");
    expect(whole.map((e) => e.line)).toEqual([2, 3, 4, 4]);
    for (const e of whole) {
      expect(
        bytes
          .subarray(e.offset, e.offset + e.length)
          .toString()
          .trim(),
      ).toBe(e.text);
    }
    for (const size of [1, 2, 3, 7]) {
      const splitter = new JsonArraySplitter("t.json");
      const got = [];
      for (let i = 0; i < bytes.length; i += size) got.push(...splitter.push(bytes.subarray(i, i + size)));
      splitter.end();
      expect(got).toEqual(whole);
    }
  });
});
