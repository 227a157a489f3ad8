import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { isClassFolder, readClassFolder } from "../../src/compare/data/class-folder.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-classes-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function image(file: string) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: 4, height: 4, channels: 3, background: "#808080" } })
    .png()
    .toFile(file);
}

describe("labelled imagefolders", () => {
  it("splits an unsplit folder by a seeded hash of each image path, the same on every read", async () => {
    const dir = path.join(root, "flat");
    for (let i = 0; i < 20; i++) await image(path.join(dir, i % 2 ? "hot_dog" : "cat", `${i}.png`));
    fs.writeFileSync(path.join(dir, "cat", "notes.txt"), "not an image");
    const a = readClassFolder(dir, { seed: 3 });
    expect(a.classes).toEqual(["cat", "hot dog"]);
    expect(a.train.length + a.test.length).toBe(20);
    expect(a.test.length).toBeGreaterThan(0);
    expect(readClassFolder(dir, { seed: 3 }).test.map((s) => s.key)).toEqual(a.test.map((s) => s.key));
    expect(readClassFolder(dir, { seed: 4 }).test.map((s) => s.key)).not.toEqual(a.test.map((s) => s.key));
  });

  it("uses train/ and val/ when present, and val/ alone for evaluation only", async () => {
    const dir = path.join(root, "split");
    await image(path.join(dir, "train", "a", "1.png"));
    await image(path.join(dir, "train", "b", "2.png"));
    await image(path.join(dir, "val", "b", "3.png"));
    const d = readClassFolder(dir);
    expect(d.train.map((s) => s.key)).toEqual(["train/a/1.png", "train/b/2.png"]);
    expect(d.test).toEqual([expect.objectContaining({ key: "val/b/3.png", label: 1 })]);
    const evalOnly = path.join(root, "val-only");
    await image(path.join(evalOnly, "val", "n01", "x.png"));
    await image(path.join(evalOnly, "val", "n02", "y.png"));
    const names = path.join(root, "names.txt");
    fs.writeFileSync(names, "tench\ngoldfish\n");
    const e = readClassFolder(evalOnly, { classNamesFile: names });
    expect(e.train).toEqual([]);
    expect(e.classes).toEqual(["tench", "goldfish"]);
  });

  it("says what it expected when the folder is not labelled or the class names do not fit", () => {
    const empty = path.join(root, "empty");
    fs.mkdirSync(empty);
    expect(isClassFolder(empty)).toBe(false);
    expect(() => readClassFolder(empty)).toThrow(
      /not a labelled imagefolder; expected <dir>\/<class>\/<image>/,
    );
    const bad = path.join(root, "bad-names.txt");
    fs.writeFileSync(bad, "only one\n");
    expect(() => readClassFolder(path.join(root, "split"), { classNamesFile: bad })).toThrow(
      /has 1 class names; the dataset has 2 class folders/,
    );
  });
});
