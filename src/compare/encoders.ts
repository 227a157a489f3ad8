/**
 * Encoders of a comparison: specs resolved to model directories (downloading known ids as other
 * commands do), NaFlex `maxPatches` applied through a variant directory, and pooled image features
 * read through training's feature cache, so a re-run encodes only images (or encoders) it has not
 * seen.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { VisionEncoder } from "../encoders/index.js";
import { vlmkitCacheDir } from "../env.js";
import { DatasetError, InvalidArgumentError } from "../errors.js";
import { externalDataName } from "../hub/dtypes.js";
import { resolveModelDir } from "../hub/index.js";
import { FeatureCache } from "../train/index.js";
import { writeFileAtomic } from "../util/fs.js";
import type { EncoderSpec } from "./encoder-spec.js";
import type { EncoderSummary } from "./types.js";

export interface ResolveOptions {
  /** Download progress of a known model. */
  onDownload?: (name: string, done: number, total: number) => void;
  /** Where NaFlex `maxPatches` variants live. Default `<vlmkitCacheDir()>/compare-variants`. */
  variantsDir?: string;
}

/**
 * A directory that is `dir` with `max_num_patches` replaced: every file linked, only
 * `preprocessor_config.json` rewritten. The feature cache key includes the preprocessing, so features
 * of different budgets never mix.
 */
async function naflexVariant(dir: string, maxPatches: number, root: string): Promise<string> {
  const configFile = path.join(dir, "preprocessor_config.json");
  const config = JSON.parse(await fs.promises.readFile(configFile, "utf8")) as Record<string, unknown>;
  if (config.max_num_patches === undefined) {
    throw new InvalidArgumentError(
      `${dir} is a fixed-resolution encoder; ":${maxPatches}" (max patches) applies only to NaFlex encoders`,
    );
  }
  const id = crypto
    .createHash("sha256")
    .update(`${path.resolve(dir)}\0${maxPatches}`)
    .digest("hex")
    .slice(0, 16);
  const out = path.join(root, `${path.basename(dir)}-${maxPatches}-${id}`);
  await fs.promises.mkdir(out, { recursive: true });
  for (const entry of await fs.promises.readdir(dir)) {
    if (entry === "preprocessor_config.json") continue;
    const link = path.join(out, entry);
    const target = path.resolve(dir, entry);
    const existing = await fs.promises.readlink(link).catch(() => undefined);
    if (existing === target) continue;
    await fs.promises.rm(link, { force: true, recursive: true });
    await fs.promises.symlink(target, link);
  }
  await writeFileAtomic(
    path.join(out, "preprocessor_config.json"),
    `${JSON.stringify({ ...config, max_num_patches: maxPatches }, null, 2)}\n`,
  );
  return out;
}

/** The model directory a spec runs from. */
export async function resolveEncoderDir(spec: EncoderSpec, options: ResolveOptions = {}): Promise<string> {
  const dir = await resolveModelDir(spec.source, {
    dtype: spec.dtype,
    onProgress: (done, total) => options.onDownload?.(spec.name, done, total ?? 0),
  });
  if (spec.maxPatches === undefined) return dir;
  return naflexVariant(
    dir,
    spec.maxPatches,
    options.variantsDir ?? path.join(vlmkitCacheDir(), "compare-variants"),
  );
}

export interface FeatureOptions {
  /** Feature cache root. Default training's (`<vlmkitCacheDir()>/features`). */
  featureCacheDir?: string;
  /** onnxruntime threads. Default physical cores. */
  threads?: number;
  /** Images done (cached or encoded) of the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface EncoderFeatures {
  summary: EncoderSummary;
  /** Image path → pooled embedding [Dv] (`pooler_output`, not normalized). */
  pooled: Map<string, Float32Array>;
  /** Images encoded now (the others came from the cache). */
  encoded: number;
}

function fileBytes(file: string): number {
  const data = externalDataName(file);
  return fs.statSync(file).size + (fs.existsSync(data) ? fs.statSync(data).size : 0);
}

/** Pooled features of every image for one encoder, through the feature cache. */
export async function pooledFeatures(
  spec: EncoderSpec,
  dir: string,
  imagePaths: readonly string[],
  options: FeatureOptions = {},
): Promise<EncoderFeatures> {
  const encoder = await VisionEncoder.load(dir, { dtype: spec.dtype, threads: options.threads });
  try {
    const cache = await FeatureCache.open(encoder, { dir: options.featureCacheDir });
    const unique = [...new Set(imagePaths)];
    const done = await cache.precompute(unique, { onProgress: options.onProgress, signal: options.signal });
    if (done.failed.length > 0) {
      const first = done.failed[0];
      throw new DatasetError(
        `${done.failed.length} image(s) cannot be read; first: ${first.imagePath}: ${first.reason}`,
        { details: { failed: done.failed.slice(0, 20) } },
      );
    }
    const pooled = new Map<string, Float32Array>();
    let tokens = 0;
    for (const p of unique) {
      const f = await cache.get(p);
      pooled.set(p, f.pooled);
      tokens += f.grid.rows * f.grid.cols;
    }
    const summary: EncoderSummary = {
      name: spec.name,
      source: spec.source,
      dtype: spec.dtype,
      tokensPerImage: unique.length > 0 ? Math.round((tokens / unique.length) * 100) / 100 : 0,
      embeddingWidth: encoder.hiddenSize,
      maxPatches: encoder.preprocess.kind === "naflex" ? encoder.preprocess.maxNumPatches : null,
      fileBytes: fileBytes(encoder.modelFile),
      dir,
    };
    return { summary, pooled, encoded: done.computed };
  } finally {
    await encoder.dispose();
  }
}
