import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { tinyGemma3Vocab } from "../../src/tiny/gemma3.js";
import { loadDataset } from "../../src/train/data/dataset.js";
import { COLORS, SHAPES, writeShapesDataset } from "../../src/train/data/synthetic.js";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-shapes-"));

/** The fill colour at the shape's centre of mass: the pixels that differ most from the corner. */
async function dominantHue(file: string): Promise<string> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const counts: Record<string, number> = { red: 0, green: 0, blue: 0, yellow: 0 };
  for (let i = 0; i < data.length; i += info.channels) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (r > 180 && g > 160 && b < 90) counts.yellow++;
    else if (r > 170 && g < 90 && b < 90) counts.red++;
    else if (g > 120 && r < 90 && b < 90) counts.green++;
    else if (b > 170 && r < 90 && g < 150) counts.blue++;
  }
  return Object.entries(counts).sort((a, b) => b[1] - a[1])[0][0];
}

describe("writeShapesDataset", () => {
  it("writes images whose colour matches the answer, and rows the dataset loader reads", async () => {
    const dir = tmp();
    const result = await writeShapesDataset(dir, { count: 12, seed: 3, size: 48 });
    expect(result.rows).toBe(36);
    for (const im of result.images) {
      const meta = await sharp(path.join(dir, im.image)).metadata();
      expect([meta.width, meta.height]).toEqual([48, 48]);
      expect(await dominantHue(path.join(dir, im.image))).toBe(im.color);
    }
    const ds = await loadDataset(result.file, { valFraction: 0.25, onReport: () => {} });
    expect(ds.badRows).toEqual([]);
    expect(ds.train.length + ds.val.length).toBe(36);
    const byPrompt = new Set(
      [...(await ds.train.toArray()), ...(await ds.val.toArray())].map((e) => e.prompt),
    );
    expect(byPrompt).toEqual(new Set(["what color is the shape?", "what shape is this?", "caption en"]));
    const first = [...(await ds.train.toArray()), ...(await ds.val.toArray())].find(
      (e) => e.id === "shape-0-caption",
    )!;
    expect(first.answer).toBe(`a ${result.images[0].color} ${result.images[0].shape}`);
  });

  it("is deterministic for a seed and varies with it", async () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    await writeShapesDataset(a, { count: 6, seed: 1 });
    await writeShapesDataset(b, { count: 6, seed: 1 });
    await writeShapesDataset(c, { count: 6, seed: 2 });
    const read = (d: string, f: string) => fs.readFileSync(path.join(d, f));
    expect(read(a, "data.jsonl").equals(read(b, "data.jsonl"))).toBe(true);
    expect(read(a, "images/shape-0003.png").equals(read(b, "images/shape-0003.png"))).toBe(true);
    expect(read(a, "images/shape-0003.png").equals(read(c, "images/shape-0003.png"))).toBe(false);
  });

  it("draws every shape and colour over enough images", async () => {
    const { images } = await writeShapesDataset(tmp(), { count: 60, seed: 0, size: 16, tasks: ["shape"] });
    expect(new Set(images.map((i) => i.shape))).toEqual(new Set(SHAPES));
    expect(new Set(images.map((i) => i.color))).toEqual(new Set(COLORS));
  });

  it("uses answer words that are single tokens of the tiny gemma3 vocabulary", () => {
    const { tokens } = tinyGemma3Vocab();
    for (const word of [...SHAPES, ...COLORS, "a"]) {
      expect(tokens).toContain(word); // right after the prompt's "\n"
      expect(tokens).toContain(`▁${word}`); // after a space, inside a caption
    }
  });
});
