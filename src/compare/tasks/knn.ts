/**
 * Cosine k-NN (k = 20): each test image takes the majority class of its k most similar training
 * images (unit pooled embeddings); a tie goes to the class with the larger summed similarity.
 */
import { l2Normalize } from "../../encoders/index.js";
import { DatasetError } from "../../errors.js";
import type { ClassFolderData } from "../data/class-folder.js";
import { accuracyFigure, type TaskOutput } from "../measured.js";

export const KNN_K = 20;

export function knnTask(
  data: ClassFolderData,
  pooled: ReadonlyMap<string, Float32Array>,
  k = KNN_K,
): TaskOutput {
  if (data.train.length === 0) throw new DatasetError(`${data.dir}: knn needs training images`);
  const train = data.train.map((r) => l2Normalize(pooled.get(r.imagePath)!));
  const kk = Math.min(k, train.length);
  const C = data.classes.length;
  const predicted: number[] = [];
  for (const t of data.test) {
    const q = l2Normalize(pooled.get(t.imagePath)!);
    const sims = train.map((v, j) => {
      let s = 0;
      for (let d = 0; d < v.length; d++) s += v[d] * q[d];
      return { s, j };
    });
    sims.sort((a, b) => b.s - a.s || a.j - b.j);
    const votes = new Float64Array(C);
    const weight = new Float64Array(C);
    for (const { s, j } of sims.slice(0, kk)) {
      votes[data.train[j].label]++;
      weight[data.train[j].label] += s;
    }
    let best = 0;
    for (let c = 1; c < C; c++) {
      if (votes[c] > votes[best] || (votes[c] === votes[best] && weight[c] > weight[best])) best = c;
    }
    predicted.push(best);
  }
  const correct = Uint8Array.from(predicted, (p, i) => (p === data.test[i].label ? 1 : 0));
  const keys = data.test.map((r) => r.key);
  return {
    task: "knn",
    metrics: [accuracyFigure("accuracy", correct, keys)],
    predictions: {
      classes: data.classes,
      keys,
      imagePaths: data.test.map((r) => r.imagePath),
      truth: data.test.map((r) => r.label),
      predicted,
    },
  };
}
