/**
 * SigLIP's zero-shot logit is `cos(image, text) · exp(logit_scale) + logit_bias`. The public
 * separate-tower exports (vision_model.onnx, text_model.onnx) do not carry the two scalars; the combined
 * `model.onnx` applies them. vlmkit recovers them once from the combined model: run it on one image and
 * a few texts, then solve `logits = s·cos + b` by least squares over its own `image_embeds`/`text_embeds`.
 * The result is cached under the vlmkit cache dir, keyed by the file's path, size and mtime. Without a
 * combined model, the values recorded for the directory (`logit-record.ts`) are used.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type * as ort from "onnxruntime-node";
import { vlmkitCacheDir } from "../env.js";
import { ModelFormatError } from "../errors.js";
import { type LogitParams, recordedLogitParams } from "../hub/logit-record.js";
import type { PreprocessorConfig } from "../image/index.js";
import { writeFileAtomic } from "../util/fs.js";
import {
  floatData,
  floatTensor,
  hasOnnxFile,
  intTensor,
  onnxFile,
  openEncoderSession,
  requireNames,
  type SessionOptions,
} from "./encoder-session.js";
import type { EncoderConfig } from "./model-config.js";
import type { SiglipTextTokenizer } from "./text-tokenizer.js";
import { dot, l2Normalize } from "./vectors.js";

export type { LogitParams } from "../hub/logit-record.js";

const PROBE_TEXTS = ["a photo of a cat", "a diagram", "red", "an empty street at night"];

export async function resolveLogitParams(
  dir: string,
  config: EncoderConfig,
  preprocess: PreprocessorConfig,
  tokenizer: SiglipTextTokenizer,
  options: SessionOptions = {},
): Promise<LogitParams> {
  const dtype = hasOnnxFile(dir, "model", options.dtype) ? options.dtype : "fp32";
  if (!hasOnnxFile(dir, "model", dtype)) {
    const recorded = recordedLogitParams(dir);
    if (recorded) return { scale: recorded.scale, bias: recorded.bias };
    throw new ModelFormatError(
      `zero-shot scores need logit_scale and logit_bias: ${dir} has no combined onnx/model.onnx to recover them from, ` +
        "and none were recorded for it (a known model records them from its checkpoint when `vlmkit pull <id>` " +
        "runs online); pass logitParams ({scale, bias}) to Siglip.load otherwise",
      { details: { dir } },
    );
  }
  const file = onnxFile(dir, "model", dtype);
  const stat = fs.statSync(file);
  const key = crypto
    .createHash("sha256")
    .update(`${path.resolve(file)}\0${stat.size}\0${stat.mtimeMs}`)
    .digest("hex");
  const cacheFile = path.join(vlmkitCacheDir(), "logit-params", `${key.slice(0, 32)}.json`);
  try {
    const cached = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as LogitParams;
    if (Number.isFinite(cached.scale) && Number.isFinite(cached.bias)) return cached;
  } catch {
    // not cached yet
  }
  const params = await calibrate(file, config, preprocess, tokenizer, options);
  await writeFileAtomic(cacheFile, JSON.stringify(params));
  return params;
}

async function calibrate(
  file: string,
  config: EncoderConfig,
  preprocess: PreprocessorConfig,
  tokenizer: SiglipTextTokenizer,
  options: SessionOptions,
): Promise<LogitParams> {
  const s = await openEncoderSession(file, options);
  try {
    requireNames(s, "outputs", ["logits_per_image", "image_embeds", "text_embeds"]);
    const T = PROBE_TEXTS.length;
    const L = tokenizer.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: intTensor(s, "input_ids", tokenizer.encode(PROBE_TEXTS), [T, L]),
    };
    if (preprocess.kind === "naflex") {
      const M = preprocess.maxNumPatches;
      const side = Math.floor(Math.sqrt(M));
      const perPatch = 3 * preprocess.patchSize ** 2;
      const pixels = new Float32Array(M * perPatch).map((_, i) => Math.sin(i * 0.37)); // [1, M, 3·p²]
      feeds.pixel_values = floatTensor(s, "pixel_values", pixels, [1, M, perPatch]);
      const mask = new Uint8Array(M).fill(1, 0, side * side);
      feeds.pixel_attention_mask = intTensor(s, "pixel_attention_mask", mask, [1, M]);
      feeds.spatial_shapes = intTensor(s, "spatial_shapes", [side, side], [1, 2]);
    } else {
      const { height, width } = preprocess;
      const pixels = new Float32Array(3 * height * width).map((_, i) => Math.sin(i * 0.37)); // [1, 3, H, W]
      feeds.pixel_values = floatTensor(s, "pixel_values", pixels, [1, 3, height, width]);
    }
    const out = await s.session.run(feeds);
    const logits = floatData(out.logits_per_image, "logits_per_image"); // [1, T]
    const img = l2Normalize(floatData(out.image_embeds, "image_embeds")); // [1, D]
    const txt = floatData(out.text_embeds, "text_embeds"); // [T, D]
    const D = img.length;
    const cos = PROBE_TEXTS.map((_, t) => dot(img, l2Normalize(txt.subarray(t * D, (t + 1) * D))));
    // Least squares for logits = scale·cos + bias.
    const mc = cos.reduce((a, b) => a + b, 0) / T;
    const ml = Array.from(logits).reduce((a, b) => a + b, 0) / T;
    let cov = 0;
    let varc = 0;
    for (let t = 0; t < T; t++) {
      cov += (cos[t] - mc) * (logits[t] - ml);
      varc += (cos[t] - mc) ** 2;
    }
    if (varc < 1e-12)
      throw new ModelFormatError(
        `${file}: could not recover logit_scale/logit_bias (probe texts embed identically)`,
      );
    const scale = cov / varc;
    void config;
    return { scale, bias: ml - scale * mc };
  } finally {
    await s.session.release();
  }
}
