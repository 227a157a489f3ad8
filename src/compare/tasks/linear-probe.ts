/**
 * Linear probe: multinomial logistic regression on frozen pooled image embeddings. The weight decay
 * is chosen on a validation part of the training split (a seeded hash of each image key), then the
 * probe is refitted on the whole training split and scored on the test split.
 */
import { DatasetError } from "../../errors.js";
import { splitHash } from "../../train/index.js";
import type { ClassFolderData, LabelledImage } from "../data/class-folder.js";
import type { TaskOutput } from "../measured.js";
import { accuracyFigure } from "../measured.js";
import { argmaxRows, topKHits } from "../metrics/classification.js";
import { fitLogistic, predictLogits } from "../probe/logistic.js";

/** Weight decays tried on the validation part. */
export const WEIGHT_DECAYS = [1e-4, 1e-3, 1e-2, 1e-1, 1] as const;

export interface LinearProbeOptions {
  /** Seed of the validation hash. Default 0. */
  seed?: number;
  /** Share of the training split used to choose the weight decay. Default 0.2. */
  valFraction?: number;
  /** L-BFGS iterations per fit. Default 200. */
  maxIterations?: number;
}

export interface LinearProbeResult extends TaskOutput {
  weightDecay: number;
}

function accuracyOf(logits: Float64Array, rows: readonly LabelledImage[], C: number): number {
  const pred = argmaxRows({ data: logits, rows: rows.length, cols: C });
  return pred.filter((p, i) => p === rows[i].label).length / rows.length;
}

export function linearProbeTask(
  data: ClassFolderData,
  pooled: ReadonlyMap<string, Float32Array>,
  options: LinearProbeOptions = {},
): LinearProbeResult {
  const { seed = 0, valFraction = 0.2, maxIterations = 200 } = options;
  const C = data.classes.length;
  if (data.train.length === 0) throw new DatasetError(`${data.dir}: linear-probe needs training images`);
  const feats = (rows: readonly LabelledImage[]) => rows.map((r) => pooled.get(r.imagePath)!);
  const fitVal = data.train.filter((r) => splitHash(`probe:${r.key}`, seed) >= valFraction);
  const val = data.train.filter((r) => splitHash(`probe:${r.key}`, seed) < valFraction);
  let weightDecay: number = WEIGHT_DECAYS[2];
  if (val.length > 0 && fitVal.length > 0) {
    let best = -1;
    for (const wd of WEIGHT_DECAYS) {
      const model = fitLogistic(
        feats(fitVal),
        fitVal.map((r) => r.label),
        C,
        { weightDecay: wd, maxIterations },
      );
      const acc = accuracyOf(predictLogits(model, feats(val)), val, C);
      if (acc > best) {
        best = acc;
        weightDecay = wd;
      }
    }
  }
  const model = fitLogistic(
    feats(data.train),
    data.train.map((r) => r.label),
    C,
    { weightDecay, maxIterations },
  );
  const logits = predictLogits(model, feats(data.test));
  const labels = data.test.map((r) => r.label);
  const keys = data.test.map((r) => r.key);
  const predicted = argmaxRows({ data: logits, rows: data.test.length, cols: C });
  return {
    task: "linear-probe",
    weightDecay,
    metrics: [
      accuracyFigure(
        "accuracy",
        topKHits({ data: logits, rows: data.test.length, cols: C }, labels, 1),
        keys,
      ),
    ],
    predictions: {
      classes: data.classes,
      keys,
      imagePaths: data.test.map((r) => r.imagePath),
      truth: labels,
      predicted,
    },
  };
}
