import path from "node:path";
import type { Command } from "commander";
import { writeTinyDemo } from "../../tiny/demo.js";
import { printJson, printLine } from "../output.js";
import { int } from "../parse.js";

export function register(program: Command): void {
  program
    .command("tiny")
    .description("write tiny random-weight models of the real formats, to try every command offline")
    .argument("<dir>", "output directory")
    .option("--seed <n>", "weight seed", int("--seed", 0, 2 ** 32 - 1), 0)
    .option("--json", "print what was written as JSON")
    .action(async (dir: string, args: { seed: number; json?: boolean }) => {
      const written = await writeTinyDemo(path.resolve(dir), { seed: args.seed });
      if (args.json) return printJson(written);
      printLine(`wrote tiny models to ${written.dir}:`);
      for (const [name, where] of Object.entries(written.parts)) printLine(`  ${name.padEnd(16)} ${where}`);
    });
}
