/**
 * A synthetic dataset of coloured shapes for learning tests and demos: circle / square / triangle in
 * red / green / blue / yellow on a lightly tinted background, random position and size, drawn as SVG
 * and rasterized by sharp. Every word of the answers is a single token of the tiny gemma3
 * vocabulary (`tinyGemma3Vocab`), so a tiny LLM can learn them quickly. Same seed → same files.
 */
import fs from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { InvalidArgumentError } from "../../errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { SeededRandom } from "../../util/random.js";

export const SHAPES = ["circle", "square", "triangle"] as const;
export const COLORS = ["red", "green", "blue", "yellow"] as const;
export type ShapeName = (typeof SHAPES)[number];
export type ColorName = (typeof COLORS)[number];
export type ShapeTask = "color" | "shape" | "caption";
/**
 * How a shape is painted: `"solid"` in its colour, or `"stripes"`: one-pixel rows alternating between
 * its colour (even rows) and the complementary colour (odd rows). Striped shapes of every colour
 * average to the same grey, so their colour is visible only at full resolution: an encoder that sees
 * the image at half size cannot tell them apart (what `npm run demo:compare` shows).
 */
export type ShapeFill = "solid" | "stripes";

const FILL: Record<ColorName, string> = {
  red: "#d62728",
  green: "#2ca02c",
  blue: "#1f5fd6",
  yellow: "#f2d21b",
};
export const COLOR_QUESTION = "what color is the shape?";
export const SHAPE_QUESTION = "what shape is this?";

export interface ShapesDatasetOptions {
  /** Images to draw. Default 48. */
  count?: number;
  /** Seed of every random choice. Default 0. */
  seed?: number;
  /** Side of the square images in pixels. Default 64. */
  size?: number;
  /** Rows written per image: colour question, shape question, caption ("a red circle", prompt left to the default). Default all three. */
  tasks?: readonly ShapeTask[];
  /** Default "solid". */
  fill?: ShapeFill;
}

export interface ShapeImage {
  /** Path relative to the dataset folder. */
  image: string;
  shape: ShapeName;
  color: ColorName;
}

export interface ShapesDataset {
  /** `<dir>/data.jsonl` */
  file: string;
  images: ShapeImage[];
  /** Rows in data.jsonl. */
  rows: number;
}

/** The complementary colour of `#rrggbb`: 255 − each channel. */
function complement(hex: string): string {
  const v = 0xffffff - Number.parseInt(hex.slice(1), 16);
  return `#${v.toString(16).padStart(6, "0")}`;
}

function shapeSvg(
  shape: ShapeName,
  color: ColorName,
  rng: SeededRandom,
  size: number,
  fill: ShapeFill,
): string {
  // A light background whose tint varies, so the colour question is about the shape, not the image mean.
  const tint = () => Math.round(rng.uniform(200, 255));
  const bg = `rgb(${tint()},${tint()},${tint()})`;
  const r = rng.uniform(0.18, 0.34) * size; // half the shape's extent
  const cx = rng.uniform(r, size - r);
  const cy = rng.uniform(r, size - r);
  const paint = fill === "stripes" ? "url(#stripes)" : FILL[color];
  const defs =
    fill === "stripes"
      ? `<defs><pattern id="stripes" width="${size}" height="2" patternUnits="userSpaceOnUse"><rect width="${size}" height="1" fill="${FILL[color]}"/><rect y="1" width="${size}" height="1" fill="${complement(FILL[color])}"/></pattern></defs>`
      : "";
  const f = (v: number) => v.toFixed(2);
  const body =
    shape === "circle"
      ? `<circle cx="${f(cx)}" cy="${f(cy)}" r="${f(r)}" fill="${paint}"/>`
      : shape === "square"
        ? `<rect x="${f(cx - r)}" y="${f(cy - r)}" width="${f(2 * r)}" height="${f(2 * r)}" fill="${paint}"/>`
        : `<polygon points="${f(cx)},${f(cy - r)} ${f(cx + r)},${f(cy + r)} ${f(cx - r)},${f(cy + r)}" fill="${paint}"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${defs}<rect width="100%" height="100%" fill="${bg}"/>${body}</svg>`;
}

/** Writes `<dir>/images/shape-XXXX.png` and `<dir>/data.jsonl` (plain JSONL: image, prompt?, answer). */
export async function writeShapesDataset(
  dir: string,
  options: ShapesDatasetOptions = {},
): Promise<ShapesDataset> {
  const { count = 48, seed = 0, size = 64, tasks = ["color", "shape", "caption"], fill = "solid" } = options;
  if (fill !== "solid" && fill !== "stripes") {
    throw new InvalidArgumentError(`fill "${fill}"; expected "solid" or "stripes"`);
  }
  if (!Number.isInteger(count) || count <= 0)
    throw new InvalidArgumentError(`count ${count}; expected a positive integer`);
  if (!Number.isInteger(size) || size < 8)
    throw new InvalidArgumentError(`size ${size}; expected an integer ≥ 8`);
  const unknown = tasks.filter((t) => !["color", "shape", "caption"].includes(t));
  if (unknown.length > 0 || tasks.length === 0) {
    throw new InvalidArgumentError(
      `tasks ${JSON.stringify(tasks)}; expected some of "color", "shape", "caption"`,
    );
  }
  const rng = new SeededRandom(seed);
  await fs.mkdir(path.join(dir, "images"), { recursive: true });
  const images: ShapeImage[] = [];
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const shape = SHAPES[rng.int(SHAPES.length)];
    const color = COLORS[rng.int(COLORS.length)];
    const image = `images/shape-${String(i).padStart(4, "0")}.png`;
    const png = await sharp(Buffer.from(shapeSvg(shape, color, rng, size, fill)))
      .png()
      .toBuffer();
    await writeFileAtomic(path.join(dir, image), png);
    images.push({ image, shape, color });
    const id = `shape-${i}`;
    if (tasks.includes("color"))
      lines.push(JSON.stringify({ id: `${id}-color`, image, prompt: COLOR_QUESTION, answer: color }));
    if (tasks.includes("shape"))
      lines.push(JSON.stringify({ id: `${id}-shape`, image, prompt: SHAPE_QUESTION, answer: shape }));
    if (tasks.includes("caption"))
      lines.push(JSON.stringify({ id: `${id}-caption`, image, caption: `a ${color} ${shape}` }));
  }
  const file = path.join(dir, "data.jsonl");
  await writeFileAtomic(file, `${lines.join("\n")}\n`);
  return { file, images, rows: lines.length };
}
