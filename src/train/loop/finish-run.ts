/**
 * The last step of a training run: `loss.png` from the metrics, the adapter saved with its card (the
 * pairing and the training: dataset, steps, final loss, date, seed) in `out`, and the run's result.
 */
import path from "node:path";
import { saveAdapter } from "../../adapter/index.js";
import { cardForPairing } from "../../vlm/pairing-card.js";
import { recordPartSource } from "../../vlm/part-sources.js";
import { accuracy } from "./evaluate.js";
import { writeLossCurve } from "./loss-curve.js";
import type { PreparedRun } from "./prepare-run.js";
import type { StepsOutcome } from "./run-steps.js";
import type { TrainResult } from "./trainer.js";

/** `started`: when the run began (`Date.now()`), for the result's seconds. */
export async function finishRun(
  run: PreparedRun,
  outcome: StepsOutcome,
  started: number,
): Promise<TrainResult> {
  const { settings: s, data, totalSteps } = run;
  const { last, finalLoss } = outcome;
  const records = run.metrics.read();
  const lossCurve = path.join(s.out, "loss.png");
  await writeLossCurve(lossCurve, records);
  // The card says where its encoder and LLM are, so `ask --adapter <out>` needs no other flag: a hub
  // snapshot by repo and commit, a local part linked into `out` (a bundle) by path and sha256.
  const sources = {
    encoder: await recordPartSource(s.out, run.pairing.encoder.dir),
    llm: await recordPartSource(s.out, s.llm),
  };
  const lastLoss = Number.isFinite(finalLoss) ? finalLoss : (records.at(-1)?.loss ?? Number.NaN);
  await saveAdapter(
    s.out,
    run.adapter,
    cardForPairing({
      ...run.pairing,
      sources,
      training: {
        dataset: path.basename(run.dataset.source),
        steps: totalSteps,
        ...(Number.isFinite(last.valLoss) || Number.isFinite(lastLoss)
          ? { final_loss: Number.isFinite(last.valLoss) ? last.valLoss : lastLoss }
          : {}),
        date: new Date().toISOString(),
        seed: s.seed,
        ...(s.valFile ? { val_file: path.basename(s.valFile) } : { val_fraction: s.valFraction }),
      },
    }),
  );
  return {
    adapterDir: s.out,
    steps: totalSteps,
    resumedFrom: run.resumedFrom,
    trainExamples: data.train.length,
    valExamples: data.val.length,
    // A run resumed after its last step ran none: the last recorded step's loss.
    finalLoss: lastLoss,
    initialValLoss: outcome.initialValLoss,
    finalValLoss: last.valLoss,
    samples: last.samples,
    sampleAccuracy: accuracy(last.samples),
    imagesEncoded: data.computed,
    seconds: (Date.now() - started) / 1000,
    alreadyFinished: outcome.alreadyFinished,
    lossCurve,
    metrics: path.join(s.out, "metrics.jsonl"),
  };
}
