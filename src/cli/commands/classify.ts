import type { Command } from "commander";
import { DEFAULT_TEMPLATE, Siglip } from "../../encoders/index.js";
import { InvalidArgumentError } from "../../errors.js";
import { addEncoderOptions, type EncoderArgs, encoderDir } from "../encoder-arg.js";
import { expandImageArgs, readLines } from "../image-args.js";
import { printJson, printLine, progressBar } from "../output.js";
import { int } from "../parse.js";

interface ClassifyArgs extends EncoderArgs {
  labels?: string;
  labelsFile?: string;
  template: string;
  top?: number;
}

export function register(program: Command): void {
  addEncoderOptions(
    program
      .command("classify")
      .description("zero-shot classification: sigmoid score of each label for each image")
      .argument("<images...>", "image files, directories of images (sorted by name), or data: URLs")
      .option("--labels <list>", 'comma-separated labels, e.g. "cat,dog,car"')
      .option("--labels-file <file>", "one label per line (labels may then contain commas)")
      .option("--template <text>", 'prompt template, "{}" is the label', DEFAULT_TEMPLATE)
      .option("--top <k>", "print only the k best labels per image", int("--top", 1))
      .option("--json", "print JSON: [{path, results: [{label, score}]}]"),
  ).action(async (imageArgs: string[], args: ClassifyArgs) => {
    const labels = readLabels(args);
    const images = expandImageArgs(imageArgs);
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
        for (const r of row.results) printLine(`  ${scoreText(r.score)}  ${r.label}`);
      }
    } finally {
      bar.stop();
      await model.dispose();
    }
  });
}

/** `--labels a,b` or `--labels-file f` (exactly one). */
function readLabels(args: ClassifyArgs): string[] {
  if (args.labels !== undefined && args.labelsFile !== undefined) {
    throw new InvalidArgumentError("give --labels or --labels-file, not both");
  }
  if (args.labelsFile !== undefined) return readLines(args.labelsFile, "--labels-file").map((l) => l.trim());
  if (args.labels === undefined) {
    throw new InvalidArgumentError(
      'classify needs --labels "a,b,c" or --labels-file <file> (one label per line)',
    );
  }
  const labels = args.labels
    .split(",")
    .map((l) => l.trim())
    .filter(Boolean);
  if (labels.length === 0) throw new InvalidArgumentError(`--labels "${args.labels}" holds no label`);
  return labels;
}

/**
 * A sigmoid score to 4 significant digits with its logit, so that small scores (an untrained or
 * random-weight model gives 1e-5) still differ visibly: `1.289e-5  logit -11.26`, `0.9312  logit 2.61`.
 */
export function scoreText(score: number): string {
  const logit = Math.log(score) - Math.log1p(-score);
  const shown = score >= 0.001 ? score.toFixed(4) : score.toExponential(3);
  return `${shown.padEnd(9)} logit ${logit.toFixed(2).padStart(6)}`;
}
