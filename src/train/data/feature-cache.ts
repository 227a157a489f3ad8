/**
 * Vision features per image, computed once and kept on disk: the encoder is frozen during adapter
 * training, so every epoch after the first (and every later run) reads features instead of running
 * the encoder.
 *
 * Key = sha256(format version, encoder identity, preprocessing config, image content hash), where the
 * encoder identity hashes `config.json` and the ONNX file's (and its external data's) name, size,
 * first and last MiB: cheap for multi-GB files, and it changes when the weights are replaced.
 * Files: `<dir>/<key[0:2]>/<key>.safetensors` holding `patches` [N, Dv], `pooled` [Dv] (what
 * `vlmkit compare` probes) and the grid in the metadata,
 * written atomically. A file that does not parse, holds another key or has the wrong shape is
 * recomputed, never trusted.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { VisionEncoder } from "../../encoders/index.js";
import { vlmkitCacheDir } from "../../env.js";
import { ImageError, throwIfAborted } from "../../errors.js";
import { externalDataName } from "../../hub/dtypes.js";
import { loadImage, type RgbImage } from "../../image/index.js";
import { type Tensor, tensor } from "../../tensor.js";
import { readSafetensors, writeSafetensors } from "../../util/safetensors.js";

/** Bump when the file layout changes, so old files are not read as new ones. */
const FORMAT = "vlmkit-features-2";
const SAMPLE_BYTES = 1 << 20;

export interface CachedFeatures {
  /** [N, Dv], N = rows · cols */
  patches: Tensor;
  /** The pooled image embedding (`pooler_output`, not normalized): [Dv] */
  pooled: Float32Array;
  grid: { rows: number; cols: number };
}

export interface FeatureCacheOptions {
  /** Cache root. Default `<vlmkitCacheDir()>/features` (`$VLMKIT_CACHE`, else `~/.cache/vlmkit`). */
  dir?: string;
}

export interface PrecomputeOptions {
  /** Images per encoder call. Default 8. */
  batchSize?: number;
  /** Called after each batch with images done (cached, computed or failed) and the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface PrecomputeResult {
  /** Images whose features were already on disk. */
  cached: number;
  /** Images encoded now. */
  computed: number;
  /** Images that could not be read or decoded (for `Dataset.reject`). */
  failed: { imagePath: string; reason: string }[];
}

function sha256(...parts: (string | Uint8Array)[]): string {
  const h = crypto.createHash("sha256");
  for (const p of parts) h.update(typeof p === "string" ? `${p.length}:${p}` : p);
  return h.digest("hex");
}

/** Name, size, first and last MiB of a file: what identifies weights without reading gigabytes. */
async function fileFingerprint(file: string): Promise<string> {
  const handle = await fs.promises.open(file, "r");
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(SAMPLE_BYTES, size));
    const tail = Buffer.alloc(Math.min(SAMPLE_BYTES, size));
    await handle.read(head, 0, head.length, 0);
    await handle.read(tail, 0, tail.length, size - tail.length);
    return sha256(path.basename(file), String(size), head, tail);
  } finally {
    await handle.close();
  }
}

/** What identifies an encoder's features: its config, the weights file(s) its session runs, and preprocessing. */
export async function encoderIdentity(encoder: VisionEncoder): Promise<string> {
  const onnx = encoder.modelFile;
  const parts = [
    await fs.promises.readFile(path.join(encoder.dir, "config.json")),
    await fileFingerprint(onnx),
  ];
  if (fs.existsSync(externalDataName(onnx))) parts.push(await fileFingerprint(externalDataName(onnx)));
  return sha256(FORMAT, JSON.stringify(encoder.preprocess), ...parts);
}

export class FeatureCache {
  /** Image path → content hash, valid while size and mtime stay the same. */
  private readonly hashes = new Map<string, { size: number; mtimeMs: number; hash: string }>();

  private constructor(
    readonly encoder: VisionEncoder,
    /** Cache root; files live in `<dir>/<key[0:2]>/`. */
    readonly dir: string,
    /** sha256 of the encoder identity (see `encoderIdentity`). */
    readonly encoderKey: string,
  ) {}

  static async open(encoder: VisionEncoder, options: FeatureCacheOptions = {}): Promise<FeatureCache> {
    const dir = path.resolve(options.dir ?? path.join(vlmkitCacheDir(), "features"));
    return new FeatureCache(encoder, dir, await encoderIdentity(encoder));
  }

  /** The cache file for an image's content hash. */
  fileFor(imageHash: string): string {
    const key = sha256(this.encoderKey, imageHash);
    return path.join(this.dir, key.slice(0, 2), `${key}.safetensors`);
  }

  /** Features of one image: from disk when present and valid, else encoded now and stored. */
  async get(imagePath: string): Promise<CachedFeatures> {
    const { hash, bytes } = await this.hashImage(imagePath);
    const file = this.fileFor(hash);
    const cached = await this.read(file);
    if (cached) return cached;
    const image = await this.decode(imagePath, bytes);
    const [features] = await this.encode([image]);
    await this.write(file, features);
    return features;
  }

  /**
   * Encodes every image not yet cached, in batches. Unreadable or corrupt images do not stop the run:
   * they come back in `failed` with the reason.
   */
  async precompute(
    imagePaths: readonly string[],
    options: PrecomputeOptions = {},
  ): Promise<PrecomputeResult> {
    const batchSize = Math.max(1, options.batchSize ?? 8);
    const result: PrecomputeResult = { cached: 0, computed: 0, failed: [] };
    const unique = [...new Set(imagePaths.map((p) => path.resolve(p)))];
    let done = 0;
    const pending = new Map<string, { file: string; image: RgbImage }>(); // by cache file: equal images once
    const flush = async () => {
      const jobs = [...pending.values()];
      pending.clear();
      if (jobs.length === 0) return;
      const features = await this.encode(jobs.map((j) => j.image));
      for (const [i, j] of jobs.entries()) await this.write(j.file, features[i]);
      result.computed += jobs.length;
    };
    for (const imagePath of unique) {
      throwIfAborted(options.signal);
      try {
        const { hash, bytes } = await this.hashImage(imagePath);
        const file = this.fileFor(hash);
        if (pending.has(file) || (await this.read(file))) {
          result.cached += pending.has(file) ? 0 : 1;
        } else {
          pending.set(file, { file, image: await this.decode(imagePath, bytes) });
        }
      } catch (error) {
        if (!(error instanceof ImageError)) throw error;
        result.failed.push({ imagePath, reason: error.message });
      }
      done++;
      if (pending.size >= batchSize) await flush();
      if (pending.size === 0) options.onProgress?.(done, unique.length);
    }
    await flush();
    options.onProgress?.(unique.length, unique.length);
    return result;
  }

  private async encode(images: RgbImage[]): Promise<CachedFeatures[]> {
    const out = await this.encoder.encode(images, { batchSize: images.length });
    return out.map((f) => ({ patches: f.patches, pooled: f.pooled, grid: f.grid }));
  }

  /** Decodes an image; errors name the file (loadImage only sees bytes here). */
  private async decode(imagePath: string, bytes: Buffer | undefined): Promise<RgbImage> {
    try {
      return await loadImage(bytes ?? (await this.readImage(imagePath)));
    } catch (error) {
      if (!(error instanceof ImageError) || error.message.includes(imagePath)) throw error;
      throw new ImageError(error.code, `${imagePath}: ${error.message}`, {
        cause: error,
        details: error.details,
      });
    }
  }

  private async readImage(imagePath: string): Promise<Buffer> {
    try {
      return await fs.promises.readFile(imagePath);
    } catch (cause) {
      throw new ImageError(
        "IMAGE_CORRUPT",
        `image ${imagePath} cannot be read: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
  }

  /** Content hash of an image; reads the file only when its size or mtime changed since last time. */
  private async hashImage(imagePath: string): Promise<{ hash: string; bytes?: Buffer }> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(imagePath);
    } catch (cause) {
      throw new ImageError(
        "IMAGE_CORRUPT",
        `image ${imagePath} cannot be read: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    const known = this.hashes.get(imagePath);
    if (known && known.size === stat.size && known.mtimeMs === stat.mtimeMs) return { hash: known.hash };
    const bytes = await this.readImage(imagePath);
    const hash = crypto.createHash("sha256").update(bytes).digest("hex");
    this.hashes.set(imagePath, { size: stat.size, mtimeMs: stat.mtimeMs, hash });
    return { hash, bytes };
  }

  /** The stored features, or undefined when the file is absent or not exactly what this key should hold. */
  private async read(file: string): Promise<CachedFeatures | undefined> {
    if (!fs.existsSync(file)) return undefined;
    try {
      const { tensors, metadata } = await readSafetensors(file);
      const patches = tensors.get("patches");
      const pooled = tensors.get("pooled");
      const rows = Number(metadata.grid_rows);
      const cols = Number(metadata.grid_cols);
      const dv = this.encoder.hiddenSize;
      const ok =
        metadata.key === path.basename(file, ".safetensors") &&
        patches !== undefined &&
        patches.dims.length === 2 &&
        patches.dims[0] === rows * cols &&
        patches.dims[1] === dv &&
        pooled !== undefined &&
        pooled.dims.length === 1 &&
        pooled.dims[0] === dv &&
        rows > 0 &&
        cols > 0;
      return ok
        ? {
            patches: tensor(patches.data, patches.dims),
            pooled: Float32Array.from(pooled.data),
            grid: { rows, cols },
          }
        : undefined;
    } catch {
      return undefined; // corrupt or truncated: recompute
    }
  }

  private async write(file: string, f: CachedFeatures): Promise<void> {
    await writeSafetensors(
      file,
      { patches: f.patches, pooled: tensor(f.pooled, [f.pooled.length]) }, // [N, Dv], [Dv]
      {
        key: path.basename(file, ".safetensors"),
        grid_rows: String(f.grid.rows),
        grid_cols: String(f.grid.cols),
      },
    );
  }
}
