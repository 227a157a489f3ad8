import type { Command } from "commander";
import { readAdapterCard } from "../../adapter/index.js";
import { InvalidArgumentError } from "../../errors.js";
import { evaluateAdapter } from "../../train/loop/evaluate.js";
import { encoderRefFromCard, llmEntryFromCard } from "../card-refs.js";
import { encoderDir } from "../encoder-arg.js";
import { llmPath, registryLlmPath } from "../llm-arg.js";
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
    .option(
      "--encoder <id|dir>",
      "encoder (default: the adapter card's encoder id when it is a known id or org/repo; never read as a path or URL)",
    )
    .option("--dtype <dtype>", "ONNX weight variant of the encoder", "fp32")
    .option(
      "--llm <gguf|id|hf:uri>",
      "the gemma3 GGUF (default: the adapter card's LLM name when it is a known LLM id; never read as a path or URL)",
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
      const card = await readAdapterCard(args.adapter);
      // The card's names are resolved through the registry / hub only, never as paths or URLs.
      const { dir, dtype } = await encoderDir({
        encoder: args.encoder ?? encoderRefFromCard(card, args.adapter),
        hubOnly: args.encoder === undefined,
        dtype: args.dtype,
        json: args.json,
      });
      const llm =
        args.llm !== undefined
          ? await llmPath(args.llm, { json: args.json })
          : await registryLlmPath(llmEntryFromCard(card, args.adapter), { json: args.json });
      const bar = progressBar("answering", { json: args.json });
      try {
        const result = await evaluateAdapter({
          data: args.data,
          adapter: args.adapter,
          encoder: dir,
          encoderDtype: dtype,
          llm,
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
