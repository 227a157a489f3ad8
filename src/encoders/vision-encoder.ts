/**
 * The SigLIP / SigLIP 2 vision tower over `onnx/vision_model*.onnx`: images → patch features [N, Dv],
 * pooled embedding [Dv] and the patch grid. Fixed-resolution and NaFlex exports are told apart by their
 * inputs; preprocessing follows the model's `preprocessor_config.json`.
 */
import os from "node:os";
import type * as ort from "onnxruntime-node";
import { defaultThreads } from "../env.js";
import { ModelFormatError, throwIfAborted } from "../errors.js";
import {
  type ImageSource,
  type LoadImageOptions,
  loadImage,
  type PreprocessorConfig,
  preprocessFixed,
  preprocessNaflex,
  type RgbImage,
  readPreprocessorConfig,
} from "../image/index.js";
import { type Tensor, tensor } from "../tensor.js";
import {
  type EncoderSession,
  floatData,
  floatTensor,
  intTensor,
  onnxFile,
  openEncoderSession,
  requireNames,
  type SessionOptions,
} from "./encoder-session.js";
import { type EncoderConfig, readEncoderConfig } from "./model-config.js";

/** An image to encode: anything `loadImage` reads, or pixels already decoded. */
export type ImageInput = ImageSource | RgbImage;

export interface VisionFeatures {
  /** Patch features from `last_hidden_state`, real patches only: [N, Dv] with N = rows · cols. */
  patches: Tensor;
  /** Pooled image embedding from `pooler_output` (not normalized): [Dv]. */
  pooled: Float32Array;
  /** The patch grid the features are laid out on, row-major. */
  grid: { rows: number; cols: number };
}

export interface EncodeOptions {
  /** Images per onnxruntime call. Default 8. */
  batchSize?: number;
  /** How images are read (remote URLs, limits). Default: local files and data: URLs, no remote. */
  image?: LoadImageOptions;
  signal?: AbortSignal;
  /** Called after each batch with the number of images done so far. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Decode and resize batch k+1 while onnxruntime runs batch k. Default: only when the machine has
   * more logical cores than the session's threads. When onnxruntime's threads already take every
   * core, the overlap slows inference more than it hides (bench:encode, 2 cores: 0.92 of the bare
   * session's speed overlapped, 1.0 one batch after the other).
   */
  overlap?: boolean;
}

/** One preprocessed image, ready to be batched. */
interface Prepared {
  pixels: Float32Array; // fixed: [3, H, W]; NaFlex: [M, 3·p²]
  mask?: Int32Array; // NaFlex: [M]
  grid: { rows: number; cols: number };
}

export class VisionEncoder {
  private constructor(
    readonly dir: string,
    readonly config: EncoderConfig,
    readonly preprocess: PreprocessorConfig,
    private readonly s: EncoderSession,
    /** Intra-op threads of the session, to decide whether preparing overlaps inference. */
    private readonly threads: number,
  ) {}

  /** The ONNX file the session runs (the dtype variant that was loaded). */
  get modelFile(): string {
    return this.s.file;
  }

  /** The onnxruntime session that runs the file (owned by this encoder; released by `dispose`). */
  get session(): ort.InferenceSession {
    return this.s.session;
  }

  /** Dv: the width of each patch feature. */
  get hiddenSize(): number {
    return this.config.visionHidden;
  }

  get naflex(): boolean {
    return this.preprocess.kind === "naflex";
  }

  /**
   * Loads `onnx/vision_model<dtype suffix>.onnx` of an encoder directory and checks its inputs and
   * outputs; fixed-resolution or NaFlex follows `preprocessor_config.json`.
   *
   * @example
   * ```ts
   * import { VisionEncoder } from "vlmkit";
   *
   * const encoder = await VisionEncoder.load("models/demo/siglip2-naflex", { threads: 2 });
   * const [f] = await encoder.encode(["cat.jpg"]);
   * console.log(f.patches.dims, f.grid); // [N, Dv] patch features, { rows, cols }
   * await encoder.dispose();
   * ```
   */
  static async load(dir: string, options: SessionOptions = {}): Promise<VisionEncoder> {
    const config = readEncoderConfig(dir);
    const preprocess = await readPreprocessorConfig(dir);
    const s = await openEncoderSession(onnxFile(dir, "vision_model", options.dtype), options);
    try {
      const inputs =
        preprocess.kind === "naflex"
          ? ["pixel_values", "pixel_attention_mask", "spatial_shapes"]
          : ["pixel_values"];
      requireNames(s, "inputs", inputs);
      requireNames(s, "outputs", ["last_hidden_state", "pooler_output"]);
      if (preprocess.kind === "fixed" && s.inputs.has("spatial_shapes")) {
        throw new ModelFormatError(
          `${s.file} is a NaFlex export but ${dir}/preprocessor_config.json describes fixed resolution`,
        );
      }
    } catch (error) {
      await s.session.release();
      throw error;
    }
    return new VisionEncoder(dir, config, preprocess, s, options.threads ?? defaultThreads());
  }

  /**
   * Encodes images in batches. Where spare cores exist (see `EncodeOptions.overlap`), batch k+1 is
   * decoded and resized (on libvips' threads) while onnxruntime runs batch k.
   */
  async encode(images: readonly ImageInput[], options: EncodeOptions = {}): Promise<VisionFeatures[]> {
    const batchSize = Math.max(1, options.batchSize ?? 8);
    const overlap = options.overlap ?? os.availableParallelism() > this.threads;
    const out: VisionFeatures[] = [];
    const prepareBatch = (start: number) => {
      const batch = Promise.all(
        images.slice(start, start + batchSize).map((img) => this.prepare(img, options)),
      );
      batch.catch(() => {}); // awaited below; a look-ahead that is never reached must not go unhandled
      return batch;
    };
    let next = images.length > 0 ? prepareBatch(0) : undefined;
    for (let start = 0; start < images.length; start += batchSize) {
      throwIfAborted(options.signal);
      const batch = await next!;
      const following = start + batchSize < images.length ? start + batchSize : undefined;
      next = overlap && following !== undefined ? prepareBatch(following) : undefined;
      out.push(...(await this.run(batch)));
      if (!overlap && following !== undefined) next = prepareBatch(following);
      options.onProgress?.(out.length, images.length);
    }
    return out;
  }

  private async prepare(input: ImageInput, options: EncodeOptions): Promise<Prepared> {
    throwIfAborted(options.signal);
    const img = isRgbImage(input)
      ? input
      : await loadImage(input, { ...options.image, signal: options.signal });
    if (this.preprocess.kind === "naflex") {
      const p = await preprocessNaflex(img, this.preprocess);
      return {
        pixels: p.pixelValues.data,
        mask: p.mask,
        grid: { rows: p.spatialShape[0], cols: p.spatialShape[1] },
      };
    }
    const p = await preprocessFixed(img, this.preprocess);
    const side = this.config.patchSize;
    // A patch-p convolution over H pixels gives floor(H / p) rows (so400m: 384 px / 14 → 27).
    return {
      pixels: p.data,
      grid: { rows: Math.floor(p.dims[1] / side), cols: Math.floor(p.dims[2] / side) },
    };
  }

  private async run(batch: Prepared[]): Promise<VisionFeatures[]> {
    const B = batch.length;
    const per = batch[0].pixels.length;
    const pixels = new Float32Array(B * per);
    for (const [b, p] of batch.entries()) pixels.set(p.pixels, b * per);
    const feeds: Record<string, ort.Tensor> = {};
    if (this.preprocess.kind === "naflex") {
      const M = this.preprocess.maxNumPatches;
      feeds.pixel_values = floatTensor(this.s, "pixel_values", pixels, [B, M, per / M]); // [B, M, 3·p²]
      const mask = new Int32Array(B * M);
      for (const [b, p] of batch.entries()) mask.set(p.mask!, b * M);
      feeds.pixel_attention_mask = intTensor(this.s, "pixel_attention_mask", mask, [B, M]); // [B, M]
      feeds.spatial_shapes = intTensor(
        this.s,
        "spatial_shapes",
        batch.flatMap((p) => [p.grid.rows, p.grid.cols]),
        [B, 2],
      ); // [B, 2]
    } else {
      const { height, width } = this.preprocess;
      feeds.pixel_values = floatTensor(this.s, "pixel_values", pixels, [B, 3, height, width]); // [B, 3, H, W]
    }
    const result = await this.s.session.run(feeds);
    const hidden = result.last_hidden_state; // [B, M, Dv]
    const pooled = result.pooler_output; // [B, Dv]
    const Dv = Number(hidden.dims[2]);
    const M = Number(hidden.dims[1]);
    const hiddenData = floatData(hidden, "last_hidden_state");
    const pooledData = floatData(pooled, "pooler_output");
    return batch.map((p, b) => {
      const n = p.grid.rows * p.grid.cols;
      if (n > M)
        throw new ModelFormatError(
          `${this.s.file}: last_hidden_state has ${M} positions, the image has ${n} patches`,
        );
      // NaFlex rows past n are padding; fixed-res n === M.
      const patches = hiddenData.slice(b * M * Dv, (b * M + n) * Dv);
      return {
        patches: tensor(patches, [n, Dv]),
        pooled: pooledData.slice(b * Dv, (b + 1) * Dv),
        grid: p.grid,
      };
    });
  }

  async dispose(): Promise<void> {
    await this.s.session.release();
  }
}

/** The grid a patch-`p` convolution makes of an H×W image: floor(H / p) rows (so400m: 384 px / 14 → 27). */
export function patchGrid(height: number, width: number, patch: number): { rows: number; cols: number } {
  return { rows: Math.floor(height / patch), cols: Math.floor(width / patch) };
}

function isRgbImage(x: ImageInput): x is RgbImage {
  return (
    typeof x === "object" && x !== null && !(x instanceof Uint8Array) && !(x instanceof URL) && "width" in x
  );
}
