/**
 * A folder of images the server was started with (`serve --gallery <dir>`), embedded once by every
 * served encoder so a text query ranks them: the web page's search tab and `POST /v1/gallery/search`.
 * Bounded: at most {@link MAX_GALLERY_IMAGES} images, each read under the server's byte and pixel limits.
 */
import fs from "node:fs";
import path from "node:path";
import { dot } from "../encoders/index.js";
import { InvalidArgumentError, VlmkitError } from "../errors.js";
import { imagesInDir } from "../image/dir.js";
import { loadImage } from "../image/index.js";
import type { ServerLimits } from "./limits.js";
import type { ServedEncoder } from "./models.js";

/** Most images a gallery may hold. */
export const MAX_GALLERY_IMAGES = 1000;

export interface GalleryHit {
  /** Position in the gallery (`GET /v1/gallery/images/{index}`). */
  index: number;
  /** File name inside the gallery folder. */
  name: string;
  /** Cosine similarity of the query's text vector and the image's vector, in [-1, 1]. */
  score: number;
}

const CONTENT_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".gif": "image/gif",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".avif": "image/avif",
};

export class Gallery {
  /** Image files, sorted by name. */
  readonly files: readonly string[];
  /** Per encoder name: one unit vector per file [N][D]. */
  private readonly vectors = new Map<string, Float32Array[]>();

  /** Lists the images of `dir` (not recursive); refuses a missing, empty or oversized folder. */
  constructor(readonly dir: string) {
    this.files = imagesInDir(dir);
    if (this.files.length > MAX_GALLERY_IMAGES) {
      throw new InvalidArgumentError(
        `--gallery ${dir} holds ${this.files.length} images; at most ${MAX_GALLERY_IMAGES} are accepted`,
      );
    }
  }

  get names(): string[] {
    return this.files.map((f) => path.basename(f));
  }

  /** Embeds every image with each encoder (at startup, while /health says "loading"). */
  async embed(
    encoders: readonly ServedEncoder[],
    limits: Pick<ServerLimits, "maxImageBytes" | "maxImagePixels">,
  ) {
    const images = [];
    for (const file of this.files) {
      images.push(
        await loadImage(file, { maxBytes: limits.maxImageBytes, maxPixels: limits.maxImagePixels }),
      );
    }
    for (const e of encoders) this.vectors.set(e.name, await e.model.embedImages(images));
  }

  /** The `top` images closest to `query` (a unit text vector from encoder `encoder`), best first. */
  rank(encoder: string, query: Float32Array, top: number): GalleryHit[] {
    const vectors = this.vectors.get(encoder);
    if (!vectors) {
      throw new VlmkitError("NOT_FOUND", `the gallery was not embedded with model "${encoder}"`, {
        details: { param: "model", model: encoder },
      });
    }
    return vectors
      .map((v, index) => ({ index, name: path.basename(this.files[index]), score: dot(query, v) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, top);
  }

  /** The bytes and content type of image `index`; NOT_FOUND outside the gallery. */
  async image(index: number): Promise<{ bytes: Buffer; contentType: string }> {
    const file = this.files[index];
    if (file === undefined) {
      throw new VlmkitError(
        "NOT_FOUND",
        `the gallery has no image ${index} (it holds ${this.files.length})`,
        {
          details: { param: "index" },
        },
      );
    }
    const contentType = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
    return { bytes: await fs.promises.readFile(file), contentType };
  }
}
