import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import {
  type CompareConfig,
  type CompareEvent,
  type CompareOptions,
  readCompareConfig,
  resultTable,
  runComparison,
  TASKS,
  type TaskName,
  VLM_DEFAULTS,
} from "../../compare/index.js";
import { InvalidArgumentError } from "../../errors.js";
import { llmPath } from "../llm-arg.js";
import { printJson, printLine, progressBar } from "../output.js";
import { int, num } from "../parse.js";

interface CompareArgs {
  config?: string;
  encoders?: string[];
  data?: string;
  task: string[];
  out?: string;
  json?: boolean;
  seed: number;
  templates?: string;
  classnames?: string;
  testFraction?: number;
  llm?: string;
  question: string;
  epochs: number;
  threads?: number;
}

/** Repeatable option: each use adds its comma-separated items. */
const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean),
];

/** Templates file: one template per line (blank lines and `#` comments skipped), or a JSON array of strings. */
function readTemplates(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new InvalidArgumentError(`--templates ${file} cannot be read: ${(cause as Error).message}`);
  }
  const list = text.trimStart().startsWith("[")
    ? (JSON.parse(text) as unknown[])
    : text.split(/\r?\n/).filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"));
  if (list.length === 0 || list.some((t) => typeof t !== "string")) {
    throw new InvalidArgumentError(
      `--templates ${file}: expected one template per line (or a JSON array of strings)`,
    );
  }
  return list as string[];
}

export function register(program: Command): void {
  program
    .command("compare")
    .description(
      "compare vision encoders on the same images: zero-shot, retrieval, linear probe, k-NN, inside a VLM, speed",
    )
    .option("--config <file>", "read the settings from a compare.json (options given here override it)")
    .option(
      "--encoders <list>",
      "encoders, comma-separated or repeated: [name=]<id|org/repo|dir>[@dtype][:maxPatches]",
      collect,
    )
    .option(
      "--data <dir|file>",
      "a labelled imagefolder (<dir>/<class>/*.jpg), or image–text rows (.jsonl, LLaVA .json, metadata.jsonl folder)",
    )
    .option(
      `--task <task>`,
      `task to run, comma-separated or repeated: ${TASKS.join(", ")} or all (default all)`,
      collect,
      [],
    )
    .option("--out <dir>", "write results.json, results.csv and report.html here")
    .option("--seed <n>", "seed of splits, bootstrap and the vlm recipe", int("--seed", 0, 2 ** 32 - 1), 0)
    .option("--templates <file>", "zero-shot prompt templates, one per line with {} for the class name")
    .option(
      "--classnames <file>",
      "class names for zero-shot: one per line in sorted folder order, or JSON {folder: name}",
    )
    .option(
      "--test-fraction <f>",
      "share of an unsplit imagefolder held out for testing",
      num("--test-fraction", 0.01, 0.99),
    )
    .option("--llm <gguf>", "gemma3 GGUF for the vlm task (the adapters feed it, frozen)")
    .option(
      "--question <text>",
      "vlm: the question asked about imagefolder images (the answer is the class name)",
      VLM_DEFAULTS.question,
    )
    .option("--epochs <n>", "vlm: training passes per adapter", int("--epochs", 1, 1000), VLM_DEFAULTS.epochs)
    .option("--threads <n>", "onnxruntime threads (default: physical cores)", int("--threads", 1, 1024))
    .option("--json", "print {encoders, results, pairs} as JSON")
    .action(async (args: CompareArgs, command: Command) => {
      for (const t of args.task) {
        if (t !== "all" && !(TASKS as readonly string[]).includes(t)) {
          throw new InvalidArgumentError(`--task "${t}"; expected one of ${TASKS.join(", ")} or all`);
        }
      }
      const config: CompareConfig = args.config ? readCompareConfig(args.config) : {};
      const given = (name: string) => command.getOptionValueSource(name) === "cli";
      const encoders = args.encoders ?? config.encoders;
      const data = args.data ?? config.data;
      if (!encoders) throw new InvalidArgumentError("no encoders: give --encoders (or encoders in --config)");
      if (!data) throw new InvalidArgumentError("no data: give --data (or data in --config)");
      const llm = args.llm ? await llmPath(args.llm, { json: args.json }) : config.vlm?.llm;
      const vlm: CompareOptions["vlm"] = llm
        ? {
            ...config.vlm,
            llm,
            question: given("question") || !config.vlm?.question ? args.question : config.vlm.question,
            epochs: given("epochs") || !config.vlm?.epochs ? args.epochs : config.vlm.epochs,
          }
        : undefined;
      const out = args.out ?? config.out;
      let bar: ReturnType<typeof progressBar> | undefined;
      let barLabel = "";
      const show = (label: string, done: number, total: number, unit?: "bytes") => {
        if (label !== barLabel) {
          bar?.stop();
          bar = progressBar(label, { json: args.json, unit });
          barLabel = label;
        }
        bar?.update(done, total);
      };
      const say = (text: string) => {
        if (!args.json) {
          bar?.stop();
          barLabel = "";
          process.stderr.write(`${text}\n`);
        }
      };
      const onEvent = (e: CompareEvent) => {
        if (e.kind === "download") show(`downloading ${e.encoder}`, e.done, e.total, "bytes");
        else if (e.kind === "features") show(`${e.encoder}: features`, e.done, e.total);
        else if (e.kind === "answers") show(`${e.encoder}: vlm answers`, e.done, e.total);
        else if (e.kind === "train" && e.event.kind === "step")
          show(`${e.encoder}: vlm training`, e.event.step, e.event.totalSteps);
        else if (e.kind === "features-ready") {
          say(
            `${e.encoder}: ${e.images} images, ${e.encoded} encoded, ${e.images - e.encoded} from the feature cache`,
          );
        } else if (e.kind === "note") say(e.message);
      };
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort());
      try {
        const details = await runComparison({
          ...config,
          encoders,
          data,
          tasks: args.task.length > 0 ? (args.task as (TaskName | "all")[]) : (config.tasks ?? ["all"]),
          out,
          seed: given("seed") || config.seed === undefined ? args.seed : config.seed,
          templates: args.templates ? readTemplates(args.templates) : config.templates,
          classNamesFile: args.classnames ?? config.classNamesFile,
          testFraction: args.testFraction ?? config.testFraction,
          vlm,
          threads: args.threads,
          onEvent,
          signal: controller.signal,
        });
        bar?.stop();
        if (args.json) return printJson(details.result);
        printLine(resultTable(details.result));
        if (out) printLine(`\nwrote ${path.join(out, "results.json")}, results.csv and report.html`);
      } finally {
        bar?.stop();
      }
    });
}
