import type { Command } from "commander";
import type { AdapterCard } from "../../adapter/index.js";
import { InvalidArgumentError } from "../../errors.js";
import { type EvaluateOptions, evaluateAdapter } from "../../train/loop/evaluate.js";
import { adapterParts } from "../adapter-parts.js";
import { printJson, printLine, progressBar } from "../output.js";
import { int } from "../parse.js";

interface EvalArgs {
  data: string;
  adapter: string;
  encoder?: string;
  dtype: string;
  llm?: string;
  limit?: number;
  maxTokens: number;
  onBadRow: string;
  split: string;
  allowOutsidePaths?: boolean;
  threads?: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("eval")
    .description("loss and answer accuracy of an adapter on a dataset (answers through the inference path)")
    .requiredOption(
      "--data <file|dir>",
      "dataset: .jsonl, LLaVA .json, or an imagefolder with metadata.jsonl",
    )
    .requiredOption("--adapter <dir>", "adapter directory")
    .option("--encoder <id|dir>", "encoder (default: the one the adapter card records)")
    .option("--dtype <dtype>", "ONNX weight variant of the encoder", "fp32")
    .option("--llm <gguf|id|hf:uri>", "the gemma3 GGUF (default: the one the adapter card records)")
    .option(
      "--split <rows>",
      "all rows, or the val / train side of the seeded split `train` made on this --data (its card's val fraction and seed)",
      "all",
    )
    .option("--limit <n>", "answer only the first n rows (the loss uses all)", int("--limit", 1))
    .option("--max-tokens <n>", "most tokens per answer", int("--max-tokens", 1), 32)
    .option("--on-bad-row <policy>", "skip or fail", "skip")
    .option(
      "--allow-outside-paths",
      "accept dataset image paths outside the dataset's folder (../, absolute paths, symlinks leading out)",
    )
    .option("--threads <n>", "onnxruntime threads (default: physical cores)", int("--threads", 1, 1024))
    .option("--json", "print {examples, loss, accuracy, answered, answers} as JSON")
    .action(async (args: EvalArgs) => {
      if (args.onBadRow !== "skip" && args.onBadRow !== "fail") {
        throw new InvalidArgumentError(`--on-bad-row "${args.onBadRow}"; expected "skip" or "fail"`);
      }
      if (!["all", "val", "train"].includes(args.split)) {
        throw new InvalidArgumentError(`--split "${args.split}"; expected "all", "val" or "train"`);
      }
      const { card, encoder: dir, dtype, llm } = await adapterParts(args);
      const bar = progressBar("answering", { json: args.json });
      try {
        const result = await evaluateAdapter({
          data: args.data,
          adapter: args.adapter,
          encoder: dir,
          encoderDtype: dtype,
          llm,
          split: splitOf(card, args.split),
          limit: args.limit,
          maxTokens: args.maxTokens,
          onBadRow: args.onBadRow,
          allowOutsidePaths: args.allowOutsidePaths ?? false,
          threads: args.threads,
          onProgress: (done, total) => bar.update(done, total),
          onReport: (m) => process.stderr.write(`${m}\n`),
        });
        bar.stop();
        if (args.json) return printJson(result);
        printLine(`examples  ${result.examples}`);
        printLine(`loss      ${result.loss.toFixed(4)}`);
        printLine(`accuracy  ${(100 * result.accuracy).toFixed(1)}% (${result.answered} answered)`);
      } finally {
        bar.stop();
      }
    });
}

/** The split `train` made, from the card: the same val fraction and seed give the same rows. */
function splitOf(card: AdapterCard, split: string): EvaluateOptions["split"] {
  if (split === "all") return undefined;
  const t = card.training;
  if (t?.val_file !== undefined) {
    throw new InvalidArgumentError(
      `--split ${split}: this adapter was validated on a separate file (${t.val_file}), not a split; evaluate that file with --split all`,
    );
  }
  if (t?.val_fraction === undefined || t.seed === undefined) {
    throw new InvalidArgumentError(
      `--split ${split}: the adapter card does not record its training split (val fraction and seed); use --split all`,
    );
  }
  return { side: split as "train" | "val", valFraction: t.val_fraction, seed: t.seed };
}
