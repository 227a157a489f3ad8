/**
 * Image–text retrieval over caption data: unit image embeddings against unit caption embeddings.
 * `image_retrieval_recall@k`: each caption ranks all images (text → image);
 * `text_retrieval_recall@k`: each image ranks all captions (image → text); k = 1, 5, 10.
 */
import { l2Normalize, Siglip } from "../../encoders/index.js";
import { DatasetError } from "../../errors.js";
import type { OnnxDtype } from "../../hub/dtypes.js";
import type { PairData } from "../data/pairs.js";
import { type Measured, recallFigure, type TaskOutput } from "../measured.js";
import { meanOf } from "../metrics/classification.js";
import { RETRIEVAL_KS, retrievalHits } from "../metrics/retrieval.js";

export interface RetrievalOptions {
  dir: string;
  dtype: OnnxDtype;
  threads?: number;
}

export async function retrievalTask(
  data: PairData,
  pooled: ReadonlyMap<string, Float32Array>,
  options: RetrievalOptions,
): Promise<TaskOutput> {
  const images = data.captioned;
  if (images.length < 2) {
    throw new DatasetError(
      `${data.source}: retrieval needs caption rows for at least 2 images; found ${images.length}`,
    );
  }
  const texts: string[] = [];
  const textImage: number[] = []; // caption → its image
  const imageTexts: number[][] = images.map(() => []);
  for (const [i, img] of images.entries()) {
    for (const c of img.captions) {
      imageTexts[i].push(texts.length);
      textImage.push(i);
      texts.push(c);
    }
  }
  const model = await Siglip.load(options.dir, { dtype: options.dtype, threads: options.threads });
  let textEmb: Float32Array[];
  try {
    textEmb = await model.embedTexts(texts);
  } finally {
    await model.dispose();
  }
  const imageEmb = images.map((img) => l2Normalize(pooled.get(img.imagePath)!));
  const I = images.length;
  const T = texts.length;
  const cos = (i: number, t: number) => {
    let s = 0;
    for (let d = 0; d < imageEmb[i].length; d++) s += imageEmb[i][d] * textEmb[t][d];
    return s;
  };
  // One query's scores at a time, so COCO-sized data (5k images × 25k captions) needs no [I, T] matrix.
  const hitsOf = (
    rows: number,
    cols: number,
    score: (q: number, j: number) => number,
    positives: (q: number) => number[],
  ) => {
    const hits = RETRIEVAL_KS.map(() => new Uint8Array(rows));
    const row = new Float32Array(cols);
    for (let q = 0; q < rows; q++) {
      for (let j = 0; j < cols; j++) row[j] = score(q, j);
      for (const [n, k] of RETRIEVAL_KS.entries()) {
        hits[n][q] = retrievalHits({ data: row, rows: 1, cols }, [positives(q)], k)[0];
      }
    }
    return hits;
  };
  const textHits = hitsOf(
    T,
    I,
    (t, i) => cos(i, t),
    (t) => [textImage[t]],
  ); // text → image
  const imageHits = hitsOf(
    I,
    T,
    (i, t) => cos(i, t),
    (i) => imageTexts[i],
  ); // image → text
  const imageKeys = images.map((img) => img.key);
  const textKeys = texts.map((_, t) => `${images[textImage[t]].key}#${imageTexts[textImage[t]].indexOf(t)}`);
  const metrics: Measured[] = [];
  for (const [n, k] of RETRIEVAL_KS.entries()) {
    const hits = textHits[n];
    metrics.push(recallFigure(`image_retrieval_recall@${k}`, (idx) => meanOf(hits, idx), textKeys));
  }
  for (const [n, k] of RETRIEVAL_KS.entries()) {
    const hits = imageHits[n];
    metrics.push(recallFigure(`text_retrieval_recall@${k}`, (idx) => meanOf(hits, idx), imageKeys));
  }
  return { task: "retrieval", metrics };
}
