/**
 * Both SigLIP towers together: zero-shot classification with sigmoid scores and L2-normalized image and
 * text embeddings. The text tower and the logit parameters load on first use, so image-only work
 * (embedImages, feature extraction) never pays for them.
 */

import type { SessionOptions } from "./encoder-session.js";
import { type LogitParams, resolveLogitParams } from "./logit-params.js";
import { SiglipTextEncoder } from "./siglip-text-encoder.js";
import { dot, l2Normalize, sigmoid } from "./vectors.js";
import { type EncodeOptions, type ImageInput, VisionEncoder } from "./vision-encoder.js";
import { zeroShotPrompts } from "./zero-shot-text.js";

export interface SiglipOptions extends SessionOptions {
  /** Override the zero-shot logit scale/bias instead of recovering them from `onnx/model.onnx`. */
  logitParams?: LogitParams;
}

export interface ClassifyOptions extends EncodeOptions {
  /** Prompt template; `{}` is replaced by the label. Default "This is a photo of {}." (as HF's pipeline). */
  template?: string;
}

export interface LabelScore {
  label: string;
  /** sigmoid(cos · exp(logit_scale) + logit_bias): independent per label, not a softmax. */
  score: number;
}

export class Siglip {
  private text?: Promise<SiglipTextEncoder>;
  private logit?: Promise<LogitParams>;

  private constructor(
    readonly dir: string,
    readonly vision: VisionEncoder,
    private readonly options: SiglipOptions,
  ) {}

  /**
   * Loads the vision tower of an encoder directory (public ONNX export layout); the text tower follows
   * on first use.
   *
   * @example
   * ```ts
   * import { Siglip, resolveModelDir } from "vlmkit";
   *
   * const model = await Siglip.load(await resolveModelDir("siglip2-base-patch16-224"), { dtype: "fp16" });
   * // ... classify, embedImages, embedTexts ...
   * await model.dispose();
   * ```
   */
  static async load(dir: string, options: SiglipOptions = {}): Promise<Siglip> {
    return new Siglip(dir, await VisionEncoder.load(dir, options), options);
  }

  textEncoder(): Promise<SiglipTextEncoder> {
    if (!this.text) {
      const loading = SiglipTextEncoder.load(this.dir, this.options);
      // A failed load is not cached: the next call tries again.
      loading.catch(() => {
        if (this.text === loading) this.text = undefined;
      });
      this.text = loading;
    }
    return this.text;
  }

  logitParams(): Promise<LogitParams> {
    if (this.options.logitParams) return Promise.resolve(this.options.logitParams);
    if (!this.logit) {
      const resolving = this.textEncoder().then((t) =>
        resolveLogitParams(this.dir, this.vision.config, this.vision.preprocess, t.tokenizer, this.options),
      );
      resolving.catch(() => {
        if (this.logit === resolving) this.logit = undefined;
      });
      this.logit = resolving;
    }
    return this.logit;
  }

  /**
   * images → unit-norm image embeddings (from `pooler_output`), one per image.
   *
   * @example
   * ```ts
   * const [a, b] = await model.embedImages(["cat.jpg", "dog.jpg"]); // Float32Array [D] each
   * const cosine = a.reduce((sum, x, i) => sum + x * b[i], 0);
   * ```
   */
  async embedImages(images: readonly ImageInput[], options: EncodeOptions = {}): Promise<Float32Array[]> {
    const features = await this.vision.encode(images, options);
    return features.map((f) => l2Normalize(f.pooled));
  }

  /**
   * texts → unit-norm text embeddings, with the model's text rules (canonicalize, pad to 64).
   *
   * @example
   * ```ts
   * const [query] = await model.embedTexts(["a photo of a red circle"]);
   * const images = await model.embedImages(files);
   * const ranked = images.map((v, i) => ({ file: files[i], score: v.reduce((s, x, j) => s + x * query[j], 0) }));
   * ```
   */
  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    const pooled = await (await this.textEncoder()).encode(texts); // [T, Dt]
    const D = pooled.dims[1];
    return texts.map((_, t) => l2Normalize(pooled.data.subarray(t * D, (t + 1) * D)));
  }

  /**
   * For each image, every label with its sigmoid score, highest first.
   *
   * @example
   * ```ts
   * const [scores] = await model.classify(["cat.jpg"], ["cat", "dog"], { template: "a photo of a {}." });
   * console.log(scores[0]); // { label: "cat", score: 0.93 }: sigmoid per label, not a softmax
   * ```
   */
  async classify(
    images: readonly ImageInput[],
    labels: readonly string[],
    options: ClassifyOptions = {},
  ): Promise<LabelScore[][]> {
    const { labels: clean, prompts } = zeroShotPrompts(labels, options.template);
    const [textEmb, params, imageEmb] = await Promise.all([
      this.embedTexts(prompts),
      this.logitParams(),
      this.embedImages(images, options),
    ]);
    return imageEmb.map((img) =>
      clean
        .map((label, j) => ({ label, score: sigmoid(dot(img, textEmb[j]) * params.scale + params.bias) }))
        .sort((a, b) => b.score - a.score),
    );
  }

  async dispose(): Promise<void> {
    await this.vision.dispose();
    const text = await this.text?.catch(() => undefined);
    await text?.dispose();
  }
}
