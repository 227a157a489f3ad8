/**
 * Zero-shot classification: each class name through every prompt template, the unit text embeddings
 * averaged per class and renormalized (CLIP's prompt ensemble), cosine with the unit image embedding.
 * Text goes through the model's own text rules (`Siglip.embedTexts`).
 */
import { l2Normalize, Siglip, zeroShotPrompts } from "../../encoders/index.js";
import type { OnnxDtype } from "../../hub/dtypes.js";
import type { ClassFolderData } from "../data/class-folder.js";
import type { TaskOutput } from "../measured.js";
import { classificationFigures } from "./classify-figures.js";

/** The default prompt ensemble: short templates in the style of CLIP's ImageNet prompts. */
export const DEFAULT_TEMPLATES = [
  "a photo of a {}.",
  "This is a photo of {}.",
  "a photo of the {}.",
  "a close-up photo of a {}.",
  "a bright photo of a {}.",
  "a picture of a {}.",
];

export interface ZeroShotOptions {
  dir: string;
  dtype: OnnxDtype;
  templates?: readonly string[];
  threads?: number;
}

/** Unit class embeddings, one per class: mean over templates of unit text embeddings, renormalized. */
export async function classEmbeddings(
  model: Siglip,
  classes: readonly string[],
  templates: readonly string[],
) {
  const out: Float32Array[] = [];
  for (const name of classes) {
    const prompts = templates.flatMap((t) => zeroShotPrompts([name], t).prompts);
    const vectors = await model.embedTexts(prompts);
    const mean = new Float32Array(vectors[0].length);
    for (const v of vectors) for (let d = 0; d < v.length; d++) mean[d] += v[d] / vectors.length;
    out.push(l2Normalize(mean));
  }
  return out;
}

export async function zeroShotTask(
  data: ClassFolderData,
  pooled: ReadonlyMap<string, Float32Array>,
  options: ZeroShotOptions,
): Promise<TaskOutput> {
  const model = await Siglip.load(options.dir, { dtype: options.dtype, threads: options.threads });
  try {
    const text = await classEmbeddings(model, data.classes, options.templates ?? DEFAULT_TEMPLATES);
    const C = text.length;
    const scores = new Float32Array(data.test.length * C); // [N, C] cosines
    for (const [i, s] of data.test.entries()) {
      const img = l2Normalize(pooled.get(s.imagePath)!);
      for (let c = 0; c < C; c++) {
        let dot = 0;
        for (let d = 0; d < img.length; d++) dot += img[d] * text[c][d];
        scores[i * C + c] = dot;
      }
    }
    const { metrics, predictions } = classificationFigures(
      { data: scores, rows: data.test.length, cols: C },
      data.test,
      data.classes,
    );
    return { task: "zeroshot", metrics, predictions };
  } finally {
    await model.dispose();
  }
}
