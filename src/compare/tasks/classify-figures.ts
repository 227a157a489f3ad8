/** The figures every classification task reports from its class scores. */

import type { LabelledImage } from "../data/class-folder.js";
import { accuracyFigure, type Measured, type Predictions, recallFigure } from "../measured.js";
import { argmaxRows, meanPerClassRecall, type ScoreMatrix, topKHits } from "../metrics/classification.js";

/** `acc1`, `acc5` and `mean_per_class_recall` of scores [N, C] over the test images. */
export function classificationFigures(
  scores: ScoreMatrix,
  test: readonly LabelledImage[],
  classes: readonly string[],
): { metrics: Measured[]; predictions: Predictions } {
  const labels = test.map((s) => s.label);
  const keys = test.map((s) => s.key);
  const predicted = argmaxRows(scores);
  return {
    metrics: [
      accuracyFigure("acc1", topKHits(scores, labels, 1), keys),
      accuracyFigure("acc5", topKHits(scores, labels, 5), keys),
      recallFigure("mean_per_class_recall", (idx) => meanPerClassRecall(predicted, labels, idx), keys),
    ],
    predictions: { classes, keys, imagePaths: test.map((s) => s.imagePath), truth: labels, predicted },
  };
}
