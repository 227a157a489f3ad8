import path from "node:path";
import type { Command } from "commander";
import { type ShapeTask, writeShapesDataset } from "../../train/data/synthetic.js";
import { printJson, printLine } from "../output.js";
import { int, repeatable } from "../parse.js";

export function register(program: Command): void {
  program
    .command("shapes")
    .description(
      "write the synthetic coloured-shapes dataset (images + data.jsonl) to try `vlmkit train` offline",
    )
    .argument("<dir>", "output directory")
    .option("--count <n>", "images to draw", int("--count", 1, 100_000), 200)
    .option("--size <px>", "image side in pixels", int("--size", 8, 4096), 32)
    .option("--seed <n>", "seed of every random choice", int("--seed", 0, 2 ** 32 - 1), 0)
    .option(
      "--task <task>",
      "rows per image, repeatable: color (question), shape (question), caption (default: color)",
      repeatable("--task", ["color", "shape", "caption"]),
    )
    .option("--json", "print what was written as JSON")
    .action(
      async (
        dir: string,
        args: { count: number; size: number; seed: number; task?: ShapeTask[]; json?: boolean },
      ) => {
        const tasks = args.task ?? ["color"];
        const data = await writeShapesDataset(path.resolve(dir), {
          count: args.count,
          size: args.size,
          seed: args.seed,
          tasks,
        });
        if (args.json) return printJson({ file: data.file, images: args.count, tasks });
        printLine(`wrote ${args.count} images and ${data.file}`);
      },
    );
}
