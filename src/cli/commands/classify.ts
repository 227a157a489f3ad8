import type { Command } from "commander";
import { DEFAULT_TEMPLATE, Siglip } from "../../encoders/index.js";
import { InvalidArgumentError } from "../../errors.js";
import { addEncoderOptions, type EncoderArgs, encoderDir } from "../encoder-arg.js";
import { printJson, printLine, progressBar } from "../output.js";
import { int } from "../parse.js";

interface ClassifyArgs extends EncoderArgs {
  labels: string;
  template: string;
  top?: number;
}

export function register(program: Command): void {
  addEncoderOptions(
    program
      .command("classify")
      .description("zero-shot classification: sigmoid score of each label for each image")
      .argument("<images...>", "image files (or data: URLs)")
      .requiredOption("--labels <list>", 'comma-separated labels, e.g. "cat,dog,car"')
      .option("--template <text>", 'prompt template, "{}" is the label', DEFAULT_TEMPLATE)
      .option("--top <k>", "print only the k best labels per image", int("--top", 1))
      .option("--json", "print JSON: [{path, results: [{label, score}]}]"),
  ).action(async (images: string[], args: ClassifyArgs) => {
    const labels = args.labels
      .split(",")
      .map((l) => l.trim())
      .filter(Boolean);
    if (labels.length === 0) throw new InvalidArgumentError(`--labels "${args.labels}" holds no label`);
    const { dir, dtype } = await encoderDir(args);
    const model = await Siglip.load(dir, { dtype, threads: args.threads });
    const bar = progressBar("classifying", { json: args.json });
    try {
      const results = await model.classify(images, labels, {
        template: args.template,
        onProgress: (done, total) => bar.update(done, total),
      });
      bar.stop();
      const rows = images.map((path, i) => ({
        path,
        results: results[i].slice(0, args.top ?? labels.length),
      }));
      if (args.json) return printJson(rows);
      for (const row of rows) {
        printLine(row.path);
        for (const r of row.results) printLine(`  ${r.score.toFixed(4)}  ${r.label}`);
      }
    } finally {
      bar.stop();
      await model.dispose();
    }
  });
}
