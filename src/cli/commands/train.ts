import type { Command } from "commander";
import { ADAPTER_KINDS, isAdapterKind, kindSpec } from "../../adapter/index.js";
import { InvalidArgumentError } from "../../errors.js";
import type { AttentionMode, PromptStyle } from "../../prompt/index.js";
import { TRAIN_DEFAULTS, type TrainEvent, type TrainResult, trainAdapter } from "../../train/loop/trainer.js";
import { addEncoderOptions, type EncoderArgs, encoderDir } from "../encoder-arg.js";
import { llmPath } from "../llm-arg.js";
import { printJson, printLine, progressBar } from "../output.js";
import { int, num } from "../parse.js";

interface TrainArgs extends EncoderArgs {
  data: string;
  llm: string;
  out: string;
  style: string;
  adapterKind: string;
  pool?: number;
  attention?: string;
  epochs: number;
  lr: number;
  batch: number;
  gradAccum: number;
  warmup?: number;
  valFraction: number;
  valFile?: string;
  evalEvery: number;
  samples: number;
  checkpointEvery: number;
  resume?: boolean;
  overwrite?: boolean;
  onBadRow: string;
  allowOutsidePaths?: boolean;
  seed: number;
}

export function register(program: Command): void {
  const d = TRAIN_DEFAULTS;
  addEncoderOptions(
    program
      .command("train")
      .description(
        "train an adapter (linear, mlp, pixel-shuffle or avgpool) from an image encoder into a frozen gemma3 LLM",
      )
      .requiredOption(
        "--data <file|dir>",
        "dataset: .jsonl, LLaVA .json, or an imagefolder with metadata.jsonl",
      )
      .requiredOption("--llm <gguf>", "the gemma3 GGUF the adapter feeds")
      .requiredOption("--out <dir>", "adapter directory (also gets metrics.jsonl, loss.png, checkpoints/)")
      .option("--style <style>", "prompt style: paligemma or gemma-chat", d.style)
      .option("--adapter-kind <kind>", `adapter kind: ${ADAPTER_KINDS.join(", ")}`, "linear")
      .option(
        "--pool <r|k>",
        "merge factor of pixel-shuffle (r, default 2) or avgpool (k, default 4): r² or k² patches per image token",
        int("--pool", 2),
      )
      .option("--attention <mode>", "prefix-lm, bidirectional-image or causal (default: the style's)")
      .option("--epochs <n>", "passes over the training rows", int("--epochs", 1), d.epochs)
      .option("--lr <rate>", "peak AdamW learning rate", num("--lr", 0, 10), d.lr)
      .option("--batch <n>", "examples per micro-batch", int("--batch", 1), d.batchSize)
      .option("--grad-accum <n>", "micro-batches per optimizer step", int("--grad-accum", 1), d.gradAccum)
      .option("--warmup <steps>", "linear warmup steps (default 5% of the steps)", int("--warmup"))
      .option(
        "--val-fraction <f>",
        "share of rows held out for validation",
        num("--val-fraction", 0, 0.9),
        d.valFraction,
      )
      .option("--val-file <file|dir>", "a separate validation dataset (then nothing is held out)")
      .option(
        "--eval-every <steps>",
        "validate every n steps (0: each epoch)",
        int("--eval-every"),
        d.evalEvery,
      )
      .option("--samples <n>", "sample answers generated at each validation", int("--samples"), d.samples)
      .option(
        "--checkpoint-every <steps>",
        "checkpoint every n optimizer steps",
        int("--checkpoint-every", 1),
        d.checkpointEvery,
      )
      .option("--resume", "continue from the newest checkpoint in --out")
      .option("--overwrite", "replace the adapter and training run already in --out")
      .option("--on-bad-row <policy>", "skip or fail", "skip")
      .option(
        "--allow-outside-paths",
        "accept dataset image paths outside the dataset's folder (../, absolute paths, symlinks leading out)",
      )
      .option(
        "--seed <n>",
        "seed of the split, shuffle and initial weights",
        int("--seed", 0, 2 ** 32 - 1),
        d.seed,
      )
      .option("--json", "print the training summary as JSON"),
  ).action(async (args: TrainArgs) => {
    if (args.style !== "paligemma" && args.style !== "gemma-chat") {
      throw new InvalidArgumentError(`--style "${args.style}"; expected "paligemma" or "gemma-chat"`);
    }
    if (args.onBadRow !== "skip" && args.onBadRow !== "fail") {
      throw new InvalidArgumentError(`--on-bad-row "${args.onBadRow}"; expected "skip" or "fail"`);
    }
    if (!isAdapterKind(args.adapterKind)) {
      throw new InvalidArgumentError(
        `--adapter-kind "${args.adapterKind}"; expected one of ${ADAPTER_KINDS.join(", ")}`,
      );
    }
    if (args.pool !== undefined && !kindSpec(args.adapterKind).merges) {
      throw new InvalidArgumentError(
        `--pool applies to pixel-shuffle and avgpool; a ${args.adapterKind} adapter maps each patch`,
      );
    }
    const { dir, dtype } = await encoderDir(args);
    const llm = await llmPath(args.llm, { json: args.json });
    const features = progressBar("encoding images", { json: args.json });
    const steps = progressBar("training", { json: args.json });
    const say = (text: string) => {
      if (!args.json) process.stderr.write(`${text}\n`);
    };
    const controller = new AbortController();
    process.once("SIGINT", () => controller.abort());
    const onEvent = (e: TrainEvent) => {
      if (e.kind === "features") features.update(e.done, e.total);
      else if (e.kind === "start") {
        features.stop();
        say(`training on ${e.train} rows (${e.val} for validation), ${e.totalSteps} steps`);
      } else if (e.kind === "resumed") say(`resuming after step ${e.step} from ${e.file}`);
      else if (e.kind === "step") steps.update(e.step, e.totalSteps);
      else if (e.kind === "validation") {
        const right = e.samples.filter((s) => s.correct).length;
        say(
          `step ${e.step}: validation loss ${e.valLoss.toFixed(4)}; samples ${right}/${e.samples.length} right`,
        );
        for (const s of e.samples)
          say(
            `  ${JSON.stringify(s.prompt)} → ${JSON.stringify(s.answer)} (want ${JSON.stringify(s.reference)})`,
          );
      }
    };
    try {
      const result = await trainAdapter({
        data: args.data,
        encoder: dir,
        encoderDtype: dtype,
        llm,
        out: args.out,
        style: args.style as PromptStyle,
        adapterKind: args.adapterKind,
        pool: args.pool,
        attention: args.attention as AttentionMode | undefined,
        epochs: args.epochs,
        lr: args.lr,
        batchSize: args.batch,
        gradAccum: args.gradAccum,
        warmupSteps: args.warmup,
        valFraction: args.valFraction,
        valFile: args.valFile,
        evalEvery: args.evalEvery,
        samples: args.samples,
        checkpointEvery: args.checkpointEvery,
        resume: args.resume ?? false,
        overwrite: args.overwrite ?? false,
        onBadRow: args.onBadRow,
        allowOutsidePaths: args.allowOutsidePaths ?? false,
        seed: args.seed,
        threads: args.threads,
        onEvent,
        onReport: say,
        signal: controller.signal,
      });
      steps.stop();
      if (args.json) return printJson(result);
      printLine(finalLine(result));
    } finally {
      features.stop();
      steps.stop();
    }
  });
}

/** The last line: what was done, then the three files a user looks at next. */
function finalLine(r: TrainResult): string {
  const files = `adapter ${r.adapterDir} (try: vlmkit ask <image> "<question>" --adapter ${r.adapterDir}), loss curve ${r.lossCurve}, metrics ${r.metrics}`;
  if (r.alreadyFinished)
    return `the run in ${r.adapterDir} had already finished all ${r.steps} steps; nothing to resume. ${files}`;
  const losses = [`final training loss ${r.finalLoss.toFixed(4)}`];
  if (Number.isFinite(r.finalValLoss)) {
    losses.push(
      Number.isFinite(r.initialValLoss)
        ? `validation loss ${r.initialValLoss.toFixed(4)} → ${r.finalValLoss.toFixed(4)}`
        : `validation loss ${r.finalValLoss.toFixed(4)}`,
    );
  }
  return `trained ${r.steps} steps, ${losses.join(", ")}. Saved: ${files}`;
}
