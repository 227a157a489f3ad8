/**
 * Validation during training: the mean loss over the validation examples, and sample answers through
 * the real inference path (`Vlm` on llama.cpp with the adapter as it is now), reported as an event.
 */
import { adapterWithCard } from "../../adapter/index.js";
import { cardForPairing } from "../../vlm/pairing-card.js";
import { Vlm } from "../../vlm.js";
import type { TrainExample } from "../data/dataset-rows.js";
import { generateAnswers, meanLoss, type SampleAnswer } from "./evaluate.js";
import type { PreparedRun } from "./prepare-run.js";

export interface Validation {
  /** NaN without validation rows. */
  valLoss: number;
  samples: SampleAnswer[];
}

export async function validate(run: PreparedRun, step: number): Promise<Validation> {
  const { settings, dataset } = run;
  const valLoss = await meanLoss(run.loss, run.data.val, run.adapter, settings.signal);
  const rows = dataset.val.length > 0 ? dataset.val : dataset.train;
  const samples = await sampleAnswers(run, await rows.take(settings.samples));
  settings.onEvent({ kind: "validation", step, valLoss, samples });
  return { valLoss, samples };
}

/**
 * Greedy answers of the current adapter through `Vlm`, with the adapter and its card held in memory, so
 * the samples show what inference will do (llama.cpp, the card's prompt style and attention), not what
 * the training graph predicts.
 */
async function sampleAnswers(run: PreparedRun, rows: readonly TrainExample[]): Promise<SampleAnswer[]> {
  if (rows.length === 0) return [];
  const adapter = adapterWithCard(run.adapter, cardForPairing(run.pairing), "being trained");
  const vlm = await Vlm.load({ encoder: run.encoder, adapter, llm: run.llm });
  try {
    return await generateAnswers(vlm, rows, { maxTokens: 16 });
  } finally {
    await vlm.dispose();
  }
}
