/** Deterministic photo-sized JPEGs for benchmarks: gradients, stripes and noise, so decoding does real work. */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";

export async function writeSyntheticJpegs(
  dir: string,
  count: number,
  width = 640,
  height = 480,
): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let n = 0; n < count; n++) {
    const file = path.join(dir, `img-${String(n).padStart(3, "0")}.jpg`);
    files.push(file);
    if (fs.existsSync(file)) continue;
    const px = Buffer.alloc(width * height * 3);
    let seed = n * 7919 + 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const i = (y * width + x) * 3;
        const stripe = ((x + n * 13) >> 4) & 1 ? 40 : 0;
        px[i] = ((x * 255) / width + stripe + (seed & 15)) & 255;
        px[i + 1] = ((y * 255) / height + n * 20) & 255;
        px[i + 2] = (((x + y) * 128) / (width + height) + ((seed >> 4) & 31)) & 255;
      }
    }
    await sharp(px, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(file);
  }
  return files;
}
