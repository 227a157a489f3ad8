import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { DatasetError } from "../../src/errors.js";
import { detectFormat, loadDataset, readDatasetRows } from "../../src/train/data/dataset.js";
import { splitJsonArray } from "../../src/train/data/dataset-json-array.js";
import { splitExamples } from "../../src/train/data/dataset-split.js";

let root: string;
const png = () =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: "#c33" } })
    .png()
    .toBuffer();
const quiet = { onReport: () => {} };
/** The JSONL tests keep their data files in subfolders and name images from `root`. */
const inRoot = { ...quiet, imagesRoot: "" };

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-dataset-"));
  inRoot.imagesRoot = root;
  fs.mkdirSync(path.join(root, "img"));
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(root, "img", `${i}.png`), await png());
});

function write(name: string, text: string): string {
  const file = path.join(root, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

describe("plain JSONL", () => {
  it("reads rows, defaults caption prompts and reports bad rows with their lines", async () => {
    const file = write(
      "plain/data.jsonl",
      [
        JSON.stringify({ image: "img/0.png", caption: "a red square" }),
        JSON.stringify({ image: "img/1.png", prompt: "what color?", answer: "red", id: "q1" }),
        "",
        "{not json",
        JSON.stringify({ image: "img/missing.png", answer: "x" }),
        JSON.stringify({ image: "img/2.png", answer: "  " }),
        JSON.stringify({ image: "img/3.png", answer: 5 }),
      ].join("\n"),
    );
    const reports: string[] = [];
    const ds = await loadDataset(file, {
      valFraction: 0,
      imagesRoot: root,
      onReport: (m) => reports.push(m),
    });
    expect(ds.format).toBe("jsonl");
    expect((await ds.train.toArray()).map((e) => [e.id, e.prompt, e.answer, e.line])).toEqual([
      ["data.jsonl:1", "caption en", "a red square", 1],
      ["q1", "what color?", "red", 2],
    ]);
    expect((await ds.train.toArray())[0].imagePath).toBe(path.join(root, "img", "0.png"));
    expect(ds.badRows.map((b) => b.line)).toEqual([4, 5, 6, 7]);
    expect(ds.badRows[1].reason).toContain('"img/missing.png" not found');
    expect(ds.badRows[2].reason).toContain("expected non-empty text");
    expect(ds.badRows[3].reason).toContain("5 (number)");
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain("skipped 4 bad rows");
    expect(reports[0]).toContain("line 4: not valid JSON");
  });

  it("fails on the first bad row under onBadRow: fail, naming its line", async () => {
    const file = write(
      "fail/data.jsonl",
      `${JSON.stringify({ image: "img/0.png", answer: "a" })}\n${JSON.stringify({ image: "nope.png", answer: "b" })}\n`,
    );
    const error = await loadDataset(file, { onBadRow: "fail", ...inRoot }).catch((e) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toMatch(/line 2: image "nope.png" not found/);
    expect(error.details.line).toBe(2);
  });

  it("takes images from imagesRoot when given", async () => {
    const file = write("rooted/data.jsonl", JSON.stringify({ image: "5.png", answer: "a" }));
    const ds = await loadDataset(file, { imagesRoot: path.join(root, "img"), valFraction: 0, ...quiet });
    expect((await ds.train.toArray())[0].imagePath).toBe(path.join(root, "img", "5.png"));
  });
});

describe("image paths stay inside the dataset folder", () => {
  it("refuses ../ and absolute paths without saying whether the file exists", async () => {
    const outside = path.join(root, "img", "4.png"); // exists, but outside confined/
    const file = write(
      "confined/data.jsonl",
      [
        JSON.stringify({ image: "../img/4.png", answer: "a" }),
        JSON.stringify({ image: "../img/no-such.png", answer: "b" }),
        JSON.stringify({ image: outside, answer: "c" }),
        JSON.stringify({ image: "/etc/no-such-file", answer: "d" }),
        JSON.stringify({ image: "sub/../../img/4.png", answer: "e" }),
      ].join("\n"),
    );
    const error = await loadDataset(file, quiet).catch((e) => e);
    expect(error).toBeInstanceOf(DatasetError); // no usable rows
    const ds = await readDatasetRows(file);
    const reasons = ds.bad.map((b) => b.reason);
    expect(reasons).toHaveLength(5);
    for (const reason of reasons) {
      expect(reason).toMatch(
        /^image ".*" is outside the dataset folder; pass --allow-outside-paths \(allowOutsidePaths\) to use it$/,
      );
      expect(reason).not.toMatch(/not found|looked for/);
    }
    // The existing and the missing file read alike apart from the name given.
    expect(reasons[0].replace("4.png", "X")).toBe(reasons[1].replace("no-such.png", "X"));
  });

  it("refuses a symlink inside the folder that leads out of it", async () => {
    const file = write("linked/data.jsonl", JSON.stringify({ image: "link.png", answer: "a" }));
    fs.symlinkSync(path.join(root, "img", "6.png"), path.join(root, "linked", "link.png"));
    const { bad, examples } = await readDatasetRows(file);
    expect(examples).toEqual([]);
    expect(bad[0].reason).toMatch(/^image "link\.png" is outside the dataset folder/);
  });

  it("takes outside paths when allowed", async () => {
    const file = write(
      "allowed/data.jsonl",
      [
        JSON.stringify({ image: "../img/4.png", answer: "a" }),
        JSON.stringify({ image: path.join(root, "img", "5.png"), answer: "b" }),
      ].join("\n"),
    );
    const ds = await loadDataset(file, { ...quiet, valFraction: 0, allowOutsidePaths: true });
    expect((await ds.train.toArray()).map((e) => e.imagePath)).toEqual([
      path.join(root, "img", "4.png"),
      path.join(root, "img", "5.png"),
    ]);
  });

  it("checks an image's size from its stat before anything reads it", async () => {
    const file = write("sized/data.jsonl", JSON.stringify({ image: "big.png", answer: "a" }));
    fs.writeFileSync(path.join(root, "sized", "big.png"), Buffer.alloc(2048));
    const { bad } = await readDatasetRows(file, { maxImageBytes: 1024 });
    expect(bad[0].reason).toBe('image "big.png" is 2048 bytes; the limit is maxImageBytes = 1024');
  });
});

describe("LLaVA JSON", () => {
  it("turns each human → gpt pair into an example and reports records by their line", async () => {
    const records = [
      {
        id: "a",
        image: "0.png",
        conversations: [
          { from: "human", value: "<image>\nWhat is this?" },
          { from: "gpt", value: "a square" },
          { from: "human", value: "What color?" },
          { from: "gpt", value: "red" },
        ],
      },
      {
        id: "text-only",
        conversations: [
          { from: "human", value: "hi" },
          { from: "gpt", value: "hello" },
        ],
      },
      {
        id: "b",
        image: "1.png",
        conversations: [
          { from: "gpt", value: "x" },
          { from: "human", value: "y" },
        ],
      },
    ];
    const text = `[\n${records.map((r) => JSON.stringify(r, null, 1)).join(",\n")}\n]`;
    const file = write("llava/chat.json", text);
    const ds = await loadDataset(file, { imagesRoot: path.join(root, "img"), valFraction: 0, ...quiet });
    expect(ds.format).toBe("llava");
    expect((await ds.train.toArray()).map((e) => [e.id, e.prompt, e.answer, e.line])).toEqual([
      ["a", "What is this?", "a square", 2],
      ["a#2", "What color?", "red", 2],
    ]);
    const lines = text.split("\n");
    expect(ds.badRows.map((b) => b.line)).toEqual([
      lines.findIndex((l) => l.includes('"text-only"')),
      lines.findIndex((l) => l.includes('"b"')),
    ]);
    expect(ds.badRows[0].reason).toContain("has no image");
    expect(ds.badRows[1].reason).toContain('expected "human" then "gpt"');
  });

  it("splits arrays with strings holding brackets, escapes and scalars", () => {
    const text = '[\n {"a": "]},\\"["},\n 3,\n "x,y" ,\n{"b": [1, {"c": 2}]}]';
    const els = splitJsonArray(Buffer.from(text), "t.json");
    expect(els.map((e) => JSON.parse(e.text))).toEqual([{ a: ']},"[' }, 3, "x,y", { b: [1, { c: 2 }] }]);
    expect(els.map((e) => e.line)).toEqual([2, 3, 4, 5]);
    expect(() => splitJsonArray(Buffer.from('[{"a": 1}'), "t.json")).toThrow(/not closed/);
    expect(() => splitJsonArray(Buffer.from('{"a": 1}'), "t.json")).toThrow(/expected a JSON array/);
  });

  it("keeps the good records when one element is broken JSON", async () => {
    const good = {
      id: "g",
      image: "2.png",
      conversations: [
        { from: "human", value: "q" },
        { from: "gpt", value: "a" },
      ],
    };
    const file = write("llava/broken.json", `[\n{"id": tru},\n${JSON.stringify(good)}\n]`);
    const ds = await loadDataset(file, { imagesRoot: path.join(root, "img"), valFraction: 0, ...quiet });
    expect((await ds.train.toArray()).map((e) => e.id)).toEqual(["g"]);
    expect(ds.badRows).toEqual([
      expect.objectContaining({ line: 2, reason: expect.stringContaining("not valid JSON") }),
    ]);
  });
});

describe("hostile values in rows (found by npm run fuzz)", () => {
  const deep = `${"[".repeat(5000)}1${"]".repeat(5000)}`;

  it("reports deeply nested and huge values as bad rows instead of overflowing the stack", async () => {
    const file = write(
      "hostile/data.jsonl",
      [
        `{"image": ${deep}, "answer": "a"}`,
        `{"image": "img/0.png", "answer": ${JSON.stringify("x".repeat(100_000))}, "prompt": ${deep}}`,
        deep,
        '{"image": "img/1.png", "answer": "ok"}',
      ].join("\n"),
    );
    const ds = await loadDataset(file, { ...inRoot, valFraction: 0 });
    expect((await ds.train.toArray()).map((e) => e.answer)).toEqual(["ok"]);
    expect(ds.badRows.map((b) => b.line)).toEqual([1, 2, 3]);
    expect(ds.badRows[0].reason).toContain("a deeply nested array");
    for (const b of ds.badRows) expect(b.reason.length).toBeLessThan(400);
  });

  it("names nested LLaVA turns and conversations without overflowing", async () => {
    const record = (conversations: string) =>
      `{"id": "n", "image": "0.png", "conversations": ${conversations}}`;
    const good =
      '{"id": "g", "image": "2.png", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}';
    const file = write(
      "hostile/llava.json",
      `[\n${record(deep)},\n${record(`[{"from": ${deep}, "value": "q"}, {"from": "gpt", "value": "a"}]`)},\n${good}\n]`,
    );
    const ds = await loadDataset(file, { imagesRoot: path.join(root, "img"), valFraction: 0, ...quiet });
    expect((await ds.train.toArray()).map((e) => e.id)).toEqual(["g"]);
    expect(ds.badRows.map((b) => b.reason)).toEqual([
      expect.stringContaining("a deeply nested array"),
      expect.stringContaining("a deeply nested array"),
    ]);
  });
});

describe("imagefolder", () => {
  it("is detected from metadata.jsonl and reads file_name with text columns", async () => {
    const dir = path.join(root, "folder");
    fs.mkdirSync(path.join(dir, "train"), { recursive: true });
    fs.copyFileSync(path.join(root, "img", "0.png"), path.join(dir, "train", "0.png"));
    write(
      "folder/metadata.jsonl",
      [
        JSON.stringify({ file_name: "train/0.png", text: "a red square" }),
        JSON.stringify({ file_name: "train/0.png", question: "what color?", answer: "red" }),
      ].join("\n"),
    );
    expect(detectFormat(dir)).toBe("imagefolder");
    const ds = await loadDataset(dir, { valFraction: 0, ...quiet });
    expect((await ds.train.toArray()).map((e) => [e.prompt, e.answer])).toEqual([
      ["caption en", "a red square"],
      ["what color?", "red"],
    ]);
    expect((await ds.train.toArray())[0].imagePath).toBe(path.join(dir, "train", "0.png"));
  });

  it("explains what it expected from an unknown path", () => {
    fs.mkdirSync(path.join(root, "empty"), { recursive: true });
    expect(() => detectFormat(path.join(root, "empty"))).toThrow(/has no metadata.jsonl/);
    expect(() => detectFormat(write("x.csv", ""))).toThrow(
      /\.jsonl file, a LLaVA \.json file.*rename the file to end in \.jsonl or \.json/,
    );
  });
});

describe("validation split", () => {
  const rows = (n: number, perImage = 1) =>
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({ id: `r${i}`, image: `img/${Math.floor(i / perImage) % 12}.png`, answer: `a${i}` }),
    ).join("\n");

  it("is stable across loads, holds at least one example from 10 on, and keeps an image on one side", async () => {
    const file = write("split/data.jsonl", rows(36, 3));
    const a = await loadDataset(file, inRoot);
    const b = await loadDataset(file, inRoot);
    expect((await a.val.toArray()).map((e) => e.id)).toEqual((await b.val.toArray()).map((e) => e.id));
    expect(a.val.length).toBeGreaterThanOrEqual(1);
    expect(a.train.length + a.val.length).toBe(36);
    const valImages = new Set((await a.val.toArray()).map((e) => e.imagePath));
    expect((await a.train.toArray()).some((e) => valImages.has(e.imagePath))).toBe(false);
    const other = await loadDataset(file, { ...inRoot, seed: 7 });
    expect(other.val.length + other.train.length).toBe(36);
  });

  it("does not move rows that stay when other rows are added", async () => {
    const small = write("split/small.jsonl", rows(12));
    const big = write("split/big.jsonl", rows(12));
    fs.appendFileSync(big, `\n${JSON.stringify({ id: "extra", image: "img/0.png", answer: "z" })}`);
    const a = await loadDataset(small, { ...inRoot, splitBy: "id", valFraction: 0.3 });
    const b = await loadDataset(big, { ...inRoot, splitBy: "id", valFraction: 0.3 });
    expect((await b.val.toArray()).map((e) => e.id).filter((id) => id !== "extra")).toEqual(
      (await a.val.toArray()).map((e) => e.id),
    );
  });

  it("holds out roughly valFraction of many groups", () => {
    const examples = Array.from({ length: 2000 }, (_, i) => ({
      id: `e${i}`,
      imagePath: `/img/${i}.png`,
      prompt: "p",
      answer: "a",
      line: i + 1,
      source: "s",
    }));
    const { val } = splitExamples(examples, { valFraction: 0.1 });
    expect(val.length).toBeGreaterThan(150);
    expect(val.length).toBeLessThan(250);
  });

  it("uses an explicit validation file instead of holding rows out", async () => {
    const file = write("split/train.jsonl", rows(12));
    const valFile = write("split/val.jsonl", JSON.stringify({ image: "img/11.png", answer: "v" }));
    const ds = await loadDataset(file, { ...inRoot, valFile });
    expect(ds.train).toHaveLength(12);
    expect((await ds.val.toArray()).map((e) => e.answer)).toEqual(["v"]);
  });

  it("drops rows of unreadable images through reject, or fails under fail", async () => {
    const file = write("split/reject.jsonl", rows(12));
    const reports: string[] = [];
    const ds = await loadDataset(file, {
      valFraction: 0,
      imagesRoot: root,
      onReport: (m) => reports.push(m),
    });
    await ds.reject([{ imagePath: path.join(root, "img", "3.png"), reason: "image is corrupt" }]);
    expect((await ds.train.toArray()).map((e) => e.id)).not.toContain("r3");
    expect(ds.train).toHaveLength(11);
    expect(ds.badRows).toEqual([expect.objectContaining({ line: 4, reason: "image is corrupt" })]);
    expect(reports.at(-1)).toContain("line 4: image is corrupt");
    const strict = await loadDataset(file, { valFraction: 0, onBadRow: "fail", ...inRoot });
    await expect(
      strict.reject([{ imagePath: path.join(root, "img", "3.png"), reason: "corrupt" }]),
    ).rejects.toThrow(/line 4: corrupt/);
  });
});
