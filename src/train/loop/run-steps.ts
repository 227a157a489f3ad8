/**
 * The optimizer steps of a prepared run. Each step averages the gradients of `batchSize · gradAccum`
 * shuffled examples, updates the adapter with AdamW at the scheduled learning rate, validates when due
 * (every `evalEvery` steps, or at each epoch's end), appends a metrics record and writes a checkpoint
 * when due. Aborting stops before the next step.
 */
import { throwIfAborted, VlmkitError } from "../../errors.js";
import { GradientAccumulator, type TrainingStep, trainingSteps } from "../data/dataset-batches.js";
import { checkpointDue, saveCheckpoint } from "./checkpoint.js";
import { meanLoss } from "./evaluate.js";
import { gradientsInOrder } from "./optimizer.js";
import type { PreparedRun } from "./prepare-run.js";
import { learningRate } from "./schedule.js";
import { type Validation, validate } from "./validation.js";

export interface StepsOutcome {
  /** Validation loss of the untrained adapter (NaN without validation rows, or when resumed). */
  initialValLoss: number;
  /** Mean training loss of the last step run (NaN when none ran). */
  finalLoss: number;
  /** The last validation (one is run at the end when no step was due for it). */
  last: Validation;
  /** The run had already done its last step (a resumed, finished run): nothing ran. */
  alreadyFinished: boolean;
}

export async function runSteps(run: PreparedRun): Promise<StepsOutcome> {
  const { settings: s, data, totalSteps } = run;
  if (run.resumedFrom >= totalSteps) {
    // Nothing left to run: report the run's last recorded validation instead of validating again.
    const lastVal = run.metrics.read().findLast((r) => r.valLoss !== undefined)?.valLoss ?? Number.NaN;
    return {
      initialValLoss: Number.NaN,
      finalLoss: Number.NaN,
      last: { valLoss: lastVal, samples: [] },
      alreadyFinished: true,
    };
  }
  const stepSize = s.batchSize * s.gradAccum;
  const perEpoch = Math.ceil(data.train.length / stepSize);
  const initialValLoss =
    run.resumedFrom === 0 && data.val.length > 0
      ? await meanLoss(run.loss, data.val, run.adapter, s.signal)
      : Number.NaN;
  const accumulator = new GradientAccumulator(run.optimizer.groups.map((g) => g.data.length));
  let finalLoss = Number.NaN;
  let last: Validation | undefined;
  for (const step of trainingSteps(data.train.length, {
    batchSize: stepSize,
    seed: s.seed,
    epochs: s.epochs,
    from: run.from,
  })) {
    throwIfAborted(s.signal);
    const t0 = performance.now();
    const lr = learningRate(step.step, { lr: s.lr, totalSteps, warmupSteps: s.warmupSteps });
    const { loss, gradNorm } = await optimizerStep(run, step, accumulator, lr);
    finalLoss = loss;
    const seconds = (performance.now() - t0) / 1000;
    s.onEvent({ kind: "step", step: step.step, totalSteps, epoch: step.epoch, loss, lr });

    const epochEnd = step.step % perEpoch === 0 || step.step === totalSteps;
    const due = s.evalEvery > 0 ? step.step % s.evalEvery === 0 || step.step === totalSteps : epochEnd;
    if (due) last = await validate(run, step.step);
    await run.metrics.append({
      step: step.step,
      epoch: step.epoch,
      loss,
      lr,
      gradNorm,
      examplesPerSec: step.indices.length / seconds,
      ...(due && data.val.length > 0 ? { valLoss: last?.valLoss } : {}),
    });
    if (checkpointDue(step.step, totalSteps, s.checkpointEvery)) await checkpoint(run, step);
  }
  return {
    initialValLoss,
    finalLoss,
    last: last ?? (await validate(run, totalSteps)),
    alreadyFinished: false,
  };
}

/** Averages the step's gradients and updates the adapter; the mean loss and the gradient norm. */
async function optimizerStep(
  run: PreparedRun,
  step: TrainingStep,
  accumulator: GradientAccumulator,
  lr: number,
): Promise<{ loss: number; gradNorm: number }> {
  accumulator.reset();
  let sum = 0;
  for (const i of step.indices) {
    const r = await run.loss.run(await run.data.train.get(i), run.adapter);
    if (!r.gradients) throw new VlmkitError("INTERNAL", "the adapter loss returned no gradients");
    accumulator.add(gradientsInOrder(run.optimizer.groups, r.gradients));
    sum += r.loss;
  }
  const { gradNorm } = run.optimizer.update(accumulator.mean(), lr);
  return { loss: sum / step.indices.length, gradNorm };
}

async function checkpoint(run: PreparedRun, step: TrainingStep): Promise<void> {
  const s = run.settings;
  const finished = step.position >= run.data.train.length;
  const file = await saveCheckpoint(s.out, {
    step: step.step,
    // A finished epoch resumes at the start of the next one.
    epoch: finished ? step.epoch + 1 : step.epoch,
    position: finished ? 0 : step.position,
    seed: s.seed,
    identity: run.identity,
    adapter: run.adapter,
    optimizer: run.optimizer,
  });
  s.onEvent({ kind: "checkpoint", step: step.step, file });
}
