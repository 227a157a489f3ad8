/** The images of a directory: the files directly inside it in a format the decoder accepts, by name. */
import fs from "node:fs";
import path from "node:path";
import { InvalidArgumentError } from "../errors.js";

/** File extensions read from a directory: the formats the decoder accepts. */
export const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".avif"]);

/** The image files directly inside `dir`, sorted by name; INVALID_ARGUMENT when there are none. */
export function imagesInDir(dir: string): string[] {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InvalidArgumentError(`${dir}: no such directory`, { details: { param: "dir", dir } });
  }
  const files = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
    .map((e) => path.join(dir, e.name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (files.length === 0) {
    throw new InvalidArgumentError(
      `${dir} holds no image (looked for ${[...IMAGE_EXTENSIONS].join(" ")} directly inside it)`,
    );
  }
  return files;
}
