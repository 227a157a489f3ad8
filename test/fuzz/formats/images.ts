/**
 * Images through sharp: `decodeImage` (header check, pixel limit, decode to RGB) on JPEG, PNG, WebP,
 * GIF, TIFF and AVIF seeds that sharp itself writes from one small gradient.
 */
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { decodeImage } from "../../../src/image/decode.js";
import { type FuzzFormat, fileSeeds } from "../harness/format.js";

const FORMATS = ["jpeg", "png", "webp", "gif", "tiff", "avif"] as const;

export const image: FuzzFormat = {
  name: "image",
  target: "decodeImage (sharp) on JPEG, PNG, WebP, GIF, TIFF and AVIF",
  suiteCases: 200,
  timeoutMs: 10_000,
  async prepare(dir) {
    const w = 24;
    const h = 16;
    const raw = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) raw.set([(i * 7) % 256, (i * 3) % 256, (i * 11) % 256], i * 3);
    for (const f of FORMATS) {
      const bytes = await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
        .toFormat(f)
        .toBuffer();
      fs.writeFileSync(path.join(dir, `seed.${f}`), bytes);
    }
  },
  async seeds(dir) {
    return fileSeeds(
      dir,
      FORMATS.map((f) => `seed.${f}`),
      "binary",
    );
  },
  async run(input) {
    await decodeImage(input.bytes, input.seed.name, { maxPixels: 4096 * 4096 });
  },
};
