import { Command } from "commander";
import { vlmkitVersion } from "../adapter/index.js";
import { isVlmkitError } from "../errors.js";
import * as commands from "./commands/index.js";
import { closestFlag } from "./parse.js";

export function buildProgram(): Command {
  const program = new Command("vlmkit")
    .description(
      "Vision-language models from SigLIP / SigLIP 2 encoders, a linear adapter and a Gemma-style LLM",
    )
    .version(vlmkitVersion().replace(/^vlmkit /, ""), "-V, --version", "print the version")
    .showHelpAfterError()
    .exitOverride();
  for (const register of Object.values(commands)) register(program);
  return program;
}

/**
 * Commander checks required options before unknown ones, so `--label` for `--labels` reads as "required
 * option not specified" without the hint an unknown option gets: add it.
 */
function suggestForMissing(program: Command, argv: string[]): void {
  const args = argv.slice(2);
  const command = program.commands.find((c) => args.includes(c.name()));
  if (!command) return;
  const known = [...command.options, ...program.options].flatMap((o) => [o.long, o.short]).filter(Boolean);
  for (const arg of args) {
    const flag = arg.split("=")[0];
    if (!flag.startsWith("--") || known.includes(flag)) continue;
    const guess = closestFlag(flag, known as string[]);
    process.stderr.write(`error: unknown option '${flag}'${guess ? `\n(Did you mean ${guess}?)` : ""}\n`);
    return;
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    // commander signals --help/--version and usage errors through exceptions with exitCode.
    if (error && typeof error === "object" && "exitCode" in error && "code" in error) {
      const code = String((error as { code: string }).code);
      if (code.startsWith("commander.")) {
        if (code === "commander.missingMandatoryOptionValue") suggestForMissing(program, argv);
        process.exitCode = (error as { exitCode: number }).exitCode;
        return;
      }
    }
    if (isVlmkitError(error)) {
      process.stderr.write(`vlmkit: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}
