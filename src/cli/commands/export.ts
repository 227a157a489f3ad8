import path from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError } from "../../errors.js";
import { EXPORTABLE_KINDS, exportMmproj } from "../../interop/index.js";
import { printJson, printLine } from "../output.js";

export function register(program: Command): void {
  const group = program.command("export").description("write vlmkit models in other tools' formats");
  group
    .command("mmproj")
    .description(`write an encoder + adapter as a llama.cpp mmproj GGUF (kinds ${EXPORTABLE_KINDS})`)
    .requiredOption("--encoder <dir>", "the encoder directory the adapter was trained on")
    .requiredOption("--adapter <dir>", "the adapter directory")
    .requiredOption("--out <file.gguf>", "the mmproj file to write")
    .option("--type <type>", "encoding of the weight matrices: f32 (exact) or f16", "f32")
    .option("--json", "print what was written as JSON")
    .action(async (args: { encoder: string; adapter: string; out: string; type: string; json?: boolean }) => {
      if (args.type !== "f32" && args.type !== "f16") {
        throw new InvalidArgumentError(`--type "${args.type}"; expected f32 or f16`);
      }
      const result = await exportMmproj({
        encoder: path.resolve(args.encoder),
        adapter: path.resolve(args.adapter),
        out: args.out,
        type: args.type,
      });
      if (args.json) return printJson(result);
      printLine(
        `wrote ${result.file} (${result.projector} projector, ${result.tokens} image tokens, ${(result.bytes / 2 ** 20).toFixed(1)} MiB)`,
      );
      printLine(`run it: llama-server -m <llm.gguf> --mmproj ${result.file}`);
    });
}
