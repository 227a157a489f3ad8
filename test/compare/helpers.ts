// Small labelled imagefolders for the compare tests, drawn by the synthetic shapes generator.
import fs from "node:fs";
import path from "node:path";
import { writeShapesDataset } from "../../src/train/index.js";

/** `<dir>/classes/<colour>/<image>` from solid coloured shapes, plus the shapes `data.jsonl` (colour, caption rows). */
export async function writeColourFolder(dir: string, count: number, seed = 5) {
  const shapes = await writeShapesDataset(path.join(dir, "shapes"), {
    count,
    size: 32,
    seed,
    tasks: ["color", "caption"],
  });
  const classes = path.join(dir, "classes");
  for (const img of shapes.images) {
    fs.mkdirSync(path.join(classes, img.color), { recursive: true });
    fs.copyFileSync(
      path.join(dir, "shapes", img.image),
      path.join(classes, img.color, path.basename(img.image)),
    );
  }
  return { classes, jsonl: shapes.file, images: shapes.images };
}
