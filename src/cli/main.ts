import { Command } from "commander";
import { vlmkitVersion } from "../adapter/index.js";
import { isVlmkitError } from "../errors.js";
import * as commands from "./commands/index.js";

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

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    // commander signals --help/--version and usage errors through exceptions with exitCode.
    if (error && typeof error === "object" && "exitCode" in error && "code" in error) {
      const code = String((error as { code: string }).code);
      if (code.startsWith("commander.")) {
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
