/**
 * Dataset rows → what the loss graph takes: each image's cached features (the encoder runs once per
 * image, ever, thanks to `FeatureCache`) and each row's token layout, tokenized by the LLM itself.
 */

import type { Grid } from "../../adapter/kinds/types.js";
import { throwIfAborted } from "../../errors.js";
import type { AttentionMode, PromptStyle } from "../../prompt/index.js";
import type { Tensor } from "../../tensor.js";
import type { LossExample } from "../model/adapter-loss.js";
import type { Dataset, DatasetSide } from "./dataset.js";
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

/** Merged image features kept in memory at most (the least recently used are dropped and read again from the cache). */
export const FEATURES_IN_MEMORY = 1024;

/**
 * One side's examples as the loss graph takes them, laid out when asked for from rows read from the
 * dataset file, so that memory does not grow with the number of rows.
 */
export class PreparedExamples implements AsyncIterable<LossExample> {
  constructor(
    readonly rows: DatasetSide,
    private readonly prepare: (row: TrainExample) => Promise<LossExample>,
  ) {}

  get length(): number {
    return this.rows.length;
  }

  /** The example at position `i` of the side. */
  get(i: number): Promise<LossExample> {
    return this.prepare(this.rows.at(i));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LossExample> {
    for await (const row of this.rows) yield await this.prepare(row);
  }
}

export interface PreparedData {
  train: PreparedExamples;
  val: PreparedExamples;
  /** RMS over every value of the training images' features (what the adapter's initialization scales by). */
  inputRms(): Promise<number>;
  /** Images encoded now (the rest came from the cache). */
  computed: number;
  cached: number;
}

/**
 * Fills the feature cache for every image of the dataset (unreadable images become bad rows through
 * `Dataset.reject`); rows are laid out when they are used.
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
  await dataset.reject(result.failed);
  const memo = new Map<string, Tensor>(); // image path → merged features, least recently used first
  const featuresOf = async (imagePath: string): Promise<Tensor> => {
    let f = memo.get(imagePath);
    if (f) {
      memo.delete(imagePath);
    } else {
      const cached = await cache.get(imagePath); // [N, Dv] on its grid
      f = options.merge ? await options.merge(cached.patches, cached.grid) : cached.patches; // → [M, W]
      if (memo.size >= FEATURES_IN_MEMORY) memo.delete(memo.keys().next().value as string);
    }
    memo.set(imagePath, f);
    return f;
  };
  const prepare = async (row: TrainExample): Promise<LossExample> => {
    throwIfAborted(options.signal);
    const f = await featuresOf(row.imagePath);
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
    return { layout, features: f };
  };
  return {
    train: new PreparedExamples(dataset.train, prepare),
    val: new PreparedExamples(dataset.val, prepare),
    inputRms: async () => {
      let sum = 0;
      let count = 0;
      for (const image of dataset.imagePaths("train")) {
        const { data } = await featuresOf(image);
        for (const v of data) sum += v * v;
        count += data.length;
      }
      return count > 0 ? Math.sqrt(sum / count) : 1;
    },
    computed: result.computed,
    cached: result.cached,
  };
}
