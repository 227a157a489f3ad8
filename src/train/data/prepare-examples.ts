/**
 * Dataset rows → what the loss graph takes: each image's cached features (the encoder runs once per
 * image, ever, thanks to `FeatureCache`) and each row's token layout, tokenized by the LLM itself.
 */

import type { Grid } from "../../adapter/kinds/types.js";
import { throwIfAborted } from "../../errors.js";
import type { AttentionMode, PromptStyle } from "../../prompt/index.js";
import type { Tensor } from "../../tensor.js";
import type { LossExample } from "../model/adapter-loss.js";
import type { Dataset } from "./dataset.js";
import type { TrainExample } from "./dataset-rows.js";
import { layoutExample, type Tokenize } from "./example-layout.js";
import type { FeatureCache } from "./feature-cache.js";

export interface PrepareOptions {
  style: PromptStyle;
  attention: AttentionMode;
  tokenize: Tokenize;
  /**
   * Turns an image's patch features [N, Dv] on its grid into the tokens the adapter's trainable part
   * takes (`TokenMerger.merge` for pixel-shuffle and avgpool). Default: the features as they are.
   */
  merge?: (patches: Tensor, grid: Grid) => Promise<Tensor>;
  /** Images per encoder call while filling the cache. Default 8. */
  batchSize?: number;
  /** Images done (cached or computed) of the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface PreparedData {
  train: LossExample[];
  val: LossExample[];
  /** Images encoded now (the rest came from the cache). */
  computed: number;
  cached: number;
}

/**
 * Fills the feature cache for every image of the dataset (unreadable images become bad rows through
 * `Dataset.reject`), then lays out every row.
 */
export async function prepareExamples(
  dataset: Dataset,
  cache: FeatureCache,
  options: PrepareOptions,
): Promise<PreparedData> {
  const result = await cache.precompute(dataset.imagePaths(), {
    batchSize: options.batchSize,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  dataset.reject(result.failed);
  const features = new Map<string, Tensor>();
  const prepare = async (rows: readonly TrainExample[]) => {
    const out: LossExample[] = [];
    for (const row of rows) {
      throwIfAborted(options.signal);
      let f = features.get(row.imagePath);
      if (!f) {
        const cached = await cache.get(row.imagePath); // [N, Dv] on its grid
        f = options.merge ? await options.merge(cached.patches, cached.grid) : cached.patches; // → [M, W]
        features.set(row.imagePath, f);
      }
      const layout = layoutExample(
        {
          prompt: row.prompt,
          answer: row.answer,
          imageTokens: f.dims[0],
          style: options.style,
          attention: options.attention,
        },
        options.tokenize,
      );
      out.push({ layout, features: f });
    }
    return out;
  };
  return {
    train: await prepare(dataset.train),
    val: await prepare(dataset.val),
    computed: result.computed,
    cached: result.cached,
  };
}

/** RMS over every value of the features (what the adapter's initialization scales by). */
export function featureRms(examples: readonly LossExample[]): number {
  const seen = new Set<Tensor>();
  let sum = 0;
  let count = 0;
  for (const { features } of examples) {
    if (seen.has(features)) continue;
    seen.add(features);
    for (const v of features.data) sum += v * v;
    count += features.data.length;
  }
  return count > 0 ? Math.sqrt(sum / count) : 1;
}
